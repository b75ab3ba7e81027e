"""HEBO and nevergrad past their random start: the model proposes, learns, follows the run's
shape, and tells running trials apart (the contract suite stops before their models run)."""
import functools
import math

import pytest

from hpogrid.errors import ValidationError
from hpogrid.search import AskTell, RunShape, Suggestion, get_adapter
from hpogrid.space import SearchSpace

SPACE = {"x": {"method": "uniform", "dimension": {"low": -3, "high": 3}},
         "lr": {"method": "loguniform", "dimension": {"low": 1e-4, "high": 1}},
         "act": {"method": "categorical", "dimension": {"categories": ["relu", "tanh", "gelu"]}}}


def loss(p):
    """min 0 at x=1, lr=1e-2, act=gelu."""
    return (p["x"] - 1) ** 2 + (math.log10(p["lr"]) + 2) ** 2 + (0 if p["act"] == "gelu" else 1)


def run(algorithm, params, evals, seed=0, mode="min", batch=1):
    """(decoded points in order, best loss) of a seeded session, ``batch`` asked before telling."""
    space = SearchSpace.from_dict(SPACE)
    searcher, codec = get_adapter(algorithm).build(space, "loss", mode, seed, params, native=True,
                                                   shape=RunShape(evals, batch))
    asker = AskTell(searcher, codec, "loss", mode)
    points, uid = [], 0
    while len(points) < evals:
        asked = []
        while len(asked) < batch:
            answer = asker.ask(f"t{uid}")
            uid += 1
            if not isinstance(answer, Suggestion):
                break
            asked.append(answer)
        assert asked, "the searcher proposed nothing with no trial running"
        for a in asked:
            point = codec.decode(a.config)
            points.append(point)
            value = loss(point)
            asker.tell(a.uid, {"loss": -value if mode == "max" else value}, True)
    return points, min(loss(p) for p in points)


@functools.lru_cache(maxsize=None)
def hebo(mode="min", batch=1):
    """HEBO past a random start of 4: 4 model proposals (a second each; cached)."""
    return run("hebo", {"rand_sample": 4}, 8, mode=mode, batch=batch)


def test_hebo_model_proposes_better_points_than_its_random_start_and_repeats_under_a_seed():
    points, best = hebo()
    start = min(loss(p) for p in points[:4])
    assert best < start  # the GP's proposals improved on the random start
    for p in points:
        assert -3 <= p["x"] <= 3 and 1e-4 <= p["lr"] <= 1 and p["act"] in ("relu", "tanh", "gelu")
    # a second seeded session repeats every point, model proposals included: the session run in
    # max mode (told -loss, the same problem) is that second session (a HEBO session is seconds)
    again, _ = hebo(mode="max")
    assert again == points


def test_hebo_acquisition_search_drops_the_duplicates_pymoo_drops():
    """The hashed duplicate elimination given to HEBO keeps a seeded run what it was: on
    populations full of repeats (within themselves and against earlier ones) it drops exactly
    the individuals pymoo's pairwise comparison drops."""
    import numpy as np
    from hebo.acq_optimizers import evolution_optimizer
    from pymoo.core.mixed import MixedVariableDuplicateElimination
    from pymoo.core.population import Population

    from hpogrid.search._hebo import _hash_duplicates

    _hash_duplicates()
    hashed = evolution_optimizer.MixedVariableDuplicateElimination
    assert hashed is not MixedVariableDuplicateElimination
    rng = np.random.default_rng(7)

    def population(n, extra=False):
        rows = [{"x": float(rng.choice([0.25, 0.5, 0.75])), "n": int(rng.integers(0, 3)),
                 "c": int(rng.integers(0, 2))} for _ in range(n)]
        if extra:
            rows[-1]["y"] = 1.0  # a different set of variables: the pairwise way decides
        return Population.new(X=rows)

    for extra in (False, True):
        pop, other = population(60, extra), population(20)
        for args in ((), (other,)):
            for to_itself in (True, False):
                mine = hashed().do(pop, *args, return_indices=True, to_itself=to_itself)
                pymoos = MixedVariableDuplicateElimination().do(pop, *args, return_indices=True,
                                                                to_itself=to_itself)
                assert mine[1] == pymoos[1] and mine[2] == pymoos[2]
        assert 0 < len(mine[2]) < len(pop)  # there were duplicates to drop, and originals to keep


