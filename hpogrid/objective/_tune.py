"""The model as a Ray Tune trainable: the same runner as everywhere, reporting to Tune.

Function models, define-by-run models and programs become a function trainable that runs a
:class:`~hpogrid.objective.runner.TrialRunner` with :class:`TuneReporter`: intermediate
results go to ``ray.tune.report`` and the final result is the function's return value (a
trial that ends this way frees its worker ~30 ms sooner than one stopped after a report),
carrying the trial's annotations (on a Ray cluster the driver cannot read the worker's
folder) and, for define-by-run, what the model used (:data:`USED_KEY`, in every result).
A Trainable class is subclassed so ``setup``, ``reset_config`` (``reuse_actors``) and
``self.config`` see the trial's decoded config, and each ``step()`` result passes the
runner's per-iteration path (a STOP decision ends the trial as ``done``). Tune applies the
stop criteria itself, so the specs built here carry none.

Every trial runs with hpogrid's trial folder (``trials_root/<uid>``) as its working
directory, not Tune's trial directory (``RAY_CHDIR_TO_TRIAL_DIR``, under ``log_dir``): Tune
changes directory first (when it sets up the trainable), the runner (a function) or
``setup`` / ``reset_config`` (a Trainable class) then enter the trial folder.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence

from hpogrid.objective.model import Model, ModelKind
from hpogrid.objective.runner import Decision, Reporter, Step, TrialRunner
from hpogrid.objective.trial_spec import TrialSpec

#: result key carrying a trial's annotations from a Ray worker to the driver
ANNOTATIONS_KEY = "__hpogrid_annotations__"


class TuneReporter(Reporter):
    """Results to Ray Tune (``send``: through ``tune.report``; a Trainable's results are the
    return values of its ``step()``, which Tune collects itself)."""

    returns_final = True

    def __init__(self, send: bool = True, carry: bool = False):
        self.send, self.carry = send, carry
        self.runner: Optional[TrialRunner] = None
        self._carrier: Any = None

    def start(self, runner: TrialRunner) -> None:
        self.runner = runner
        if self.carry and self.send:
            from hpogrid.objective._carried import Carrier

            self._carrier = Carrier(runner.spec.folder)

    def report(self, step: Step) -> Decision:
        if self.send:
            metrics = {**step.metrics, **self._used()}
            if self._carrier is not None:  # the checkpoint goes with it (a retry may run elsewhere)
                self._carrier.report(metrics)
            else:
                from ray import tune

                tune.report(metrics)
        return Decision.CONTINUE

    def final(self, runner: TrialRunner, metrics: Dict[str, Any]) -> Dict[str, Any]:
        from hpogrid.trial import read_annotations

        out = {**metrics, **self._used()}
        notes = read_annotations(runner.spec.folder)
        if notes:
            out[ANNOTATIONS_KEY] = json.dumps(notes)
        return out

    def _used(self) -> Dict[str, str]:
        trial = self.runner.trial if self.runner is not None else None
        if trial is None:
            return {}
        from hpogrid.search.define_by_run import USED_KEY

        return {USED_KEY: json.dumps({"params": trial.params, "distributions": trial.distributions})}


def make_trainable(model: Model, codec, metric: str, objectives: Sequence[str], trials_root: str,
                   carry: bool = False) -> Any:
    """A Ray Tune trainable running ``model``; each trial runs in ``trials_root/<uid>``, the
    folder a resumed re-run finds again. ``carry``: trials are retried (hpo_config
    ``max_retries``): a function model's checkpoint travels through Tune's storage path
    (:mod:`hpogrid.objective._carried`), so a retry on another node gets it back."""
    def locate(config: Dict[str, Any], trial_id: Optional[str] = None) -> Dict[str, Any]:
        """The trial's study uid (a re-run keeps its own) and folder."""
        if trial_id is None:
            from ray import tune

            trial_id = tune.get_context().get_trial_id()
        uid = codec.trial_uid(config, trial_id)
        return {"uid": uid, "folder": Path(trials_root) / uid}

    def spec_for(config: Dict[str, Any], trial_id: Optional[str] = None) -> TrialSpec:
        return TrialSpec.build(model, codec, **locate(config, trial_id), latent=dict(config), metric=metric,
                               metrics=objectives)

    if model.kind is ModelKind.TRAINABLE:
        return _wrap_class(model.load(), spec_for, locate)

    def trainable(config):
        spec = spec_for(config)
        if carry:
            from hpogrid.objective._carried import restore

            restore(spec.folder)
        return TrialRunner(spec, TuneReporter(carry=carry)).run()

    trainable.__name__ = trainable.__qualname__ = model.name
    return trainable


def _wrap_class(cls, spec_for: Callable[..., TrialSpec], locate: Callable[..., Dict[str, Any]]):
    # the config is decoded where Ray hands it over (``self.config`` is decoded as well); the
    # trial's id, and so its folder, is known from ``setup`` / ``reset_config`` on
    def enter(trainable) -> None:
        from hpogrid.objective.runner import enter_trial_folder
        from hpogrid.trial import activate

        where = locate(trainable._hpogrid_latent, getattr(trainable, "trial_id", None) or "default")
        spec = replace(trainable._hpogrid_spec, **where)
        runner = trainable._hpogrid_runner = TrialRunner(spec, TuneReporter(send=False))
        activate(runner.spec.uid, runner.spec.folder, scripts=runner.spec.model.scripts_dir)
        # after Tune's own chdir (to its trial dir, in _setup_logdir): the actor's process is
        # this trial's while it runs, and the next setup / reset_config moves it on
        enter_trial_folder(runner.spec.folder, runner.spec.model.scripts_dir)

    class Wrapped(cls):
        def __init__(self, config=None, *args, **kwargs):
            self._hpogrid_latent = config or {}
            self._hpogrid_spec = spec_for(self._hpogrid_latent, "pending")
            super().__init__(dict(self._hpogrid_spec.config), *args, **kwargs)

        def setup(self, config, *args, **kwargs):
            from hpogrid.objective.runner import restore_trainable

            enter(self)
            out = super().setup(config, *args, **kwargs)
            restore_trainable(self, self._hpogrid_runner.spec.folder)  # a retried trial's checkpoint
            return out

        def reset(self, new_config, *args, **kwargs):
            self._hpogrid_latent = new_config
            self._hpogrid_spec = spec_for(new_config, "pending")
            return super().reset(dict(self._hpogrid_spec.config), *args, **kwargs)

        def reset_config(self, new_config):
            enter(self)
            return super().reset_config(new_config)

        def step(self):
            from hpogrid.objective.runner import save_trainable

            result = super().step()
            runner = getattr(self, "_hpogrid_runner", None)
            if runner is not None:
                save_trainable(self, runner.spec.folder)
            if runner is not None and isinstance(result, dict) and runner.report(result, auto=False) is Decision.STOP:
                result = {**result, "done": True}
            return result

    Wrapped.__name__ = cls.__name__
    Wrapped.__qualname__ = cls.__qualname__
    return Wrapped
