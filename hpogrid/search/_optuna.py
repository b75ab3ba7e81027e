"""Optuna driven directly through its ask/tell API, for the backends that are not Ray Tune.

Ray's ``OptunaSearch`` wraps the same API but needs ``ray.tune`` (most of a second to import);
the pool, Slurm and fake backends ask this class instead. The distributions are those Ray's
wrapper builds from the codec's domains, so both see the same space: floats for uniforms (and
for normals, searched as a probability), inclusive integers, and categories as indices.

A space with conditional parameters (``when``) is searched natively: each trial suggests its
parameters one at a time in dependency order through optuna's public ``trial.suggest_*``,
skipping those whose condition does not hold, so optuna (TPE models a dynamic space) is
only ever told the parameters a trial used. Without conditions the whole space is asked at
once (``study.ask(distributions)``), as before.

Several objectives make a multi-objective optuna study (one direction each). Outcome
constraints reach the samplers that learn them (NSGA-II, TPE, GP) as optuna 5 takes them:
each trial gets its constraint values (<= 0: satisfied) with ``Trial.set_constraint`` before
it is told.

The study lives in memory and holds locks, so pickling (Ray Tune pickles its searcher) keeps
the finished trials and the recipe of the sampler, and unpickling rebuilds the study from them.
"""
from typing import Any, Callable, Dict, Optional, Sequence

from hpogrid.search._codec import _EPS, ChoiceByIndex, Codec, IntNative, NormalViaUniform, UniformNative
from hpogrid.search._core import SearchCore


def distributions(codec: Codec) -> Dict[str, Any]:
    from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

    out: Dict[str, BaseDistribution] = {}
    for name, enc in codec.encodings.items():
        if isinstance(enc, UniformNative):
            out[name] = FloatDistribution(enc.latent.low, enc.latent.high)
        elif isinstance(enc, IntNative):
            out[name] = IntDistribution(enc.latent.low, enc.latent.high)
        elif isinstance(enc, ChoiceByIndex):
            out[name] = CategoricalDistribution(list(range(len(enc.latent.categories))))
        elif isinstance(enc, NormalViaUniform):
            out[name] = FloatDistribution(_EPS, 1 - _EPS)
        else:  # pragma: no cover - the optuna adapter's encodings are the four above
            raise TypeError(f"no optuna distribution for {type(enc).__name__}")
    return out


def suggest(trial: Any, name: str, dist: Any) -> Any:
    """``trial.suggest_*`` for one of :func:`distributions`' distributions."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, list(dist.choices))
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high)
    return trial.suggest_float(name, dist.low, dist.high)


#: the system attribute ``Trial.set_constraint(key, value)`` writes (for trials added as finished)
CONSTRAINT_PREFIX = "constraints:"


class OptunaAskTell(SearchCore):
    """The searcher protocol of :class:`hpogrid.search.AskTell` over an optuna study in memory."""

    #: needs no Ray search space (AskTell and resume skip ``set_search_properties``' space)
    #: a conditional space is asked parameter by parameter: optuna is told only active values
    conditional_native = True
    #: told every metric of a trial (several objectives, constraints)
    told_metrics = True

    def __init__(self, codec: Codec, metric: str, mode: str, sampler: Callable[[], Any], objectives: Any = None):
        """``sampler()`` builds the optuna sampler (again, after unpickling)."""
        from hpogrid.objectives import Objectives

        self.objectives = objectives if objectives is not None else Objectives.parse(metric, mode)
        self.metric = metric
        self.codec = codec
        self._sampler = sampler
        self.study = self._new_study()
        self.dists = distributions(codec)
        self._trials: Dict[str, Any] = {}

    def _new_study(self) -> Any:
        import optuna

        from optuna.study import StudyDirection

        directions = [StudyDirection.MINIMIZE if m == "min" else StudyDirection.MAXIMIZE for m in self.objectives.modes]
        return optuna.create_study(directions=directions, sampler=self._sampler())

    def __getstate__(self) -> Dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("study", "_trials")}
        state["finished"] = [t for t in self.study.trials if t.state.is_finished()]
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        finished = state.pop("finished")
        self.__dict__.update(state)
        self._trials = {}  # trials running when it was pickled: their results are not told
        self.study = self._new_study()
        self.study.add_trials(finished)

    def set_search_properties(self, metric: Optional[str], mode: Optional[str], config: Any, **spec) -> bool:
        return True

    def suggest(self, trial_id: str) -> Dict[str, Any]:
        space = self.codec.space
        if not space.conditional:
            trial = self.study.ask(self.dists)
            self._trials[trial_id] = trial
            return dict(trial.params)
        trial = self.study.ask()
        self._trials[trial_id] = trial
        config: Dict[str, Any] = {}
        values: Dict[str, Any] = {}  # decoded values of the active parameters so far
        for name in space.dependency_order:
            if not space.condition_holds(name, values):
                continue
            config[name] = suggest(trial, name, self.dists[name])
            values[name] = space[name].decode(self.codec.encodings[name].to_latent(config[name]))
        return config

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        import optuna

        trial = self._trials.pop(trial_id, None)
        if trial is None:
            return
        values = None if error else self.objectives.values(result)
        if values is None:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return
        for constraint, slack in zip(self.objectives.constraints, self.objectives.slacks(result)):
            trial.set_constraint(str(constraint), slack)
        self.study.tell(trial, self._told(values))

    def _told(self, values: Sequence[float]) -> Any:
        return list(values) if self.objectives.is_multi else values[0]

    def add_evaluated_point(self, config: Dict[str, Any], value: float, metrics: Optional[Dict[str, Any]] = None,
                            **kwargs) -> None:
        """A finished trial of an earlier run (resume, an enqueued point): optuna learns from
        it like its own, told only the parameters active for it (and, given ``metrics``, every
        objective and its constraint values)."""
        import optuna

        values: Optional[Sequence[float]] = self.objectives.values(metrics) if metrics else None
        if values is None:
            if self.objectives.is_multi:
                return  # one number cannot stand for several objectives
            values = [float(value)]
        system: Dict[str, float] = {}
        if metrics:
            system = {f"{CONSTRAINT_PREFIX}{c}": slack
                      for c, slack in zip(self.objectives.constraints, self.objectives.slacks(metrics))}
        active = self.codec.active(config)
        dists = {name: dist for name, dist in self.dists.items() if name in active}
        params = {name: config[name] for name in dists}
        self.study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, values=list(values),
                                                       system_attrs=system))
