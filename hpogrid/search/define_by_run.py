"""Define-by-run searches: the driver's half of ``def objective(trial): trial.suggest_float(...)``.

A define-by-run model (optuna's style, used by o2tuner and echo-opt) declares its parameters
while it runs, in a worker process far from the searcher. The two halves meet like this:

1. the driver (:class:`DefineByRunSearcher`) pre-suggests a value for every parameter
   distribution seen so far (optuna's ``study.ask(fixed_distributions)``) and sends them as
   the trial's values;
2. the trial object in the worker (:class:`hpogrid.objective.DefineByRunTrial`) returns the
   pre-suggested value when the name and the distribution asked for match, and otherwise
   samples one from a seeded generator (a parameter seen for the first time, or one whose
   range the model changed);
3. the worker reports the parameters it actually used, with their distributions; the study
   records those, and the driver tells optuna only those (``optuna.trial.create_trial``) and
   pre-suggests any new distribution from then on.

So the searcher is never told a value the model did not use. Random search is the same
with optuna's ``RandomSampler``. Distributions travel as small JSON dicts
(:func:`distribution_to_json`); the worker samples them without optuna
(:func:`sample`).
"""
from __future__ import annotations

import hashlib
import math
from typing import Any, Dict, Optional

from hpogrid.errors import ValidationError
from hpogrid.search._core import NothingToLearn, SearchCore

#: algorithms a define-by-run model runs with ('auto' and 'tune' mean the first and random)
ALGORITHMS = ("optuna", "random")
#: key of a suggestion carrying the trial's seed (for parameters the driver did not pre-suggest)
SEED_KEY = "__hpogrid_trial_seed__"
#: Ray Tune only: key of a suggestion carrying the pre-suggested distributions (JSON text), and
#: key of a trial's result carrying what it used ({"params": ..., "distributions": ...}, JSON text)
DISTRIBUTIONS_KEY = "__hpogrid_distributions__"
USED_KEY = "__hpogrid_used__"
#: annotation of a define-by-run trial in the study: the distributions its parameters were
#: drawn from (a resumed or warm-started search, and a central grid search, read them back)
DISTRIBUTIONS_ANNOTATION = "distributions"
_RESERVED = (SEED_KEY, DISTRIBUTIONS_KEY)


# -- distributions as JSON -------------------------------------------------------------------
def float_distribution(low: float, high: float, log: bool = False, step: Optional[float] = None) -> Dict[str, Any]:
    return {"type": "float", "low": float(low), "high": float(high), "log": bool(log),
            "step": None if step is None else float(step)}


def int_distribution(low: int, high: int, log: bool = False, step: int = 1) -> Dict[str, Any]:
    return {"type": "int", "low": int(low), "high": int(high), "log": bool(log), "step": int(step)}


def categorical_distribution(choices) -> Dict[str, Any]:
    return {"type": "categorical", "choices": list(choices)}


def check_distribution(name: str, dist: Dict[str, Any]) -> None:
    """optuna's rules for a distribution, as one line naming the parameter."""
    field = f"trial.suggest({name!r})"
    if dist["type"] == "categorical":
        if not dist["choices"]:
            raise ValidationError(field, "choices must not be empty")
        for c in dist["choices"]:
            if not (c is None or isinstance(c, (bool, int, float, str))):
                raise ValidationError(field, f"choices must be None, bool, int, float or str (got {type(c).__name__})")
        return
    low, high, step = dist["low"], dist["high"], dist["step"]
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ValidationError(field, f"needs low <= high (got low={low}, high={high})")
    if dist["log"] and low <= 0:
        raise ValidationError(field, f"log=True needs low > 0 (got low={low})")
    if dist["log"] and step not in (None, 1):
        raise ValidationError(field, "step and log=True cannot be used together")
    if step is not None and step <= 0:
        raise ValidationError(field, f"step must be > 0 (got {step})")


def contains(dist: Dict[str, Any], value: Any) -> bool:
    """Could ``dist`` have given ``value``?"""
    if dist["type"] == "categorical":
        return any(value == c and type(value) is type(c) for c in dist["choices"])
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if dist["type"] == "int" and not float(value).is_integer():
        return False
    if not dist["low"] <= value <= dist["high"]:
        return False
    step = dist["step"]
    if step is not None and not dist["log"]:
        k = (value - dist["low"]) / step
        return abs(k - round(k)) < 1e-8
    return True


