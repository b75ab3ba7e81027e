"""The trial object a define-by-run model gets: ``def objective(trial): trial.suggest_float(...)``.

It answers optuna's ``suggest_float``, ``suggest_int`` and ``suggest_categorical`` (with
``log`` and ``step``) in the worker process, far from the searcher (see
:mod:`hpogrid.search.define_by_run` for the whole exchange): a value the driver pre-suggested
is returned when the name and the distribution asked for match it and the value lies in that
distribution; otherwise (a parameter new to the search, a changed range, a re-run whose stored
value no longer fits, an enqueued value outside what the model asks) one is drawn
from the trial's own seeded generator. ``params`` and ``distributions`` are what the model
actually used: the study records those and the searcher is told only those.

A model is define-by-run when its first parameter is named ``trial`` (decided by
:class:`~hpogrid.objective.model.Model`); ``def objective(trial, config)`` also gets
model_config ``param`` as ``config``.
"""
import inspect
from typing import Any, Callable, Dict, Optional, Sequence

from hpogrid.search.define_by_run import (categorical_distribution, check_distribution, contains,
                                          float_distribution, int_distribution, sample)


def wants_config(model: Any) -> bool:
    """``def objective(trial, config)``: the model takes model_config ``param`` too."""
    positional = [p for p in inspect.signature(model).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2


class DefineByRunTrial:
    """optuna's ``Trial`` suggest API over the values the driver sent (see the module docstring)."""

    def __init__(self, values: Dict[str, Any], distributions: Dict[str, Dict[str, Any]], seed: int,
                 uid: str = "", reporter: Optional[Callable[[float], None]] = None,
                 stopped: Optional[Callable[[], bool]] = None):
        import numpy as np

        self._reporter = reporter
        self._stopped = stopped
        self._given = dict(values)
        self._given_dists = dict(distributions)
        self._rng = np.random.default_rng(seed)
        self.uid = uid
        #: what the model used, in the order it asked
        self.params: Dict[str, Any] = {}
        self.distributions: Dict[str, Dict[str, Any]] = {}

    @property
    def number(self) -> str:
        return self.uid

    def _suggest(self, name: str, dist: Dict[str, Any]) -> Any:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a parameter name must be a non-empty string (got {name!r})")
        check_distribution(name, dist)
        if name in self.params:  # asked twice: the same value, as optuna does
            if self.distributions[name] != dist:
                raise ValueError(f"parameter {name!r} was suggested before with another distribution "
                                 f"({self.distributions[name]}); now {dist}")
            return self.params[name]
        given = self._given.get(name, _MISSING)
        given_dist = self._given_dists.get(name)
        # a value is used only where the model could have got it: the distribution it was
        # pre-suggested from (if any) is the one asked now, and the value lies in it (an
        # enqueued or re-run point is checked like any other: never a category the model lacks)
        fits = given is not _MISSING and given_dist in (None, dist) and contains(dist, given)
        value = given if fits else sample(dist, self._rng)
        self.params[name] = value
        self.distributions[name] = dist
        return value

    def suggest_float(self, name: str, low: float, high: Optional[float] = None, *, step: Optional[float] = None,
                      log: bool = False) -> float:
        high = _high("suggest_float", name, low, high)
        return float(self._suggest(name, float_distribution(low, high, log, step)))

    def suggest_int(self, name: str, low: int, high: Optional[int] = None, *, step: int = 1,
                    log: bool = False) -> int:
        high = _high("suggest_int", name, low, high)
        return int(self._suggest(name, int_distribution(low, high, log, step)))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self._suggest(name, categorical_distribution(choices))

    # optuna's older spellings, which o2tuner-era objectives still use
    def suggest_uniform(self, name: str, low: float, high: float) -> float:
        return self.suggest_float(name, low, high)

    def suggest_loguniform(self, name: str, low: float, high: float) -> float:
        return self.suggest_float(name, low, high, log=True)

    def suggest_discrete_uniform(self, name: str, low: float, high: float, q: float) -> float:
        return self.suggest_float(name, low, high, step=q)

    def report(self, value: float, step: Optional[int] = None) -> None:
        """An intermediate value of the study metric, recorded as ``ray.tune.report`` would (by
        the reporter the runner gave; a trial made outside a run records nothing)."""
        if self._reporter is not None:
            self._reporter(value)

    def should_prune(self) -> bool:
        """Was the trial told to stop at its last report (the runner's decision)?"""
        return bool(self._stopped and self._stopped())


_MISSING = object()


def _high(method: str, name: Any, low: Any, high: Any) -> Any:
    """``high``, or the one-line reason a call lacks it: o2tuner's README writes
    ``trial.suggest_float(0, 1)``, which optuna refuses too (the name comes first)."""
    if high is not None:
        return high
    if not isinstance(name, str):
        raise TypeError(f"trial.{method}({name!r}, {low!r}): the parameter's name comes first, as in optuna: "
                        f"trial.{method}(\"x\", {name!r}, {low!r})")
    raise TypeError(f"trial.{method}({name!r}, {low!r}): missing the upper bound (high)")
