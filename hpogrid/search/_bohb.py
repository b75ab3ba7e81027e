"""BOHB over a ConfigSpace that carries the search space's conditions.

Ray's ``TuneBOHB`` turns Tune's ``param_space`` into a flat ``ConfigurationSpace``. Here that
same conversion of the codec's dimensions (``TuneBOHB.convert_search_space``, so each grammar
method keeps its encoding) gets one ConfigSpace condition per conditional parameter, so BOHB
draws a parameter only where its condition holds and its densities see it only on the trials
that had it (hpbandster imputes an inactive value for its kernel density, as it does for any
conditional ConfigSpace). By the parent's dimension:

* a category (``categorical``, ``fixed``: its index) or an integer (``uniformint``):
  ``EqualsCondition`` for one listed value, ``InCondition`` for several;
* a q-method (a float dimension: the value before rounding, its logarithm or, for the normal
  ones, its probability): the intervals of that dimension whose value rounds to a listed
  value, found by bisection on the codec's own decoding down to adjacent floats, each as a
  ``GreaterThanCondition`` and/or ``LessThanCondition`` (``AndConjunction``), several joined
  by ``OrConjunction``.

A condition with several parents is the ``AndConjunction`` of theirs; ConfigSpace makes a
parameter inactive whenever a parent is (nesting). BOHB's proposal names only its active
parameters; :meth:`BohbSearcher.suggest` hands it on whole (:meth:`Codec.complete`).
"""
import math
from typing import Any, Callable, Dict, List, Optional, Tuple

from ray.tune.search.bohb import TuneBOHB

from hpogrid.search._codec import Codec, _latent_of
from hpogrid.search._core import SearchCore


def config_space(codec: Codec) -> Any:
    """The ``ConfigurationSpace`` of ``codec``: Ray's conversion of its dimensions, with the
    conditions of its space."""
    space = TuneBOHB.convert_search_space(codec.param_space())
    conditions = []
    for name in codec.space.dependency_order:
        parts = [_condition(codec, space, name, parent, values)
                 for parent, values in codec.space.when(name).items()]
        if parts:
            conditions.append(_all(parts))
    if conditions:
        space.add(conditions)
    return space


def _all(parts: List[Any]) -> Any:
    from ConfigSpace import AndConjunction

    return parts[0] if len(parts) == 1 else AndConjunction(*parts)


def _any(parts: List[Any]) -> Any:
    from ConfigSpace import OrConjunction

    return parts[0] if len(parts) == 1 else OrConjunction(*parts)


def _condition(codec: Codec, space: Any, name: str, parent: str, values: Tuple[Any, ...]) -> Any:
    """The ConfigSpace condition: ``name`` is active when ``parent`` takes one of ``values``."""
    from ConfigSpace import (CategoricalHyperparameter, EqualsCondition, GreaterThanCondition, InCondition,
                             LessThanCondition, UniformIntegerHyperparameter)

    child, hyper = space[name], space[parent]
    enc, param = codec.encodings[parent], codec.space[parent]
    if isinstance(hyper, (CategoricalHyperparameter, UniformIntegerHyperparameter)):
        wanted = sorted({int(enc.from_latent(_latent_of(param, v))) for v in values})
        if len(wanted) == 1:
            return EqualsCondition(child, hyper, wanted[0])
        return InCondition(child, hyper, wanted)
    low, high = float(hyper.lower), float(hyper.upper)
    spans = _spans(lambda u: param.decode(enc.to_latent(u)), values, low, high)
    if not spans:  # no value of the dimension gives a listed value: never active
        return _all([GreaterThanCondition(child, hyper, low), LessThanCondition(child, hyper, low)])
    parts = []
    for a, b in spans:
        bounds: List[Any] = []
        if a > low:  # parent >= a
            bounds.append(GreaterThanCondition(child, hyper, math.nextafter(a, -math.inf)))
        if b < high:  # parent <= b
            bounds.append(LessThanCondition(child, hyper, math.nextafter(b, math.inf)))
        if not bounds:  # the whole dimension: true whenever the parent is active
            bounds = [_any([GreaterThanCondition(child, hyper, low), EqualsCondition(child, hyper, low)])]
        parts.append(_all(bounds))
    return _any(parts)