def sample(dist: Dict[str, Any], rng) -> Any:
    """One value of ``dist`` from numpy Generator ``rng`` (optuna's RandomSampler semantics)."""
    if dist["type"] == "categorical":
        return dist["choices"][int(rng.integers(len(dist["choices"])))]
    low, high, step, log = dist["low"], dist["high"], dist["step"], dist["log"]
    if dist["type"] == "int":
        if log:
            value = int(round(math.exp(rng.uniform(math.log(low - 0.5), math.log(high + 0.5)))))
            return min(max(value, low), high)
        return int(low + step * int(rng.integers((high - low) // step + 1)))
    if log:
        return float(min(max(math.exp(rng.uniform(math.log(low), math.log(high))), low), high))
    if step is not None:
        n = int(math.floor((high - low) / step + 1e-9))
        return float(round(low + step * int(rng.integers(n + 1)), 12))
    return float(rng.uniform(low, high))


def trial_seed(uid: str, seed: Optional[int] = None) -> int:
    """A trial's own seed for the parameters it samples itself: from the run's seed and the
    suggestion (driver side), or from its uid (a re-run or an enqueued point)."""
    text = f"{seed}" if seed is not None else uid
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def to_optuna(dist: Dict[str, Any]):
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if dist["type"] == "categorical":
        return CategoricalDistribution(dist["choices"])
    if dist["type"] == "int":
        return IntDistribution(dist["low"], dist["high"], log=dist["log"], step=dist["step"])
    return FloatDistribution(dist["low"], dist["high"], log=dist["log"], step=dist["step"])


# -- the driver's searcher -------------------------------------------------------------------
class DefineByRunCodec:
    """What the engine needs of a codec for a define-by-run search: values are the params as
    the model saw them (nothing to encode), one "grid point", and the searcher's table of
    distributions for the trial spec."""

    define_by_run = True
    grid_size = 1
    space: Dict[str, Any] = {}

    def __init__(self, searcher: "DefineByRunSearcher"):
        self.searcher = searcher

    @property
    def encodings(self) -> Dict[str, Any]:
        return dict(self.searcher.distributions)

    @property
    def distributions(self) -> Dict[str, Dict[str, Any]]:
        return dict(self.searcher.distributions)

    def decode(self, config: Dict[str, Any]) -> Dict[str, Any]:
        from hpogrid.search._codec import RERUN_KEY

        if RERUN_KEY in config:
            return dict(config[RERUN_KEY]["values"])
        return {k: v for k, v in config.items() if k not in _RESERVED}

    def encode(self, values: Dict[str, Any]) -> Dict[str, Any]:
        return dict(values)

    def param_space(self) -> Dict[str, Any]:
        return {}

    def trial_uid(self, config: Dict[str, Any], trial_id: str) -> str:
        from hpogrid.search._codec import RERUN_KEY

        return config[RERUN_KEY]["uid"] if RERUN_KEY in config else trial_id


class DefineByRunSearcher(SearchCore):
    """An optuna study in memory, asked with the distributions seen so far and told only what
    each trial used (the searcher protocol of :class:`hpogrid.search.AskTell`)."""

    #: the model's own parameters are whatever it used: nothing is inactive
    conditional_native = True

    def __init__(self, algorithm: str, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any]):
        import numpy as np
        import optuna

        from hpogrid.search import get_adapter

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.metric = metric
        if algorithm == "random":
            sampler = optuna.samplers.RandomSampler(seed=seed)
        else:
            sampler = get_adapter("optuna").sampler(seed, dict(params))
        self.learns = algorithm != "random"
        self.study = optuna.create_study(direction="minimize" if mode == "min" else "maximize", sampler=sampler)
        #: name -> JSON distribution, in the order first seen (the latest one the model asked)
        self.distributions: Dict[str, Dict[str, Any]] = {}
        #: name -> the distribution first seen: optuna keeps a name to one kind (and one set of
        #: choices); a name the model asked in an incompatible way is left to the trials to sample
        self._first: Dict[str, Dict[str, Any]] = {}
        self._conflicts: set = set()
        self._asked: Dict[str, Any] = {}
        self._used: Dict[str, Any] = {}
        self._seeds = np.random.default_rng(seed)

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True

    def suggest(self, trial_id: str) -> Dict[str, Any]:
        fixed = {n: to_optuna(d) for n, d in self.distributions.items()}
        trial = self.study.ask(fixed)
        self._asked[trial_id] = trial
        return {**trial.params, SEED_KEY: int(self._seeds.integers(2 ** 62))}

    def observe(self, trial_id: str, params: Dict[str, Any], distributions: Dict[str, Dict[str, Any]]) -> None:
        """What trial ``trial_id`` actually used (before :meth:`on_trial_complete`): its new
        distributions are pre-suggested from now on; a distribution the model changed replaces
        the old one."""
        self._learn(distributions or {})
        if trial_id in self._asked:  # (a re-run or an enqueued point is told as an evaluated point)
            self._used[trial_id] = ({n: params[n] for n in distributions if n in params}, dict(distributions or {}))

    def _learn(self, distributions: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
        """Take in the distributions a trial asked for; returns those optuna can be told."""
        from optuna.distributions import check_distribution_compatibility

        usable = {}
        for name, dist in distributions.items():
            if name in self._conflicts:
                continue
            first = self._first.setdefault(name, dist)
            try:
                check_distribution_compatibility(to_optuna(first), to_optuna(dist))
            except ValueError:  # e.g. a float parameter asked as a categorical later
                self._conflicts.add(name)
                self.distributions.pop(name, None)
                continue
            self.distributions[name] = dist
            usable[name] = dist
        return usable

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        import optuna

        asked = self._asked.pop(trial_id, None)
        used = self._used.pop(trial_id, None)
        if asked is not None:  # the pre-suggestion itself is not a result: never told as one
            self.study.tell(asked, state=optuna.trial.TrialState.FAIL)
        if error or not result or result.get(self.metric) is None or used is None:
            return
        try:
            self.add_evaluated_point(used[0], float(result[self.metric]), distributions=used[1])
        except ValueError:  # nothing it used has a known distribution: nothing to learn
            pass

    def add_evaluated_point(self, config: Dict[str, Any], value: float, distributions=None, **kwargs) -> None:
        """A trial's used params and its result (a warm start or a resumed study's history too:
        their distributions are the ones seen so far, where a value fits one)."""
        import optuna

        if distributions:  # (also a finished trial of another run: pre-suggested from now on)
            dists = self._learn(distributions)
        else:
            dists = {n: self.distributions[n] for n in config if n in self.distributions}
        dists = {n: d for n, d in dists.items() if n in config and contains(d, config[n])}
        if not dists:
            raise NothingToLearn("no known distribution for these parameters")
        params = {n: config[n] for n in dists}
        self.study.add_trial(optuna.trial.create_trial(
            params=params, distributions={n: to_optuna(d) for n, d in dists.items()}, value=float(value)))


def used_from_result(result: Optional[Dict[str, Any]]):
    """(params, distributions) a Ray Tune trial sent back in its result, else None."""
    import json

    text = (result or {}).get(USED_KEY)
    try:
        used = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    if not isinstance(used, dict) or not isinstance(used.get("params"), dict):
        return None
    return used["params"], used.get("distributions") or {}


def tune_searcher(searcher: DefineByRunSearcher, metric: str, mode: str):
    """``searcher`` as a Ray Tune ``Searcher``: suggestions carry the pre-suggested
    distributions, and each trial's result carries what it used (:data:`USED_KEY`)."""
    import json

    from hpogrid.search._ray_searchers import NativeSearcher

    class DefineByRunTuneSearcher(NativeSearcher):
        def set_search_properties(self, metric, mode, config, **spec) -> bool:
            return True  # the search space is the model's own

        def suggest(self, trial_id: str):
            config = self.core.suggest(trial_id)
            dists = searcher.distributions  # (self.core is ``searcher``)
            config[DISTRIBUTIONS_KEY] = json.dumps({n: dists[n] for n in config if n in dists})
            return config

        def add_evaluated_point(  # type: ignore[override]  # (Ray's names: it calls it by keyword)
                self, parameters: Dict[str, Any], value: float, error: bool = False, pruned: bool = False,
                intermediate_values: Any = None, metrics: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
            if metrics is not None:
                kwargs["metrics"] = metrics
            self.core.add_evaluated_point(parameters, value, **kwargs)

        def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
            used = used_from_result(result)
            if used is not None:
                self.core.observe(trial_id, *used)
            self.core.on_trial_complete(trial_id, result, error)

    return DefineByRunTuneSearcher(searcher, metric, mode)


def build(algorithm: str, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any]):
    """(searcher, codec) of a define-by-run search; other algorithms are one line."""
    algorithm = {"auto": "optuna", "tune": "random"}.get(algorithm, algorithm)
    if algorithm not in ALGORITHMS:
        raise ValidationError("hpo_config.algorithm", f"a define-by-run model (def objective(trial)) runs with "
                              f"{' or '.join(ALGORITHMS)} (or auto); got {algorithm!r}")
    if algorithm == "random" and params:
        raise ValidationError("hpo_config.algorithm_param", "random search of a define-by-run model takes no "
                              f"algorithm_param (got {', '.join(params)})")
    searcher = DefineByRunSearcher(algorithm, metric, mode, seed, params)
    return searcher, DefineByRunCodec(searcher), algorithm
