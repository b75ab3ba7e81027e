"""hpogrid's own Ray Tune ``Searcher`` classes (with ``_bohb.py``, the only modules of the package
that import ``ray.tune`` at the top): random search, scikit-optimize, HEBO, nevergrad and HyperOpt (a
conditional space) as Ray searchers over the native cores the other backends ask directly,
Ray's BayesOpt searcher with one fix, and the parameter-constraint wrapper of any of them.
"""
import pickle
from typing import Any, Dict, Iterable, List, Optional

from ray.tune.search import Searcher
from ray.tune.search.bayesopt import BayesOptSearch

from hpogrid.search._codec import EVALUATED_KEY, Codec
from hpogrid.search._core import SearchCore
from hpogrid.search._skopt import SkoptAskTell
from hpogrid.search.asktell import RandomSampler


class NativeSearcher(Searcher, SearchCore):  # type: ignore[misc]  # (Ray's metric/mode properties)
    """A :class:`~hpogrid.search._core.SearchCore` (the same object the other backends ask) as a
    Ray Tune searcher: the one bridge from hpogrid's searcher protocol to Ray's ``Searcher``.
    Random search, scikit-optimize (Ray removed its SkOptSearch in 2024), HEBO, nevergrad and
    the constraint wrapper run the same code under Ray Tune as everywhere else.

    It declares what its core declares, but is a Ray searcher: Tune hands it the space
    (``native`` False; the space comes from the codec all the same)."""

    native = False
    #: a conditional space's codec (None otherwise; pickles of earlier versions lack it)
    _codec: Optional[Codec] = None

    def __init__(self, core: SearchCore, metric: Optional[str] = None, mode: Optional[str] = None,
                 codec: Optional[Codec] = None):
        """``codec``: of a conditional space, so the core is told each point as it ran (see
        :meth:`hpogrid.search.AskTell.tell`)."""
        super().__init__(metric=metric, mode=mode)
        self.core = core
        self._codec = codec if codec is not None and codec.space.conditional else None

    # -- what it declares: its core's ----------------------------------------------------------
    @property
    def learns(self) -> bool:  # type: ignore[override]
        return self.core.learns

    @property
    def conditional_native(self) -> bool:  # type: ignore[override]
        """Whether the core models a conditional space itself (HyperOpt's nested choices)."""
        return self.core.conditional_native

    @property
    def told_metrics(self) -> bool:  # type: ignore[override]
        """Whether the core takes every metric of a stored trial (several objectives, constraints)."""
        return self.core.told_metrics

    @property
    def budgeted(self) -> bool:  # type: ignore[override]
        return self.core.budgeted

    @property
    def num_samples(self) -> Optional[int]:
        return self.core.num_samples

    @num_samples.setter
    def num_samples(self, value: Optional[int]) -> None:
        self.core.num_samples = value

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        # the space comes from the codec; Tune's param_space holds the same dimensions
        if metric:
            self._metric = self.core.metric = metric
        if mode:
            self._mode = mode
        return True

    def suggest(self, trial_id: str) -> Optional[Dict[str, Any]]:
        config = self.core.suggest(trial_id)
        if self._codec is not None and isinstance(config, dict):
            # a core that models the conditions (optuna) names only the active parameters: Tune
            # merges a config into its param_space, so the others get their neutral value
            config = self._codec.complete(config)
        return config

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        if self._codec is not None and result and isinstance(result.get("config"), dict):
            proposal = {n: result["config"][n] for n in self._codec.encodings if n in result["config"]}
            if len(proposal) == len(self._codec.encodings):
                result = {**result, EVALUATED_KEY: self._codec.encode(self._codec.decode(proposal))}
        self.core.on_trial_complete(trial_id, result, error)

    def add_evaluated_point(  # type: ignore[override]  # (Ray's names: it calls it by keyword)
            self, parameters: Dict[str, Any], value: float, error: bool = False,
            pruned: bool = False, intermediate_values=None,
            metrics: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        if not (error or pruned):
            extra = {"metrics": metrics} if metrics is not None and self.told_metrics else {}
            self.core.add_evaluated_point(parameters, value, **extra)

    def observe(self, trial_id: str, used: Dict[str, Any], distributions: Dict[str, Any]) -> None:
        self.core.observe(trial_id, used, distributions)

    def take_back(self, trial_id: str) -> None:
        self.core.take_back(trial_id)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as fh:
            pickle.dump(self.core, fh)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as fh:
            self.core = pickle.load(fh)


class SeededSampler(NativeSearcher):
    """:class:`RandomSampler` under Ray Tune: Tune asks it for every trial, so Ray Tune and the
    ask/tell backends draw the same sequence of points for the same seed."""

    def __init__(self, codec: Codec, seed: Optional[int] = None, num_samples: Optional[int] = None,
                 points_to_evaluate: Optional[List[Dict[str, Any]]] = None):
        super().__init__(RandomSampler(codec, seed, num_samples, points_to_evaluate))

    @property
    def grid_size(self) -> int:
        return self.core.grid_size  # type: ignore[attr-defined]

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True  # the space comes from the codec


class SkoptSearcher(NativeSearcher):
    """scikit-optimize under Ray Tune: :class:`SkoptAskTell` (the optimizer's keyword options)."""

    def __init__(self, codec: Codec, metric: Optional[str] = None, mode: Optional[str] = None,
                 random_state: Optional[int] = None, **optimizer_kwargs: Any):
        super().__init__(SkoptAskTell(codec, metric, mode, random_state, **optimizer_kwargs), metric, mode, codec)

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        if mode:
            self.core.mode = mode
        return super().set_search_properties(metric, mode, config, **spec)


class BayesOptSearcher(BayesOptSearch):
    """Ray's ``BayesOptSearch``, with failed random trials replaced instead of waited for.

    Ray's searcher hands out ``random_search_steps`` random points, then proposes nothing until
    that many have *succeeded*: one failed trial among them and it never proposes again (the run
    stops with "the search algorithm proposed no configuration"). Here a failed trial of the
    random phase gives its place back, so another random point is drawn.
    """

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        unusable = error or result is None
        if unusable and trial_id in self._live_trial_mapping \
                and len(self._buffered_trial_results) < self.random_search_trials:
            self._total_random_search_trials -= 1
        super().on_trial_complete(trial_id, result=result, error=error)


class ConstrainedTuneSearcher(NativeSearcher):
    """A :class:`~hpogrid.search._constrained.ConstrainedSearcher` as a Ray Tune ``Searcher``: Tune
    gives it the search properties, asks and tells it; the inner searcher (Ray's or a native core)
    gets them. (``_constrained`` builds it, so it is not imported here: no import cycle.)"""

    def __init__(self, constrained: Any):
        mode = constrained.mode
        super().__init__(constrained, metric=constrained.metric, mode=mode if mode in ("min", "max") else None)

    def __setstate__(self, state: Dict[str, Any]) -> None:
        """Checkpoints of earlier versions name the wrapped searcher ``constrained``."""
        if "constrained" in state:
            state = {**state, "core": state["constrained"]}
            del state["constrained"]
        self.__dict__.update(state)

    @property
    def constrained(self) -> Any:
        return self.core

    @property
    def grid_size(self) -> int:
        return self.core.grid_size  # type: ignore[attr-defined]

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        ok = self.core.set_search_properties(metric, mode, config, **spec)
        if ok:
            if metric:
                self._metric = metric
            if mode:
                self._mode = mode
        return ok

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return bool(self.core.set_max_concurrency(max_concurrent))

    def on_trial_result(self, trial_id: str, result: Dict) -> None:
        self.core.on_trial_result(trial_id, result)

    def on_pause(self, trial_id: str) -> None:
        self.core.on_pause(trial_id)

    def on_unpause(self, trial_id: str) -> None:
        self.core.on_unpause(trial_id)

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        self.core.on_trial_complete(trial_id, result=result, error=error)

    def add_evaluated_point(  # type: ignore[override]  # (Ray's names: it calls it by keyword)
            self, parameters: Dict[str, Any], value: float, error: bool = False,
            pruned: bool = False, intermediate_values: Optional[Iterable] = None,
            metrics: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        if self.core.native:  # an ask/tell core: results only
            if not (error or pruned):
                self.core.add_evaluated_point(parameters, value)
            return
        self.core.add_evaluated_point(parameters, value, error=error, pruned=pruned,
                                      intermediate_values=intermediate_values)

    def save(self, checkpoint_path: str) -> None:
        self.core.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.core.restore(checkpoint_path)
