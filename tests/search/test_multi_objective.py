"""Several objectives and outcome constraints reach the searchers that can take them.

Each searcher is driven through :class:`~hpogrid.search.AskTell` exactly as the ask/tell
backends drive it, on a problem whose Pareto front is known: f1 = x^2 + y^2,
f2 = (x - 2)^2 + y^2 over x in [-1, 3], y in [-1, 1] has the front y = 0, x in [0, 2], with
its two ends at (f1, f2) = (0, 4) and (4, 0).
"""
import time

import pytest

from hpogrid.errors import ValidationError
from hpogrid.objectives import Objectives
from hpogrid.pareto import front_mask
from hpogrid.search import AskTell, NOT_NOW, Suggestion, get_adapter
from hpogrid.space import SearchSpace

SPACE = SearchSpace.from_dict({"x": {"method": "uniform", "dimension": {"low": -1, "high": 3}},
                               "y": {"method": "uniform", "dimension": {"low": -1, "high": 1}}})
TWO = Objectives.parse(["f1", "f2"], ["min", "min"])


def problem(v):
    x, y = v["x"], v["y"]
    return {"f1": x * x + y * y, "f2": (x - 2) ** 2 + y * y}


def drive(algorithm, params, objectives, trials, seed=3, native=True, metrics=problem):
    """Ask/tell ``trials`` points one at a time; returns (decoded points, their metrics, searcher)."""
    searcher, codec = get_adapter(algorithm).build(SPACE, objectives.metric, objectives.mode, seed, params,
                                                   native=native, objectives=objectives)
    asker = AskTell(searcher, codec, objectives.metric, objectives.mode, objectives=objectives)
    points, results = [], []
    deadline = time.monotonic() + 600
    while len(points) < trials:
        answer = asker.ask(f"t{len(points)}")
        if answer is NOT_NOW:  # a random start waiting for its library: nothing runs, so ask again
            assert time.monotonic() < deadline
            time.sleep(0.05)
            continue
        assert isinstance(answer, Suggestion)
        values = codec.decode(answer.config)
        result = metrics(values)
        asker.tell(answer.uid, result, ok=True)
        points.append(values)
        results.append(result)
    return points, results, searcher


def reaches_both_ends(results):
    front = [r for r, on in zip(results, front_mask([(r["f1"], r["f2"]) for r in results], ["min", "min"])) if on]
    return min(r["f1"] for r in front) < 0.5 and min(r["f2"] for r in front) < 0.5


@pytest.mark.parametrize("algorithm, params, trials", [
    ("optuna", {}, 60),                      # NSGA-II, optuna's default for several objectives
    ("optuna", {"sampler": "tpe"}, 40),      # MOTPE
    ("optuna", {"sampler": "gp"}, 14),       # expected hypervolume improvement (after 10 random)
    ("optuna", {"sampler": "qmc"}, 40),
    ("random", {}, 60),
])
def test_model_based_searchers_find_both_ends_of_a_known_front(algorithm, params, trials):
    """(Ax is left to benchmarks/multi_objective.py: each of its qNEHVI proposals takes 30-80 s on
    the 2-core test machine; here it is checked to be told both objectives and the constraints.)"""
    _, results, _ = drive(algorithm, params, TWO, trials)
    assert reaches_both_ends(results)


def test_random_search_takes_several_objectives_and_learns_nothing():
    a, _, _ = drive("random", {}, TWO, 10, seed=5)
    b, _, _ = drive("random", {}, Objectives.parse("f1", "min"), 10, seed=5)
    assert a == b  # the same seeded points whatever the objectives


def test_optuna_is_told_every_objective_in_its_direction():
    both = Objectives.parse(["f1", "f2"], ["min", "max"])
    _, results, searcher = drive("optuna", {"sampler": "random"}, both, 6)
    study = searcher.study
    assert [d.name for d in study.directions] == ["MINIMIZE", "MAXIMIZE"]
    assert [t.values for t in study.trials] == [[r["f1"], r["f2"]] for r in results]


def with_size(v):
    return {**problem(v), "size": abs(v["y"])}


def test_outcome_constraints_reach_optuna_and_ax():
    constrained = Objectives.parse(["f1", "f2"], ["min", "min"], {"size": ["<=", 0.5], "f2": ["<=", 3.0]})
    _, results, searcher = drive("optuna", {}, constrained, 8, metrics=with_size)
    told = [t.constraints for t in searcher.study.trials]
    assert told == [{"size <= 0.5": r["size"] - 0.5, "f2 <= 3": r["f2"] - 3.0} for r in results]  # <= 0: holds

    _, _, ax = drive("ax", {}, constrained, 5, metrics=with_size)  # (its random start: no model fit)
    config = ax._ready().client.experiment.optimization_config
    assert [(c.metric.name, c.bound) for c in config.outcome_constraints] == [("size", 0.5)]
    # Ax takes no constraint on an objective: one on f2 (minimised) is f2's threshold
    assert {t.metric.name: t.bound for t in config.objective_thresholds}["f2"] == 3.0


