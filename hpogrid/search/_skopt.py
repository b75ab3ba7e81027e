"""A Ray Tune ``Searcher`` over scikit-optimize's ``Optimizer`` (ask/tell).

Ray removed SkOptSearch in 2024; skopt itself still works. Concurrent trials use the
"constant liar" strategy: pending points are told the best value seen so far on a copy of
the optimizer, so parallel asks do not all return the same point.
"""
import pickle
from typing import Any, Dict, List, Optional

from ray.tune.search import Searcher

from hpogrid.search._codec import ChoiceByIndex, Codec, IntNative, NormalViaUniform, UniformNative, _EPS


def _dimension(enc):
    from skopt.space import Categorical, Integer, Real

    if isinstance(enc, UniformNative):
        return Real(enc.latent.low, enc.latent.high)
    if isinstance(enc, IntNative):
        return Integer(enc.latent.low, enc.latent.high)
    if isinstance(enc, ChoiceByIndex):
        return Categorical(list(range(len(enc.latent.categories))))
    if isinstance(enc, NormalViaUniform):
        return Real(_EPS, 1 - _EPS)
    raise TypeError(f"no skopt dimension for {type(enc).__name__}")


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (JSON and Ray's trial names need them)."""
    return value.item() if hasattr(value, "item") else value


class SkoptSearcher(Searcher):
    def __init__(self, codec: Codec, metric: Optional[str] = None, mode: Optional[str] = None,
                 random_state: Optional[int] = None, **optimizer_kwargs: Any):
        from skopt import Optimizer

        super().__init__(metric=metric, mode=mode)
        self._names: List[str] = list(codec.encodings)
        dims = [_dimension(codec.encodings[n]) for n in self._names]
        self._opt = Optimizer(dims, random_state=random_state, **optimizer_kwargs)
        self._live: Dict[str, list] = {}

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        # the space comes from the codec; Tune's param_space holds the same dimensions
        if metric:
            self._metric = metric
        if mode:
            self._mode = mode
        return True

    def _ask(self) -> list:
        pending = list(self._live.values())
        if not pending or not self._opt.yi:
            return self._opt.ask()
        liar = self._opt.copy(random_state=self._opt.rng)
        liar.tell(pending, [min(self._opt.yi)] * len(pending))
        return liar.ask()

    def suggest(self, trial_id: str) -> Optional[Dict[str, Any]]:
        point = [_plain(v) for v in self._ask()]
        self._live[trial_id] = point
        return dict(zip(self._names, point))

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        point = self._live.pop(trial_id, None)
        if point is None or error or not result or self.metric not in result:
            return
        value = float(result[self.metric])
        self._opt.tell(point, value if self.mode == "min" else -value)

    def add_evaluated_point(self, parameters: Dict[str, Any], value: float, error: bool = False,
                            pruned: bool = False, intermediate_values=None) -> None:
        """A trial evaluated elsewhere (an earlier run of a resumed study)."""
        if error or pruned:
            return
        point = [parameters[n] for n in self._names]
        self._opt.tell(point, float(value) if self.mode == "min" else -float(value))

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as fh:
            pickle.dump((self._names, self._opt, self._live, self._metric, self._mode), fh)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as fh:
            self._names, self._opt, self._live, self._metric, self._mode = pickle.load(fh)
