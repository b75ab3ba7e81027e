"""bayesian-optimization driven directly, for the backends that are not Ray Tune.

Ray's ``BayesOptSearch`` (used under Ray Tune, see ``_ray_searchers.py``) needs ``ray.tune``
and cannot be told trials it did not propose. Here the random start comes from
:mod:`hpogrid.search._random_start` and every result is registered with the optimizer; the
GP proposes the rest with Ray's default acquisition (UCB, kappa 2.576). The box is the
codec's: integers and categories as floors of uniforms, normals as probabilities.
"""
from typing import Any, Dict, Optional, Tuple

from hpogrid.search._codec import (_EPS, ChoiceViaUniform, Codec, IntViaUniform, NormalViaUniform, UniformNative,
                                   evaluated)
from hpogrid.search._core import SearchCore


def _bounds(enc) -> Tuple[float, float]:
    if isinstance(enc, UniformNative):
        return enc.latent.low, enc.latent.high
    if isinstance(enc, IntViaUniform):
        return enc.latent.low, enc.latent.high + 1
    if isinstance(enc, ChoiceViaUniform):
        return 0, len(enc.latent.categories)
    if isinstance(enc, NormalViaUniform):
        return _EPS, 1 - _EPS
    raise TypeError(f"no bayes_opt bound for {type(enc).__name__}")  # pragma: no cover


class BayesOptAskTell(SearchCore):
    """The searcher protocol of :class:`hpogrid.search.AskTell` over ``BayesianOptimization``
    (``utility_kwargs``: its acquisition, as Ray's searcher takes them)."""


    def __init__(self, codec: Codec, metric: str, mode: str, random_state: Optional[int] = None,
                 utility_kwargs: Optional[Dict[str, Any]] = None):
        import bayes_opt

        self.metric, self._sign = metric, (1.0 if mode == "max" else -1.0)  # bayes_opt maximises
        bounds = {name: _bounds(enc) for name, enc in codec.encodings.items()}
        self._opt = bayes_opt.BayesianOptimization(f=None, pbounds=bounds, random_state=random_state, verbose=0,
                                                   allow_duplicate_points=True)
        self._utility = bayes_opt.UtilityFunction(**(utility_kwargs or {"kind": "ucb", "kappa": 2.576, "xi": 0.0}))
        self._live: Dict[str, Dict[str, float]] = {}

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True

    def suggest(self, trial_id: str) -> Dict[str, float]:
        import warnings

        with warnings.catch_warnings():  # the GP's convergence warnings are no news to the user
            warnings.simplefilter("ignore")
            config = {name: float(v) for name, v in self._opt.suggest(self._utility).items()}
        self._live[trial_id] = config
        return config

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        config = self._live.pop(trial_id, None)
        if config is not None and not error and result and result.get(self.metric) is not None:
            self.add_evaluated_point(evaluated(result, config), result[self.metric])

    def add_evaluated_point(self, config: Dict[str, Any], value: float, **kwargs) -> None:
        import math

        if math.isfinite(float(value)):
            self._opt.register(params=dict(config), target=self._sign * float(value))
