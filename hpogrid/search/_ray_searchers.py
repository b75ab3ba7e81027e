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
from hpogrid.search._skopt import SkoptAskTell
from hpogrid.search.asktell import RandomSampler


class SeededSampler(Searcher):
    """:class:`RandomSampler` under Ray Tune: Tune asks it for every trial, so Ray Tune and the
    ask/tell backends draw the same sequence of points for the same seed."""

    learns = False

    def __init__(self, codec: Codec, seed: Optional[int] = None, num_samples: Optional[int] = None,
                 points_to_evaluate: Optional[List[Dict[str, Any]]] = None):
        super().__init__()
        self.core = RandomSampler(codec, seed, num_samples, points_to_evaluate)

    @property
    def num_samples(self) -> Optional[int]:
        return self.core.num_samples

    @num_samples.setter
    def num_samples(self, value: Optional[int]) -> None:
        self.core.num_samples = value

    @property
    def grid_size(self) -> int:
        return self.core.grid_size

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True  # the space comes from the codec

    def suggest(self, trial_id: str):
        return self.core.suggest(trial_id)

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        pass

    def add_evaluated_point(self, *args, **kwargs) -> None:
        raise NotImplementedError  # random search learns nothing


class NativeSearcher(Searcher):
    """A native ask/tell core (the same object the other backends ask) as a Ray Tune searcher:
    scikit-optimize (Ray removed its SkOptSearch in 2024), HEBO and nevergrad run the same code
    under Ray Tune as everywhere else."""

    def __init__(self, core: Any, metric: Optional[str] = None, mode: Optional[str] = None,
                 codec: Optional[Codec] = None):
        """``codec``: of a conditional space, so the core is told each point as it ran (see
        :meth:`hpogrid.search.AskTell.tell`)."""
        super().__init__(metric=metric, mode=mode)
        self.core = core
        self._codec = codec if codec is not None and codec.space.conditional else None

    @property
    def conditional_native(self) -> bool:
        """Whether the core models a conditional space itself (HyperOpt's nested choices)."""
        return getattr(self.core, "conditional_native", False)

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        # the space comes from the codec; Tune's param_space holds the same dimensions
        if metric:
            self._metric = self.core.metric = metric
        if mode:
            self._mode = mode
        return True

    @property
    def told_metrics(self) -> bool:
        """Whether the core takes every metric of a stored trial (several objectives, constraints)."""
        return getattr(self.core, "told_metrics", False)

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

    def add_evaluated_point(self, parameters: Dict[str, Any], value: float, error: bool = False,
                            pruned: bool = False, intermediate_values=None,
                            metrics: Optional[Dict[str, Any]] = None) -> None:
        if not (error or pruned):
            extra = {"metrics": metrics} if metrics is not None and self.told_metrics else {}
            self.core.add_evaluated_point(parameters, value, **extra)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as fh:
            pickle.dump(self.core, fh)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as fh:
            self.core = pickle.load(fh)


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


class ConstrainedTuneSearcher(Searcher):
    """A :class:`~hpogrid.search._constrained.ConstrainedSearcher` as a Ray Tune ``Searcher``: Tune
    gives it the search properties, asks and tells it; the inner searcher (Ray's or a native core)
    gets them. (``_constrained`` builds it, so it is not imported here: no import cycle.)"""

    def __init__(self, constrained: Any):
        inner = constrained.inner
        mode = getattr(inner, "mode", None)
        super().__init__(metric=getattr(inner, "metric", None), mode=mode if mode in ("min", "max") else None)
        self.constrained = constrained

    def __getattr__(self, name: str) -> Any:  # learns, native, told_metrics, on_pause, ...
        if name.startswith("__") or "constrained" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["constrained"], name)

    @property
    def num_samples(self) -> Any:
        return self.constrained.num_samples

    @num_samples.setter
    def num_samples(self, value: Any) -> None:
        self.constrained.num_samples = value

    @property
    def grid_size(self) -> int:
        return self.constrained.grid_size

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        ok = self.constrained.set_search_properties(metric, mode, config, **spec)
        if ok:
            if metric:
                self._metric = metric
            if mode:
                self._mode = mode
        return ok

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        setter = getattr(self.constrained.inner, "set_max_concurrency", None)
        return bool(setter(max_concurrent)) if setter is not None else False

    def suggest(self, trial_id: str) -> Optional[Dict[str, Any]]:
        return self.constrained.suggest(trial_id)

    def on_trial_result(self, trial_id: str, result: Dict) -> None:
        if hasattr(self.constrained.inner, "on_trial_result"):
            self.constrained.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        self.constrained.on_trial_complete(trial_id, result=result, error=error)

    def add_evaluated_point(self, parameters: Dict[str, Any], value: float, error: bool = False,
                            pruned: bool = False, intermediate_values: Optional[Iterable] = None) -> None:
        if getattr(self.constrained, "native", False):  # an ask/tell core: results only
            if not (error or pruned):
                self.constrained.add_evaluated_point(parameters, value)
            return
        self.constrained.add_evaluated_point(parameters, value, error=error, pruned=pruned,
                                             intermediate_values=intermediate_values)

    def save(self, checkpoint_path: str) -> None:
        self.constrained.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.constrained.restore(checkpoint_path)
