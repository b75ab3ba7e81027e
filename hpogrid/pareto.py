"""Pareto arithmetic of several objectives: dominance, fronts, hypervolume.

Points are rows of objective values in their own directions (``modes``: "min"/"max" per
column); everything is computed on the minimisation form (max columns negated). Exact and
vectorised with numpy, fast enough for 100k-trial studies: the front is found by comparing
blocks of points with the current front at once (a point can only be dominated by one that
comes before it in lexicographic order), two objectives take an O(n log n) sweep, and the
hypervolume of three objectives a sweep over a staircase (four and more slice down to three).
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import List, Optional, Sequence

import numpy as np

#: elements (block x front x objectives) compared at once while finding a front
_BLOCK_ELEMENTS = 4_000_000


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
    n, d = costs.shape
    if n == 0:
        return np.zeros(0, dtype=bool)
    if d == 1:
        return costs[:, 0] == costs[:, 0].min()
    order = np.lexsort(costs.T[::-1])  # by first objective, then the next: dominators come first
    if d == 2:
        return _front_mask_2d(costs, order)
    keep = np.zeros(n, dtype=bool)
    front = np.empty((0, d))
    start = 0
    while start < n:
        size = int(max(16, min(1024, _BLOCK_ELEMENTS // max(1, len(front) * d))))
        idx = order[start:start + size]
        start += size
        block = costs[idx]
        if len(front):
            ge = front[None, :, :] <= block[:, None, :]
            gt = front[None, :, :] < block[:, None, :]
            idx = idx[~np.any(np.all(ge, axis=2) & np.any(gt, axis=2), axis=1)]
        new: List[int] = []  # survivors may still dominate each other (the earlier the later)
        for i in idx:
            c = costs[i]
            if new:
                f = costs[new]
                if np.any(np.all(f <= c, axis=1) & np.any(f < c, axis=1)):
                    continue
            new.append(int(i))
        if new:
            keep[new] = True
            front = np.vstack([front, costs[new]])
    return keep


def _front_mask_2d(costs: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Two objectives in lexicographic order: a point is dominated when an earlier point that is
    not its duplicate has a second value at most its own."""
    x, y = costs[order, 0], costs[order, 1]
    n = len(x)
    first = np.ones(n, dtype=bool)  # first of a run of duplicates
    first[1:] = (x[1:] != x[:-1]) | (y[1:] != y[:-1])
    group = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    before = np.empty(n)
    before[0] = np.inf
    before[1:] = np.minimum.accumulate(y)[:-1]  # smallest y strictly before each position
    dominated = before[group] <= y
    keep = np.zeros(n, dtype=bool)
    keep[order] = ~dominated
    return keep


def front_mask(points: Sequence[Sequence[float]], modes: Sequence[str]) -> List[bool]:
    """For each point: is it on the Pareto front (dominated by no other point)?"""
    if len(points) == 0:
        return []
    return _front_mask(_as_min(points, modes)).tolist()


def front_ranks(points: Sequence[Sequence[float]], modes: Sequence[str], limit: Optional[int] = None) -> List[int]:
    """Non-dominated sorting: 0 for the front, 1 for the front of the rest, and so on.

    ``limit``: ranks from ``limit`` on are all reported as ``limit`` (only the first ``limit``
    fronts are kept while sorting: what a plot coloured by rank needs, at a bounded cost).
    """
    if len(points) == 0:
        return []
    costs = _as_min(points, modes)
    if costs.shape[1] == 2:
        ranks = _ranks_2d(costs)
        return ranks if limit is None else [min(r, limit) for r in ranks]
    if costs.shape[1] == 3:
        return _ranks_3d(costs, limit)
    return _ranks_sorted(costs, limit)


def _ranks_3d(costs: np.ndarray, limit: Optional[int]) -> List[int]:
    """Three objectives: :func:`_ranks_sorted` with each front kept as the staircase of its
    members' last two values (y ascending, z descending): in lexicographic order an earlier
    point that is not a duplicate dominates when its (y, z) is at most the point's, which one
    binary search in the staircase answers."""
    order = np.lexsort(costs.T[::-1]).tolist()
    rows = costs.tolist()
    stairs: List[List[List[float]]] = []  # per front: [ys ascending, zs descending]
    out = [0] * len(rows)
    prev, prev_rank = None, 0
    for i in order:
        row = rows[i]
        if row == prev:
            out[i] = prev_rank
            continue
        _, y, z = row
        lo, hi = 0, len(stairs)
        while lo < hi:
            mid = (lo + hi) // 2
            ys, zs = stairs[mid]
            j = bisect_right(ys, y) - 1
            if j >= 0 and zs[j] <= z:
                lo = mid + 1
            else:
                hi = mid
        if limit is not None and lo >= limit:
            lo = limit
        else:
            if lo == len(stairs):
                stairs.append([[], []])
            ys, zs = stairs[lo]
            j = bisect_right(ys, y)
            if not (j and zs[j - 1] <= z):  # not already covered by a corner of this front
                k = j
                while k < len(ys) and zs[k] >= z:  # corners this point now covers
                    k += 1
                ys[j:k] = [y]
                zs[j:k] = [z]
        out[i] = lo
        prev, prev_rank = row, lo
    return out


