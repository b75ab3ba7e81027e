"""Wrap the user's model so it receives decoded hyperparameters merged into ``param``.

A function ``model(config)`` may return a number (the metric), a dict of metrics, or report
per iteration itself with ``ray.tune.report``. A ``ray.tune.Trainable`` subclass is
subclassed so ``setup``, ``reset_config`` and ``self.config`` see decoded values.
Hyperparameters win over ``param`` on conflicts; colon names set nested values, and a
``custom_updates(trial_config, base_config)`` function in the script may derive more.
A program (``model_config.command``) runs once per trial in its own folder. A define-by-run
function ``model(trial[, config])`` gets a trial object over the values the searcher sent and
returns what it used with its result (:data:`hpogrid.search.define_by_run.USED_KEY`).
"""
import json
import math
import numbers
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional

from hpogrid.objective._loader import is_trainable_class, load_model, load_module
from hpogrid.objective._substitute import apply_values
from hpogrid.search import Codec


def trial_config(param: Dict[str, Any], codec: Codec, config: Dict[str, Any],
                 hook: Optional[Callable] = None) -> Dict[str, Any]:
    values = apply_values(param, codec.decode(config))
    if hook is not None:
        values = hook(values, apply_values(param, {}))
        if not isinstance(values, Mapping):
            raise TypeError(f"custom_updates() returned {type(values).__name__}, not a dict")
    return dict(values)


def custom_updates(scripts_dir: str, script: str) -> Optional[Callable]:
    """The script's ``custom_updates(trial_config, base_config)``, if it defines one."""
    hook = getattr(load_module(scripts_dir, script), "custom_updates", None)
    return hook if callable(hook) else None


def as_metrics(result: Any, metric: str, model: str) -> Dict[str, Any]:
    """A model's return value as metrics: a dict as it is, a number as ``{metric: value}``."""
    if isinstance(result, Mapping):
        return dict(result)
    if isinstance(result, numbers.Real) and not isinstance(result, bool):
        return {metric: float(result)}
    raise TypeError(f"{model}() returned {type(result).__name__}; return a number, a dict of "
                    "metrics, or report them with ray.tune.report")


def make_trainable(scripts_dir: str, script: str, model: str, param: Dict[str, Any],
                   codec: Codec, metric: str, trials_root: str) -> Any:
    """A Ray Tune trainable (function or class) running the user's model; each trial is the
    current one of :mod:`hpogrid.trial` in its own folder under ``trials_root``."""
    obj = load_model(scripts_dir, script, model)
    if is_trainable_class(obj):
        return _wrap_class(obj, param, codec, custom_updates(scripts_dir, script), trials_root)
    return _wrap_function(scripts_dir, script, model, param, codec, metric, trials_root)


def trial_folder(trials_root: str, codec: Codec, config: Dict[str, Any], trial_id: Optional[str] = None) -> Path:
    """The trial's own folder, named by its study uid: a resumed re-run finds it again."""
    if trial_id is None:
        from ray import tune

        trial_id = tune.get_context().get_trial_id()
    return Path(trials_root) / codec.trial_uid(config, trial_id)


def _final_metrics(result, metric: str, model: str, notes, extra=None) -> dict:
    """A model's returned result as the trial's final metrics, with the trial's annotations
    (on a Ray cluster the driver cannot read the worker's folder) and ``extra`` keys; NaN for
    the study metric is an error."""
    metrics = as_metrics(result, metric, model)
    metrics.update(extra or {})
    if notes:
        metrics[ANNOTATIONS_KEY] = json.dumps(notes)
    value = metrics.get(metric)
    if isinstance(value, float) and math.isnan(value):
        raise ValueError(f"{model}() returned NaN for metric '{metric}'")
    return metrics


def _wrap_function(scripts_dir, script, model, param, codec, metric, trials_root) -> Callable:
    def trainable(config):
        from hpogrid.trial import activated

        from hpogrid.trial import read_annotations

        folder = trial_folder(trials_root, codec, config)  # checkpoints there survive a resume
        with activated(folder.name, folder):
            fn = load_model(scripts_dir, script, model)
            result = fn(trial_config(param, codec, config, custom_updates(scripts_dir, script)))
        if result is None:
            return None
        # returned, not tune.report()ed: Ray reports it as the final result, and a trial that
        # ends this way frees its worker ~30 ms sooner than one stopped after a report
        return _final_metrics(result, metric, model, read_annotations(folder))

    trainable.__name__ = model
    trainable.__qualname__ = model
    return trainable


