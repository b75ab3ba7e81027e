"""nevergrad (Meta's gradient-free optimisers) by ask/tell, NGOpt unless ``optimizer`` names another.

NGOpt chooses its algorithm from the parametrization, the budget and the number of workers,
so hpogrid passes the run's trials as ``budget`` and its trials at once as ``num_workers``.
The parametrization is the codec's: floats between bounds, integers as bounded scalars with
integer casting, categories as ``Choice`` over indices, normals as probabilities. The
parametrization's generator is seeded from ``--seed``, so a seeded run repeats.
"""
from __future__ import annotations

import math
import secrets
from typing import Any, Dict, List, Optional

from hpogrid.search._codec import _EPS, ChoiceByIndex, Codec, IntNative, NormalViaUniform, UniformNative, evaluated
from hpogrid.search._core import SearchCore


def _parameter(enc):
    import nevergrad as ng

    if isinstance(enc, UniformNative):
        low, high = enc.latent.low, enc.latent.high
        return low if low == high else ng.p.Scalar(lower=low, upper=high)
    if isinstance(enc, IntNative):
        low, high = enc.latent.low, enc.latent.high
        return low if low == high else ng.p.Scalar(lower=low, upper=high).set_integer_casting()
    if isinstance(enc, ChoiceByIndex):
        n = len(enc.latent.categories)
        return 0 if n == 1 else ng.p.Choice(list(range(n)))
    if isinstance(enc, NormalViaUniform):
        return ng.p.Scalar(lower=_EPS, upper=1 - _EPS)
    raise TypeError(f"no nevergrad parameter for {type(enc).__name__}")  # pragma: no cover


def _survive_numpy2_metamodel() -> None:
    """nevergrad 1.0.12's metamodel (which NGOpt uses past about a hundred trials) calls
    ``float()`` on a one-element array, which numpy 2.4 refuses with a TypeError: the run
    would crash mid-search. Report that as nevergrad's own ``MetaModelFailure``, on which it
    falls back to its base optimizer, as it does whenever the metamodel cannot help."""
    from nevergrad.optimization import metamodel, optimizerlib

    learn = metamodel.learn_on_k_best
    if getattr(learn, "hpogrid_guarded", False):
        return

    def guarded(*args, **kwargs):
        try:
            return learn(*args, **kwargs)
        except TypeError as exc:
            raise metamodel.MetaModelFailure(f"metamodel failed with numpy {_numpy_version()}: {exc}") from None

    setattr(guarded, "hpogrid_guarded", True)
    metamodel.learn_on_k_best = optimizerlib.learn_on_k_best = guarded


def _numpy_version() -> str:
    import numpy

    return numpy.__version__


def check_optimizer(name: str) -> None:
    """One line naming some of nevergrad's optimizers when ``name`` is none of them."""
    import nevergrad as ng

    from hpogrid.errors import ValidationError

    if not isinstance(name, str) or name not in ng.optimizers.registry:
        raise ValidationError("hpo_config.algorithm_param.optimizer",
                              f"{name!r} is not a nevergrad optimizer; e.g. NGOpt, TwoPointsDE, CMA, PSO, "
                              "OnePlusOne, DE, RandomSearch (see nevergrad.optimizers.registry)")


#: the budget NGOpt plans for when the run's is not known (it needs one to choose)
DEFAULT_BUDGET = 100


class NevergradAskTell(SearchCore):
    """The searcher protocol of :class:`hpogrid.search.AskTell` over a nevergrad optimizer."""


    def __init__(self, codec: Codec, metric: Optional[str] = None, mode: Optional[str] = None,
                 seed: Optional[int] = None, budget: Optional[int] = None, num_workers: int = 1,
                 optimizer: str = "NGOpt", points_to_evaluate: Optional[List[Dict[str, Any]]] = None):
        import nevergrad as ng
        import numpy as np

        check_optimizer(optimizer)
        _survive_numpy2_metamodel()
        self.metric, self._sign = metric, (-1.0 if mode == "max" else 1.0)  # nevergrad minimises
        self._names = list(codec.encodings)
        parametrization = ng.p.Dict(**{n: _parameter(e) for n, e in codec.encodings.items()})
        seed = secrets.randbits(32) if seed is None else int(seed) % 2 ** 32  # no --seed: a fresh search
        parametrization.random_state = np.random.RandomState(seed)
        self._opt = ng.optimizers.registry[optimizer](parametrization=parametrization, budget=budget or DEFAULT_BUDGET,
                                                      num_workers=max(1, int(num_workers)))
        self._live: Dict[str, Any] = {}
        self._first = [dict(p) for p in (points_to_evaluate or [])]  # evaluated before nevergrad asks

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True

    def suggest(self, trial_id: str) -> Dict[str, Any]:
        if self._first:
            candidate = self._opt.parametrization.spawn_child(new_value=self._first.pop(0))
        else:
            candidate = self._opt.ask()
        self._live[trial_id] = candidate
        return {n: _plain(v) for n, v in candidate.value.items()}

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        candidate = self._live.pop(trial_id, None)
        if candidate is None:
            return
        value = None if error or not result else result.get(self.metric)
        if value is not None and math.isfinite(float(value)):
            told = evaluated(result, None)
            if told:  # not the point it asked: told as one it did not ask, where it can be
                try:
                    self._tell(self._opt.parametrization.spawn_child(new_value={n: told[n] for n in self._names}),
                               self._sign * float(value))
                    return
                except NotImplementedError:
                    pass  # this optimizer learns only from its own points: it gets the one it asked
            self._tell(candidate, self._sign * float(value))
        # a failed trial is not told: nevergrad has no "failed" and a made-up value would mislead it

    def add_evaluated_point(self, config: Dict[str, Any], value: float, **kwargs) -> None:
        """A result nevergrad did not propose (an earlier run on resume, a known point)."""
        value = float(value)
        if math.isfinite(value):
            candidate = self._opt.parametrization.spawn_child(new_value={n: config[n] for n in self._names})
            self._tell(candidate, self._sign * value)

    def _tell(self, candidate, loss: float) -> None:
        from nevergrad.common.errors import TellNotAskedNotSupportedError

        try:
            self._opt.tell(candidate, loss)
        except TellNotAskedNotSupportedError:
            # this optimizer learns only from points it proposed (README): the caller counts it untold
            raise NotImplementedError(f"nevergrad's {type(self._opt).__name__} cannot be told points it did "
                                      "not propose") from None


def _plain(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    return value
