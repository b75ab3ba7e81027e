"""``hpogrid.pareto`` against brute force: fronts, ranks and hypervolumes of small random sets
(integer grids, so ties and duplicates are common), in every mix of min and max."""
import itertools
import random

import numpy as np
import pytest

from hpogrid import pareto


def cases(seed, count=60, dims=(1, 2, 3, 4), size=40):
    rng = random.Random(seed)
    for k in range(count):
        d = dims[k % len(dims)]
        n = rng.randint(1, size)
        if k % 3:
            pts = [[float(rng.randint(0, 5)) for _ in range(d)] for _ in range(n)]
        else:
            pts = [[rng.random() for _ in range(d)] for _ in range(n)]
        yield pts, [rng.choice(("min", "max")) for _ in range(d)]


def brute_mask(pts, modes):
    return [not any(pareto.dominates(q, p, modes) for q in pts) for p in pts]


def brute_ranks(pts, modes):
    ranks, left, rank = [None] * len(pts), list(range(len(pts))), 0
    while left:
        sub = [pts[i] for i in left]
        mask = brute_mask(sub, modes)
        for i, on in zip(left, mask):
            if on:
                ranks[i] = rank
        left = [i for i, on in zip(left, mask) if not on]
        rank += 1
    return ranks


def brute_volume(pts, modes, ref):
    """Sum the cells of the grid made by every coordinate that some point dominates."""
    sign = [1 if m == "min" else -1 for m in modes]
    costs = [[s * v for s, v in zip(sign, p)] for p in pts]
    r = [s * v for s, v in zip(sign, ref)]
    costs = [c for c in costs if all(a < b for a, b in zip(c, r))]
    axes = [sorted({c[j] for c in costs} | {r[j]}) for j in range(len(r))]
    volume = 0.0
    for cell in itertools.product(*(range(len(a) - 1) for a in axes)):
        low = [axes[j][i] for j, i in enumerate(cell)]
        if any(all(c[j] <= low[j] for j in range(len(r))) for c in costs):
            size = 1.0
            for j, i in enumerate(cell):
                size *= axes[j][i + 1] - axes[j][i]
            volume += size
    return volume


def test_front_mask_matches_brute_force():
    for pts, modes in cases(1):
        assert pareto.front_mask(pts, modes) == brute_mask(pts, modes), (pts, modes)


def test_front_ranks_match_brute_force_and_limit():
    for pts, modes in cases(2):
        want = brute_ranks(pts, modes)
        assert pareto.front_ranks(pts, modes) == want, (pts, modes)
        assert pareto.front_ranks(pts, modes, limit=2) == [min(r, 2) for r in want]


def test_hypervolume_matches_brute_force():
    for pts, modes in cases(3, count=40, size=12):
        ref = pareto.reference_point(pts, modes)
        assert pareto.hypervolume(pts, modes, ref) == pytest.approx(brute_volume(pts, modes, ref)), (pts, modes)


def test_hypervolume_history_is_the_volume_of_each_prefix():
    for pts, modes in cases(4, count=30, size=25):
        ref = pareto.reference_point(pts, modes)
        at = sorted({random.Random(len(pts)).randint(1, len(pts)) for _ in range(4)} | {len(pts)})
        want = [pareto.hypervolume(pts[:k], modes, ref) for k in at]
        assert pareto.hypervolume_history(pts, modes, ref, at=at) == pytest.approx(want)
    assert pareto.hypervolume_history([[1.0, 2.0], [2.0, 1.0]], ["min", "min"], [3.0, 3.0], at=[2, 1]) == [3.0, 2.0]


def test_big_two_and_three_objective_fronts():
    """The fast paths (2-D sweep, blocks against the front) agree with the definition on 5,000
    points: every front point is undominated, every other point has a dominator on the front."""
    rng = np.random.default_rng(0)
    for d in (2, 3):
        pts = rng.integers(0, 60, size=(5000, d)).astype(float)
        mask = np.array(pareto.front_mask(pts, ["min"] * d))
        front = pts[mask]
        dominated = [np.any(np.all(front <= p, axis=1) & np.any(front < p, axis=1)) for p in pts]
        assert list(mask) == [not x for x in dominated]


def test_dominance_respects_directions_and_ties():
    assert pareto.dominates([1, 2], [2, 2], ["min", "min"]) and not pareto.dominates([2, 2], [2, 2], ["min", "min"])
    assert pareto.dominates([1, 3], [2, 2], ["min", "max"]) and not pareto.dominates([1, 1], [2, 2], ["min", "max"])
    assert pareto.front_mask([[1, 1], [1, 1]], ["min", "min"]) == [True, True]  # equal points: both on the front


@pytest.mark.parametrize("d, seed", [(2, 0), (3, 1), (4, 2)])
def test_hypervolume_equals_pymoos(d, seed):
    """An independent implementation (pymoo's, installed with HEBO) on continuous points."""
    from pymoo.indicators.hv import HV

    rng = np.random.default_rng(seed)
    points = rng.random((40, d))
    ref = np.full(d, 1.1)
    assert pareto.hypervolume(points.tolist(), ["min"] * d, ref.tolist()) == pytest.approx(HV(ref_point=ref)(points))
    modes = ["max"] + ["min"] * (d - 1)  # a maximised objective: the negated minimisation problem
    flipped = points.copy()
    flipped[:, 0] *= -1
    assert pareto.hypervolume(flipped.tolist(), modes, [-1.1] + [1.1] * (d - 1)) == pytest.approx(
        HV(ref_point=ref)(points))


def test_hypervolume_by_hand_history_and_reference():
    pts = [[1, 5], [2, 3], [4, 1], [3, 4]]
    assert pareto.hypervolume(pts, ["min", "min"], [5, 6]) == 12.0  # 4*1 + 3*2 + 1*2
    assert pareto.hypervolume([[6, 1]], ["min", "min"], [5, 6]) == 0.0  # not better than the reference
    assert pareto.hypervolume_history(pts, ["min", "min"], [5, 6]) == [4.0, 10.0, 12.0, 12.0]
    assert pareto.reference_point(pts, ["min", "max"]) == pytest.approx([4.3, 0.6])  # worst + 10 % of the range
