"""scikit-optimize's ``Optimizer`` driven by ask/tell (Ray removed SkOptSearch in 2024; skopt
itself still works). Imports no Ray: the ask/tell backends use this class as it is, Ray Tune
through :class:`hpogrid.search._ray_searchers.SkoptSearcher`.

Concurrent trials use the "constant liar" strategy: pending points are told the best value
seen so far on a copy of the optimizer, so parallel asks do not all return the same point.
"""
import pickle
from typing import Any, Dict, List, Optional

from hpogrid.search._codec import _EPS, ChoiceByIndex, Codec, IntNative, NormalViaUniform, UniformNative, evaluated
from hpogrid.search._core import SearchCore


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


class SkoptAskTell(SearchCore):
    """The searcher protocol of :class:`hpogrid.search.AskTell` over ``skopt.Optimizer``; the
    keyword options are the Optimizer's own, named here so a wrong ``algorithm_param`` key is
    found before skopt is imported."""


    def __init__(self, codec: Codec, metric: Optional[str] = None, mode: Optional[str] = None,
                 random_state: Optional[int] = None, base_estimator: Any = "gp", n_initial_points: int = 10,
                 initial_point_generator: str = "random", acq_func: str = "gp_hedge", acq_optimizer: str = "auto",
                 acq_func_kwargs: Optional[dict] = None, acq_optimizer_kwargs: Optional[dict] = None,
                 model_queue_size: Optional[int] = None, avoid_duplicates: bool = True,
                 points_to_evaluate: Optional[List[Dict[str, Any]]] = None):
        from skopt import Optimizer

        self.metric, self.mode = metric, mode
        self._names: List[str] = list(codec.encodings)
        dims = [_dimension(codec.encodings[n]) for n in self._names]
        self._opt = Optimizer(dims, random_state=random_state, base_estimator=base_estimator,
                              n_initial_points=n_initial_points, initial_point_generator=initial_point_generator,
                              acq_func=acq_func, acq_optimizer=acq_optimizer, acq_func_kwargs=acq_func_kwargs,
                              acq_optimizer_kwargs=acq_optimizer_kwargs, model_queue_size=model_queue_size,
                              avoid_duplicates=avoid_duplicates)
        self._live: Dict[str, list] = {}
        self._first = [dict(p) for p in (points_to_evaluate or [])]  # evaluated before skopt asks

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True

    def _ask(self) -> list:
        pending = list(self._live.values())
        if not pending or not self._opt.yi:
            return self._opt.ask()
        liar = self._opt.copy(random_state=self._opt.rng)
        liar.tell(pending, [min(self._opt.yi)] * len(pending))
        return liar.ask()

    def suggest(self, trial_id: str) -> Optional[Dict[str, Any]]:
        if self._first:
            given = self._first.pop(0)
            point = [given[n] for n in self._names]
        else:
            point = [_plain(v) for v in self._ask()]
        self._live[trial_id] = point
        return dict(zip(self._names, point))

    def _tell(self, point: list, value: float) -> None:
        self._opt.tell(point, value if self.mode == "min" else -value)

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        point = self._live.pop(trial_id, None)
        if point is None or error or not result or result.get(self.metric) is None:
            return
        told = evaluated(result, None)
        self._tell([told[n] for n in self._names] if told else point, float(result[self.metric]))

    def add_evaluated_point(self, config: Dict[str, Any], value: float, **kwargs) -> None:
        """A trial evaluated elsewhere (an earlier run of a resumed study, the random start)."""
        self._tell([config[n] for n in self._names], float(value))

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as fh:
            pickle.dump((self._names, self._opt, self._live, self.metric, self.mode), fh)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as fh:
            self._names, self._opt, self._live, self.metric, self.mode = pickle.load(fh)
