"""Trial schedulers: early stopping and population-based training, as small adapters.

``scheduler_param`` holds the scheduler's own keyword arguments, except ``max_concurrent``,
which is not a scheduler setting at all: it limits how many trials run at once and is
applied by the runner (Tune's ``max_concurrent_trials``). Every scheduler counts time in
``training_iteration`` unless ``time_attr`` says otherwise, like the ``stop`` criteria.
"""
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Dict, Optional, Tuple

from hpogrid.errors import ValidationError
from hpogrid.search._base import construct as _construct
from hpogrid.search._codec import Codec

def construct(cls, owner, ours, user):
    return _construct(cls, owner, ours, user, field="hpo_config.scheduler_param")


#: keys of scheduler_param handled by the runner, not passed to the scheduler
RUNNER_KEYS = ("max_concurrent",)


class SchedulerAdapter(ABC):
    name: ClassVar[str]
    summary: ClassVar[str] = ""
    #: True when a trial may restart from another trial's checkpoint (PBT's exploit): Tune must
    #: then keep every trial's checkpoints, not only each trial's last one for its own retries
    shares_checkpoints: ClassVar[bool] = False

    def check(self, algorithm: str) -> None:
        """Raise if this scheduler cannot run with ``algorithm``."""

    def build(self, metric: str, mode: str, params: Dict[str, Any], codec: Codec, objectives: Any = None) -> Any:
        """The Ray Tune scheduler. ``params`` ``metric`` names the objective it compares trials
        by (needed with several objectives; default: the one objective)."""
        from hpogrid.search.names import SCHEDULER_PARAMS, unknown_key

        problem = unknown_key(params, SCHEDULER_PARAMS.get(self.name, RUNNER_KEYS), self.name)
        if problem:
            raise ValidationError(f"hpo_config.scheduler_param.{problem[0]}", problem[1].removeprefix("is "))
        kwargs = {k: v for k, v in params.items() if k not in RUNNER_KEYS and k != "metric"}
        named = params.get("metric")
        if objectives is not None and self.name != "fifo":
            by_metric = {o.metric: o.mode for o in objectives}
            if named is None and objectives.is_multi:
                raise ValidationError("hpo_config.scheduler_param", f"scheduler '{self.name}' stops trials by one "
                                      f"metric: with {len(objectives)} objectives name it, e.g. "
                                      f'{{"metric": "{objectives.metric}"}}, or use scheduler fifo')
            if named is not None and named not in by_metric:
                raise ValidationError("hpo_config.scheduler_param.metric", f"{named!r} is not an objective; "
                                      f"choose one of: {', '.join(by_metric)}")
            if named is not None:
                metric, mode = named, by_metric[named]
        return self.make(metric, mode, kwargs, codec)

    @abstractmethod
    def make(self, metric: str, mode: str, params: Dict[str, Any], codec: Codec) -> Any:
        """Construct the Ray Tune scheduler (None means FIFO)."""


class AsyncHyperBand(SchedulerAdapter):
    name = "asynchyperband"
    summary = "ASHA: stops poorly performing trials early at rungs of training_iteration"

    def make(self, metric, mode, params, codec):
        from ray.tune.schedulers import ASHAScheduler

        return construct(ASHAScheduler, self.name, {"metric": metric, "mode": mode}, params)


class HyperBand(SchedulerAdapter):
    name = "hyperband"
    summary = "synchronous HyperBand: brackets of successive halving, the best 1/reduction_factor go on"

    def make(self, metric, mode, params, codec):
        from ray.tune.schedulers import HyperBandScheduler

        # (checks the parameters; the engine's rule decides: hpogrid.engine.early_stop)
        return construct(HyperBandScheduler, self.name, {"metric": metric, "mode": mode}, params)


class BohbHyperBand(SchedulerAdapter):
    name = "bohbhyperband"
    summary = "HyperBand for BOHB (only with algorithm bohb)"

    def check(self, algorithm: str) -> None:
        if algorithm != "bohb":
            raise ValidationError("hpo_config.scheduler", "'bohbhyperband' works only with algorithm "
                                  f"'bohb' (got '{algorithm}'); use asynchyperband, median, pbt or fifo")

    def make(self, metric, mode, params, codec):
        from ray.tune.schedulers import HyperBandForBOHB

        return construct(HyperBandForBOHB, self.name, {"metric": metric, "mode": mode}, params)


class PopulationBasedTraining(SchedulerAdapter):
    """PBT; mutations are every search-space parameter's own (encoded) domain."""

    name = "pbt"
    summary = "population-based training (mutations from the search space; algorithm random or tune)"
    shares_checkpoints = True

    def check(self, algorithm: str) -> None:
        # PBT explores by mutating running trials: Ray refuses any other searcher next to it
        if algorithm not in ("random", "tune"):
            raise ValidationError("hpo_config.scheduler", "'pbt' explores by itself and works only with "
                                  f"algorithm 'random' or 'tune' (got '{algorithm}')")

    def make(self, metric, mode, params, codec):
        from ray.tune.schedulers import PopulationBasedTraining as PBT

        mutations = {n: d for n, d in codec.param_space().items() if not isinstance(d, dict)}
        ours = {"metric": metric, "mode": mode, "hyperparam_mutations": mutations}
        params.setdefault("time_attr", "training_iteration")
        params.setdefault("perturbation_interval", 1)
        return construct(PBT, self.name, ours, params)


class MedianStopping(SchedulerAdapter):
    name = "median"
    summary = "stop a trial whose result is worse than the median of others at the same step"

    def make(self, metric, mode, params, codec):
        from ray.tune.schedulers import MedianStoppingRule

        params.setdefault("time_attr", "training_iteration")  # Ray's default counts seconds
        return construct(MedianStoppingRule, self.name, {"metric": metric, "mode": mode}, params)


class Fifo(SchedulerAdapter):
    name = "fifo"
    summary = "no early stopping: every trial runs to its stop criterion"

    def make(self, metric, mode, params, codec):
        if params:
            raise ValidationError("hpo_config.scheduler_param", f"scheduler 'fifo' takes no parameters "
                                  f"besides max_concurrent (got: {', '.join(params)})")
        return None


SCHEDULER_ADAPTERS: Tuple[SchedulerAdapter, ...] = (
    AsyncHyperBand(), HyperBand(), BohbHyperBand(), PopulationBasedTraining(), MedianStopping(), Fifo())


def get_scheduler(name: str) -> SchedulerAdapter:
    for s in SCHEDULER_ADAPTERS:
        if s.name == name:
            return s
    raise ValidationError("hpo_config.scheduler", f"{name!r} is not allowed; choose one of: "
                          + ", ".join(s.name for s in SCHEDULER_ADAPTERS))


def scheduler_for(algorithm: str, requested: str) -> Tuple[SchedulerAdapter, Optional[str]]:
    """The scheduler to run and a note when it differs from the one requested.

    BOHB is defined together with its HyperBand variant, so ``bohb`` with the default
    ``asynchyperband`` runs ``bohbhyperband`` (and says so).
    """
    if algorithm == "bohb" and requested == "asynchyperband":
        return BohbHyperBand(), "algorithm 'bohb' runs with scheduler 'bohbhyperband'"
    sched = get_scheduler(requested)
    sched.check(algorithm)
    return sched, None