#: result key carrying a trial's annotations from a Ray worker to the driver
ANNOTATIONS_KEY = "__hpogrid_annotations__"


def _wrap_class(cls, param, codec, hook, trials_root):
    # decoding where Ray hands the config over keeps ``self.config`` decoded as well
    def enter(trainable, config):
        from hpogrid.trial import activate

        folder = trial_folder(trials_root, codec, config or {}, getattr(trainable, "trial_id", None) or "default")
        activate(folder.name, folder)

    class Wrapped(cls):  # type: ignore[valid-type,misc]  # (the user's Trainable class: known at run time)
        def __init__(self, config=None, *args, **kwargs):
            self._hpogrid_latent = config or {}
            super().__init__(trial_config(param, codec, config or {}, hook), *args, **kwargs)

        def setup(self, config, *args, **kwargs):
            enter(self, self._hpogrid_latent)
            return super().setup(config, *args, **kwargs)

        def reset(self, new_config, *args, **kwargs):
            self._hpogrid_latent = new_config
            decoded = trial_config(param, codec, new_config, hook)
            return super().reset(decoded, *args, **kwargs)

        def reset_config(self, new_config):
            enter(self, self._hpogrid_latent)
            return super().reset_config(new_config)

    Wrapped.__name__ = cls.__name__
    Wrapped.__qualname__ = cls.__qualname__
    return Wrapped


def make_program_trainable(scripts_dir: str, model_config: Dict[str, Any], codec: Codec, metric: Any,
                           trials_root: str) -> Callable:
    """A Ray function trainable running ``model_config.command`` once per trial (``metric``: the
    objective, or the objectives of a multi-objective run)."""
    from hpogrid.objective import program

    argv = program.parse_command(model_config["command"])
    order = list(codec.space)
    program.check_placeholders(argv, order)
    param, prefix, timeout = model_config.get("param") or {}, model_config["result_prefix"], model_config["timeout"]
    scripts = Path(scripts_dir)

    def trainable(config):
        values = codec.decode(config)
        values = {n: values[n] for n in order if n in values}  # (inactive conditional ones are absent)
        trial_dir = trial_folder(trials_root, codec, config)
        trial_dir.mkdir(parents=True, exist_ok=True)
        args = program.build_argv(argv, values, order, trial_dir, scripts)
        env = program.environment(values, trial_dir, scripts)
        env["HPOGRID_CONFIG"] = json.dumps(apply_values(param, values))
        return program.run_program(args, env, trial_dir, timeout, prefix, metric)  # the final result

    trainable.__name__ = Path(argv[0]).name or "program"
    return trainable


def make_define_by_run_trainable(scripts_dir: str, script: str, model: str, param: Dict[str, Any], codec: Codec,
                                 metric: str, trials_root: str) -> Callable:
    """A Ray function trainable running a define-by-run model (see
    :mod:`hpogrid.search.define_by_run`): the values and distributions the searcher sent (or a
    re-run's stored values) become the trial object's; the result carries what it used."""
    from hpogrid.objective._define_by_run import DefineByRunTrial, wants_config
    from hpogrid.search import RERUN_KEY
    from hpogrid.search.define_by_run import DISTRIBUTIONS_KEY, SEED_KEY, USED_KEY, trial_seed

    def trainable(config):
        from ray import tune

        from hpogrid.trial import activated, read_annotations

        folder = trial_folder(trials_root, codec, config)
        rerun = config.get(RERUN_KEY)
        values = dict(rerun["values"]) if isinstance(rerun, dict) else codec.decode(config)
        dists = json.loads(config.get(DISTRIBUTIONS_KEY) or "{}")
        seed = trial_seed(folder.name, None if isinstance(rerun, dict) else config.get(SEED_KEY))

        def used() -> str:
            return json.dumps({"params": trial.params, "distributions": trial.distributions})

        trial = DefineByRunTrial(values, dists, seed, uid=folder.name,
                                 reporter=lambda value: tune.report({metric: value, USED_KEY: used()}))
        with activated(folder.name, folder):
            fn = load_model(scripts_dir, script, model)
            args = (trial, dict(param)) if wants_config(fn) else (trial,)
            result = fn(*args)
        if result is None:
            return None
        return _final_metrics(result, metric, model, read_annotations(folder), {USED_KEY: used()})

    trainable.__name__ = model
    trainable.__qualname__ = model
    return trainable