def _ranks_sorted(costs: np.ndarray, limit: Optional[int]) -> List[int]:
    """Three or more objectives (efficient non-dominated sort, binary-search variant): in
    lexicographic order a point is dominated only by earlier ones, and the fronts that
    dominate it are always the first few (a dominator in front k+1 has one in front k), so a
    binary search over the fronts built so far finds its rank. Duplicates share a rank."""
    n, d = costs.shape
    order = np.lexsort(costs.T[::-1])
    fronts: List[List] = []  # [rows (with spare capacity), count]
    out = [0] * n
    prev, prev_rank = None, 0
    for i in order.tolist():
        c = costs[i]
        if prev is not None and np.array_equal(c, prev):
            out[i] = prev_rank
            continue
        lo, hi = 0, len(fronts)
        while lo < hi:  # earlier and not equal: all(f <= c) is domination
            mid = (lo + hi) // 2
            rows, count = fronts[mid]
            if np.all(rows[:count] <= c, axis=1).any():
                lo = mid + 1
            else:
                hi = mid
        if limit is not None and lo >= limit:
            lo = limit
        elif lo == len(fronts):
            fronts.append([np.empty((16, d)), 0])
        if limit is None or lo < limit:
            front = fronts[lo]
            if front[1] == len(front[0]):
                front[0] = np.vstack([front[0], np.empty_like(front[0])])
            front[0][front[1]] = c
            front[1] += 1
        out[i] = lo
        prev, prev_rank = c, lo
    return out


def _ranks_2d(costs: np.ndarray) -> List[int]:
    """Two objectives: in lexicographic order, front k is dominated by an earlier point with
    key (y, x) below the point's own (the key of its last member, which has the smallest y);
    those keys increase with k, so a binary search finds a point's rank (patience sorting)."""
    order = np.lexsort(costs.T[::-1])
    xs, ys = costs[order, 0].tolist(), costs[order, 1].tolist()
    keys: List[tuple] = []
    out = [0] * len(xs)
    for pos, (x, y) in zip(order.tolist(), zip(xs, ys)):
        key = (y, x)
        k = bisect_left(keys, key)
        if k == len(keys):
            keys.append(key)
        else:
            keys[k] = key
        out[pos] = k
    return out


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
    return _volume(costs, ref)


def _volume(costs: np.ndarray, ref: np.ndarray) -> float:
    costs = costs[np.all(costs < ref, axis=1)]
    if len(costs) == 0:
        return 0.0
    costs = costs[_front_mask(costs)]
    return float(_hv(costs, ref))


def _hv(costs: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume of a minimisation front below ``ref``: a sweep in 2-D and 3-D,
    slicing along the last objective above (HSO)."""
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
    if costs.shape[1] == 3:
        return _hv3(costs, ref)
    order = np.argsort(costs[:, -1])
    pts = costs[order]
    volume = 0.0
    for k in range(len(pts)):
        top = pts[k + 1, -1] if k + 1 < len(pts) else ref[-1]
        depth = top - pts[k, -1]
        if depth <= 0:
            continue
        sl = pts[: k + 1, :-1]
        if sl.shape[1] > 3:  # the 3-D sweep skips dominated points itself
            sl = sl[_front_mask(sl)]
        volume += depth * _hv(sl, ref[:-1])
    return volume


def _hv3(costs: np.ndarray, ref: np.ndarray) -> float:
    """Three objectives: sweep along z keeping the 2-D staircase of the points seen (x
    ascending, y descending) and its area, updated as each point goes in."""
    rx, ry, rz = (float(r) for r in ref)
    pts = costs[np.argsort(costs[:, 2], kind="stable")].tolist()
    xs: List[float] = []  # staircase corners, x ascending ...
    ys: List[float] = []  # ... and y descending
    area = volume = 0.0
    for k, (x, y, z) in enumerate(pts):
        i = bisect_right(xs, x)
        if i and ys[i - 1] <= y:  # dominated in (x, y) by a corner already in: no new area
            pass
        else:
            # corners from i on with y >= this y are now dominated: remove them and their area
            j = i
            while j < len(xs) and ys[j] >= y:
                j += 1
            right = xs[j] if j < len(xs) else rx
            upper = ys[i - 1] if i else ry
            removed = 0.0
            for m in range(i, j):
                nxt = xs[m + 1] if m + 1 < len(xs) else rx
                removed += (nxt - xs[m]) * (upper - ys[m])
            # new area: the rectangle [x, right] x [y, upper] minus what the removed corners covered
            area += (right - x) * (upper - y) - removed
            xs[i:j] = [x]
            ys[i:j] = [y]
        top = pts[k + 1][2] if k + 1 < len(pts) else rz
        volume += area * (top - z)
    return volume


def hypervolume_history(points: Sequence[Sequence[float]], modes: Sequence[str],
                        reference: Optional[Sequence[float]] = None, at: Optional[Sequence[int]] = None
                        ) -> List[float]:
    """Hypervolume of the first ``k`` points for each ``k`` in ``at`` (default: every k),
    against ``reference`` (default :func:`reference_point` of all of them).

    The front is carried from one ``k`` to the next (only the new points are compared with
    it), so a few dozen checkpoints over 100k points cost little more than one front.
    """
    if len(points) == 0:
        return []
    if reference is None:
        reference = reference_point(points, modes)
    at = list(range(1, len(points) + 1)) if at is None else list(at)
    costs = _as_min(points, modes)
    ref = _as_min([reference], modes)[0]
    out: List[float] = []
    front = np.empty((0, costs.shape[1]))
    done, volume = 0, 0.0
    for k in at:
        k = max(0, min(int(k), len(costs)))
        if k < done:  # checkpoints out of order: start again from nothing
            front, done, volume = np.empty((0, costs.shape[1])), 0, 0.0
        if k > done:
            new = costs[done:k]
            new = new[np.all(new < ref, axis=1)]
            done = k
            if len(new):
                both = np.vstack([front, new])
                mask = _front_mask(both)
                if mask[len(front):].any():  # a new point joined the front: the volume grew
                    front = both[mask]
                    volume = float(_hv(front, ref))
        out.append(volume)
    return out