@pytest.mark.parametrize("params", [{"population_size": 10}, {"sampler": "tpe"}])
def test_a_learnt_constraint_steers_optuna_towards_feasible_points(params):
    """With x >= 1.5 (a quarter of the front), NSGA-II and MOTPE told the constraint run far more
    feasible late trials than the same sampler not told it (fixed seed; about 3x, so the
    margin asked for is wide)."""
    def metrics(v):
        return {**problem(v), "xpos": v["x"]}

    constrained = Objectives.parse(["f1", "f2"], ["min", "min"], {"xpos": [">=", 1.5]})
    _, told, _ = drive("optuna", params, constrained, 80, seed=2, metrics=metrics)
    _, blind, _ = drive("optuna", params, TWO, 80, seed=2, metrics=metrics)
    feasible = [sum(r["xpos"] >= 1.5 for r in results[40:]) for results in (told, blind)]
    assert feasible[0] >= 25 and feasible[0] >= 2 * feasible[1], feasible


def test_optuna_survives_pickling_with_its_finished_trials():
    """Ray Tune pickles its searcher (and checkpoints it): the study comes back with its trials."""
    import pickle

    constrained = Objectives.parse(["f1", "f2"], ["min", "min"], {"f1": ["<=", 1.0]})
    _, results, searcher = drive("optuna", {}, constrained, 5)
    again = pickle.loads(pickle.dumps(searcher))
    assert [t.values for t in again.study.trials] == [[r["f1"], r["f2"]] for r in results]
    assert [t.constraints for t in again.study.trials] == [t.constraints for t in searcher.study.trials]
    assert again.suggest("next")  # and it goes on proposing


def test_earlier_trials_are_told_with_every_objective():
    """Resume and warm start tell stored trials: a multi-objective searcher gets all their values
    (and optuna the constraint values)."""
    told = Objectives.parse(["f1", "f2"], ["min", "min"], {"ms": ["<=", 2]})
    for algorithm in ("optuna", "ax"):
        searcher, codec = get_adapter(algorithm).build(SPACE, "f1", "min", 1, {}, native=True, objectives=told)
        point = {"x": 0.5, "y": 0.0}
        searcher.add_evaluated_point(codec.encode(point), 0.25, metrics={**problem(point), "ms": 3})
        if algorithm == "optuna":
            assert searcher.study.trials[0].values == [0.25, 2.25]
            assert searcher.study.trials[0].constraints == {"ms <= 2": 1.0}
        else:
            searcher._ready()  # the random start hands stored results to Ax once it is loaded
            data = searcher._library.client.experiment.fetch_data().df
            assert sorted(data["metric_name"]) == ["f1", "f2", "ms"] and sorted(data["mean"]) == [0.25, 2.25, 3]


@pytest.mark.parametrize("algorithm", ["hyperopt", "skopt", "bayesian", "hebo", "nevergrad", "bohb"])
def test_a_one_metric_algorithm_is_refused_with_the_ones_that_can(algorithm):
    with pytest.raises(ValidationError) as err:
        get_adapter(algorithm).build(SPACE, "f1", "min", 1, {}, native=True, objectives=TWO)
    assert str(err.value) == (f"hpo_config.algorithm: '{algorithm}' optimises one metric, and this run has 2 "
                              "objectives (f1 (min), f2 (min)); choose one of: random, tune, ax, optuna, auto")


def test_an_optuna_sampler_of_one_objective_is_refused():
    with pytest.raises(ValidationError, match=r"hpo_config.algorithm_param.sampler: optuna's cmaes sampler "
                                              r"optimises one metric; with 2 objectives choose one of: nsga2, tpe"):
        get_adapter("optuna").build(SPACE, "f1", "min", 1, {"sampler": "cmaes"}, native=True, objectives=TWO)


def test_a_trial_missing_an_objective_is_told_as_failed():
    searcher, codec = get_adapter("optuna").build(SPACE, "f1", "min", 1, {}, native=True, objectives=TWO)
    asker = AskTell(searcher, codec, "f1", "min", objectives=TWO)
    answer = asker.ask("a")
    asker.tell(answer.uid, {"f1": 1.0}, ok=True)
    assert searcher.study.trials[0].state.name == "FAIL"


def test_the_scheduler_compares_trials_by_the_named_objective():
    from hpogrid.search import get_scheduler

    codec = get_adapter("random").codec(SPACE)
    two = Objectives.parse(["a", "b"], ["min", "max"])
    asha = get_scheduler("asynchyperband").build("a", "min", {"metric": "b", "max_concurrent": 2}, codec, two)
    assert (asha.metric, asha._mode) == ("b", "max")  # (Ray keeps the mode private)
    with pytest.raises(ValidationError, match=r"scheduler 'median' stops trials by one metric: with 2 objectives"):
        get_scheduler("median").build("a", "min", {}, codec, two)