def _spans(value: Callable[[float], Any], wanted: Tuple[Any, ...], low: float,
           high: float) -> List[Tuple[float, float]]:
    """The closed intervals of ``[low, high]`` where ``value`` (non-decreasing: a rounding of a
    monotone transform) is one of ``wanted`` as JSON sees it, merged where they touch."""
    from hpogrid.space import holds

    spans = []
    for v in wanted:
        a = _first(lambda u: value(u) >= v, low, high)
        if a is None or not holds((v,), value(a)):
            continue  # never exactly this value (e.g. beyond the normal's clipped tails)
        c = _first(lambda u: value(u) > v, a, high)
        spans.append((a, high if c is None else math.nextafter(c, -math.inf)))
    merged: List[Tuple[float, float]] = []
    for a, b in sorted(spans):
        if merged and a <= math.nextafter(merged[-1][1], math.inf):
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _first(pred: Callable[[float], bool], low: float, high: float) -> Optional[float]:
    """The smallest float ``u`` in ``[low, high]`` with ``pred(u)`` (``pred`` false, then true),
    by bisection down to adjacent floats; None when ``pred(high)`` is false."""
    if not pred(high):
        return None
    if pred(low):
        return low
    while True:  # pred(low) false, pred(high) true
        mid = low + (high - low) / 2
        if mid <= low or mid >= high:
            return high
        if pred(mid):
            high = mid
        else:
            low = mid


class BohbSearcher(TuneBOHB, SearchCore):  # type: ignore[misc]  # (Ray's untyped metric/mode and keyword names)
    """Ray's ``TuneBOHB`` over :func:`config_space` (the space comes from the codec, as for
    hpogrid's other searchers): BOHB proposes, and is told, only the active parameters."""

    #: a Ray searcher: Tune (or AskTell) hands it the space, which it takes from the codec
    native = False
    #: BOHB models the conditions itself: a result is told with BOHB's own proposal
    conditional_native = True

    def __init__(self, codec: Codec, metric: Optional[str] = None, mode: Optional[str] = None,
                 seed: Optional[int] = None, bohb_config: Optional[Dict[str, Any]] = None,
                 points_to_evaluate: Optional[List[Dict[str, Any]]] = None, max_concurrent: int = 0):
        import numpy as np

        self._codec = codec
        if points_to_evaluate and codec.space.conditional:  # BOHB's record takes active values only
            points_to_evaluate = [_active_only(codec, p) for p in points_to_evaluate]
        self._rng = np.random.default_rng(seed)
        super().__init__(space=config_space(codec), bohb_config=bohb_config, metric=metric, mode=mode,
                         points_to_evaluate=points_to_evaluate, seed=seed, max_concurrent=max_concurrent)

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        # the space comes from the codec; Tune's param_space holds the same dimensions
        if metric:
            self._metric = metric
        if mode:
            self._mode = mode
            self._metric_op = 1.0 if mode == "min" else -1.0
        return True

    def suggest(self, trial_id: str) -> Optional[Dict[str, Any]]:
        proposal = super().suggest(trial_id)
        if not isinstance(proposal, dict) or not self._codec.space.conditional:
            return proposal
        return complete(self._codec, proposal, self._rng)


def _active_only(codec: Codec, point: Dict[str, Any]) -> Dict[str, Any]:
    active = set(codec.active(codec.complete(point)))
    return {k: v for k, v in point.items() if k in active or k not in codec.encodings}


def complete(codec: Codec, proposal: Dict[str, Any], rng: Any) -> Dict[str, Any]:
    """BOHB's ``proposal`` (its active parameters) as a whole searcher config.

    ConfigSpace decides a q-method parent's condition on its own normalised copy of the value,
    rounded to 13 decimals in the proposal: within about 1e-13 of an interval's end the two can
    disagree. A parameter the codec finds active but BOHB left out is then drawn at random (its
    own distribution, as random search would), so a trial never runs without a value it needs.
    """
    proposal = dict(proposal)
    full = codec.complete(proposal)
    while True:
        missing = [n for n in codec.active(full) if n not in proposal]
        if not missing:
            return full
        for name in missing:
            enc = codec.encodings[name]
            full[name] = proposal[name] = enc.from_latent(enc.latent.sample(rng))