def test_hebo_maximises_when_the_mode_is_max():
    points, _ = hebo(mode="max")  # told -loss: the same problem, the same points
    assert points == hebo()[0]
    assert min(loss(p) for p in points[4:]) < min(loss(p) for p in points[:4])  # it maximised -loss


def test_hebo_gives_trials_running_at_once_different_points():
    points, _ = hebo(batch=4)
    batch = points[4:8]  # asked together from the model
    assert len({(p["x"], p["lr"], p["act"]) for p in batch}) == 4, batch


def test_nevergrad_plans_for_the_runs_budget_and_workers():
    space = SearchSpace.from_dict(SPACE)
    searcher, _ = get_adapter("nevergrad").build(space, "loss", "min", 0, {}, native=True,
                                                 shape=RunShape(trials=37, parallel=3))
    library = searcher._ready()  # noqa: SLF001 - the optimizer the random start hands over to
    assert (library._opt.budget, library._opt.num_workers) == (37, 3)  # noqa: SLF001


def test_nevergrad_learns_better_than_random_at_the_same_budget_and_seed():
    _, ng_best = run("nevergrad", {}, 60, seed=3)
    _, random_best = run("random", {}, 60, seed=3)
    assert ng_best < random_best


@pytest.mark.parametrize("optimizer", ["CMA", "TwoPointsDE", "OnePlusOne"])
def test_nevergrad_runs_the_optimizer_named_in_algorithm_param(optimizer):
    points, _ = run("nevergrad", {"optimizer": optimizer}, 10)
    assert len(points) == 10


def test_nevergrad_unknown_optimizer_is_one_line_before_any_trial():
    space = SearchSpace.from_dict(SPACE)
    for native in (True, False):
        with pytest.raises(ValidationError, match=r"^hpo_config\.algorithm_param\.optimizer: 'Bogus' is not a "
                                                  r"nevergrad optimizer"):
            get_adapter("nevergrad").build(space, "loss", "min", 0, {"optimizer": "Bogus"}, native=native)


def test_nevergrad_survives_its_metamodel_under_numpy_2_with_workers_and_a_large_budget():
    """NGOpt with 4 workers and 300 trials goes through its metamodel, whose float() of a
    one-element array numpy 2.4 refuses: the run used to crash there (see _nevergrad.py)."""
    space = SearchSpace.from_dict({f"x{i}": {"method": "uniform", "dimension": {"low": -1, "high": 2}}
                                   for i in range(10)})
    searcher, codec = get_adapter("nevergrad").build(space, "loss", "min", 0, {}, native=True,
                                                     shape=RunShape(300, 4))
    asker = AskTell(searcher, codec, "loss", "min")
    told, uid, best = 0, 0, math.inf
    while told < 300:
        asked = [asker.ask(f"t{uid + i}") for i in range(4)]
        uid += 4
        for a in asked:
            if isinstance(a, Suggestion):
                value = sum((v - 0.5) ** 2 for v in codec.decode(a.config).values())
                asker.tell(a.uid, {"loss": value}, True)
                told, best = told + 1, min(best, value)
    assert best < 0.5  # and it searched: a random point scores about 7.5


@pytest.mark.parametrize("algorithm", ["hebo", "nevergrad"])
def test_without_a_seed_every_search_is_a_fresh_one(algorithm):
    """Two unseeded runs (two studies, two slurm_runs of one project) must not search alike."""
    space = SearchSpace.from_dict(SPACE)
    firsts = []
    for _ in range(2):
        searcher, _ = get_adapter(algorithm).build(space, "loss", "min", None, {}, native=False)
        firsts.append(searcher.suggest("t0"))
    assert firsts[0] != firsts[1]


def test_nevergrad_that_takes_only_its_own_points_is_not_counted_as_told():
    """OnePlusOne-like optimizers that refuse points they did not ask are not said to learn them."""
    from hpogrid.search._nevergrad import NevergradAskTell
    from hpogrid.search._codec import ALL_NATIVE, Codec

    space = SearchSpace.from_dict(SPACE)
    core = NevergradAskTell(Codec.build(space, ALL_NATIVE), "loss", "min", seed=1)

    def refuse(candidate, loss):
        from nevergrad.common.errors import TellNotAskedNotSupportedError
        raise TellNotAskedNotSupportedError

    core._opt.tell = refuse  # noqa: SLF001 - stands for such an optimizer
    with pytest.raises(NotImplementedError, match="cannot be told points it did not propose"):
        core.add_evaluated_point({"x": 0.5, "lr": -3.0, "act": 1}, 1.0)
