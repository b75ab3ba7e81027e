"""Pareto arithmetic against brute force and an independent hypervolume (pymoo's)."""
import itertools

import numpy as np
import pytest

from hpogrid.pareto import dominates, front_mask, front_ranks, hypervolume, hypervolume_history, reference_point


def brute_front(points, modes):
    sign = np.array([1 if m == "min" else -1 for m in modes])
    pts = np.asarray(points) * sign
    return [not any(np.all(q <= p) and np.any(q < p) for q in pts) for p in pts]


@pytest.mark.parametrize("n, d, seed", [(50, 2, 0), (200, 2, 1), (120, 3, 2), (80, 4, 3)])
def test_front_mask_and_ranks_match_brute_force(n, d, seed):
    rng = np.random.default_rng(seed)
    points = np.round(rng.random((n, d)), 2).tolist()  # rounded: ties and duplicates happen
    modes = ["min", "max", "min", "max"][:d]
    assert front_mask(points, modes) == brute_front(points, modes)
    ranks = front_ranks(points, modes)
    left = list(range(n))
    for rank in itertools.count():
        if not left:
            break
        on = brute_front([points[i] for i in left], modes)
        assert sorted(i for i, o in zip(left, on) if o) == sorted(i for i in range(n) if ranks[i] == rank)
        left = [i for i, o in zip(left, on) if not o]


def test_dominance_respects_directions_and_ties():
    assert dominates([1, 2], [2, 2], ["min", "min"]) and not dominates([2, 2], [2, 2], ["min", "min"])
    assert dominates([1, 3], [2, 2], ["min", "max"]) and not dominates([1, 1], [2, 2], ["min", "max"])
    assert front_mask([[1, 1], [1, 1]], ["min", "min"]) == [True, True]  # equal points: both on the front


@pytest.mark.parametrize("d, seed", [(2, 0), (3, 1), (4, 2)])
def test_hypervolume_equals_pymoos(d, seed):
    from pymoo.indicators.hv import HV

    rng = np.random.default_rng(seed)
    points = rng.random((40, d))
    ref = np.full(d, 1.1)
    assert hypervolume(points.tolist(), ["min"] * d, ref.tolist()) == pytest.approx(HV(ref_point=ref)(points))
    # maximised objectives: the same volume as the negated minimisation problem
    modes = ["max"] + ["min"] * (d - 1)
    flipped = points.copy()
    flipped[:, 0] *= -1
    assert hypervolume(flipped.tolist(), modes, [-1.1] + [1.1] * (d - 1)) == pytest.approx(HV(ref_point=ref)(points))


def test_hypervolume_by_hand_history_and_reference():
    pts = [[1, 5], [2, 3], [4, 1], [3, 4]]
    assert hypervolume(pts, ["min", "min"], [5, 6]) == 12.0  # 4*1 + 3*2 + 1*2
    assert hypervolume([[6, 1]], ["min", "min"], [5, 6]) == 0.0  # not better than the reference
    assert hypervolume_history(pts, ["min", "min"], [5, 6]) == [4.0, 10.0, 12.0, 12.0]
    assert reference_point(pts, ["min", "max"]) == pytest.approx([4.3, 0.6])  # worst + 10 % of the range
