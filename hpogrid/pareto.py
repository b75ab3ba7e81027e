"""Pareto arithmetic of several objectives: dominance, fronts, hypervolume.

Points are rows of objective values in their own directions (``modes``: "min"/"max" per
column); everything is computed on the minimisation form (max columns negated). Exact and
vectorised with numpy, fast enough for the fronts of 100k-trial studies (a point is compared
with the current front only, not with every other point).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np


def _as_min(points: Sequence[Sequence[float]], modes: Sequence[str]) -> np.ndarray:
    arr = np.asarray(points, dtype=float).reshape(len(points), len(modes))
    sign = np.array([1.0 if m == "min" else -1.0 for m in modes])
    return arr * sign


def dominates(a: Sequence[float], b: Sequence[float], modes: Sequence[str]) -> bool:
    """``a`` is at least as good as ``b`` in every objective and better in one."""
    x, y = _as_min([a, b], modes)
    return bool(np.all(x <= y) and np.any(x < y))


def _front_mask(costs: np.ndarray) -> np.ndarray:
    """Non-dominated rows of a minimisation cost matrix (duplicates of a front point all stay)."""
    n = len(costs)
    keep = np.ones(n, dtype=bool)
    order = np.lexsort(costs.T[::-1])  # by first objective, then the next: dominators come first
    front: List[int] = []
    for i in order:
        c = costs[i]
        if front:
            f = costs[front]
            if np.any(np.all(f <= c, axis=1) & np.any(f < c, axis=1)):
                keep[i] = False
                continue
        front.append(i)
    return keep


def front_mask(points: Sequence[Sequence[float]], modes: Sequence[str]) -> List[bool]:
    """For each point: is it on the Pareto front (dominated by no other point)?"""
    if len(points) == 0:
        return []
    return _front_mask(_as_min(points, modes)).tolist()


def front_ranks(points: Sequence[Sequence[float]], modes: Sequence[str]) -> List[int]:
    """Non-dominated sorting: 0 for the front, 1 for the front of the rest, and so on."""
    if len(points) == 0:
        return []
    costs = _as_min(points, modes)
    ranks = np.full(len(costs), -1)
    left = np.arange(len(costs))
    rank = 0
    while len(left):
        mask = _front_mask(costs[left])
        ranks[left[mask]] = rank
        left = left[~mask]
        rank += 1
    return ranks.tolist()


def reference_point(points: Sequence[Sequence[float]], modes: Sequence[str], margin: float = 0.1) -> List[float]:
    """A hypervolume reference point from the points themselves: each objective's worst value
    moved 10 % of its range further (by 1 where all points agree)."""
    costs = _as_min(points, modes)
    worst, best = costs.max(axis=0), costs.min(axis=0)
    span = np.where(worst > best, worst - best, 1.0)
    ref = worst + margin * span
    sign = np.array([1.0 if m == "min" else -1.0 for m in modes])
    return (ref * sign).tolist()


def hypervolume(points: Sequence[Sequence[float]], modes: Sequence[str], reference: Sequence[float]) -> float:
    """The volume dominated by ``points`` and bounded by ``reference`` (points not better than
    the reference in every objective add nothing)."""
    if len(points) == 0:
        return 0.0
    costs = _as_min(points, modes)
    ref = _as_min([reference], modes)[0]
    costs = costs[np.all(costs < ref, axis=1)]
    if len(costs) == 0:
        return 0.0
    costs = costs[_front_mask(costs)]
    return float(_hv(costs, ref))


def _hv(costs: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume of a minimisation front below ``ref``: a sweep in 2-D, slicing along
    the last objective above (HSO; fine for the fronts of a study)."""
    if costs.shape[1] == 1:
        return float(ref[0] - costs[:, 0].min())
    if costs.shape[1] == 2:
        pts = costs[np.argsort(costs[:, 0])]
        volume, best_y = 0.0, ref[1]
        for x, y in pts:
            if y < best_y:
                volume += (ref[0] - x) * (best_y - y)
                best_y = y
        return volume
    order = np.argsort(costs[:, -1])
    pts = costs[order]
    volume = 0.0
    for k in range(len(pts)):
        top = pts[k + 1, -1] if k + 1 < len(pts) else ref[-1]
        depth = top - pts[k, -1]
        if depth <= 0:
            continue
        sl = pts[: k + 1, :-1]
        sl = sl[_front_mask(sl)]
        volume += depth * _hv(sl, ref[:-1])
    return volume


def hypervolume_history(points: Sequence[Sequence[float]], modes: Sequence[str],
                        reference: Optional[Sequence[float]] = None, at: Optional[Sequence[int]] = None
                        ) -> List[float]:
    """Hypervolume of the first ``k`` points for each ``k`` in ``at`` (default: every k),
    against ``reference`` (default :func:`reference_point` of all of them)."""
    if len(points) == 0:
        return []
    if reference is None:
        reference = reference_point(points, modes)
    at = list(range(1, len(points) + 1)) if at is None else list(at)
    return [hypervolume(points[:k], modes, reference) for k in at]
