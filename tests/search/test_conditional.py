"""Conditional parameters (``when``) with every searcher: the model sees a parameter exactly
when its condition holds, and optuna's own ask/tell is told only the active ones.

Walks ``hpogrid.search.ADAPTERS`` (less ``auto``) and the native ask/tell variants, as the
searcher contract does. The expected presence of each parameter is written out here by hand
(not with ``SearchSpace.active``), so the test checks the grammar's semantics too.
"""
import math
import time

import pytest

from hpogrid.search import AskTell, Suggestion, get_adapter
from hpogrid.space import SearchSpace
from tests.search.test_searcher_contract import METRIC, MODE, build, searchers

#: momentum only for sgd and rmsprop, nesterov only for sgd, dampening only under nesterov
#: (nested), and a uniformint parent
COND_SPACE = {
    "optimizer": {"method": "categorical", "dimension": {"categories": ["sgd", "adam", "rmsprop"]}},
    "momentum": {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"optimizer": ["sgd", "rmsprop"]}},
    "nesterov": {"method": "categorical", "dimension": {"categories": [True, False]}, "when": {"optimizer": ["sgd"]}},
    "dampening": {"method": "quniform", "dimension": {"low": 0, "high": 1, "q": 0.1}, "when": {"nesterov": [True]}},
    "layers": {"method": "uniformint", "dimension": {"low": 1, "high": 3}},
    "width2": {"method": "qloguniform", "dimension": {"low": 8, "high": 256, "q": 8},
               "when": {"layers": [2, 3], "optimizer": ["adam", "sgd"]}},
    "lr": {"method": "loguniform", "dimension": {"low": 1e-4, "high": 1e-1}},
}
ASKS = 16
SEED = 11


def expected(point):
    """The parameters a point must have, from the optimizer, nesterov and layers it has."""
    names = {"optimizer", "layers", "lr"}
    if point["optimizer"] in ("sgd", "rmsprop"):
        names.add("momentum")
    if point["optimizer"] == "sgd":
        names.add("nesterov")
        if point.get("nesterov") is True:
            names.add("dampening")
    if point["layers"] in (2, 3) and point["optimizer"] in ("adam", "sgd"):
        names.add("width2")
    return names


def loss(point):
    return (math.log10(point["lr"]) + 2) ** 2 + point.get("momentum", 0.5) + 0.1 * point["layers"]


def session(name, asks=ASKS):
    """Ask and tell ``asks`` times; returns (decoded points, searcher)."""
    space = SearchSpace.from_dict(COND_SPACE)
    searcher, codec = build(name, space, SEED)
    asker = AskTell(searcher, codec, METRIC, MODE)
    points = []
    for i in range(asks):
        answer = asker.ask(f"t{i}")
        if not isinstance(answer, Suggestion):
            break
        point = codec.decode(answer.config)
        points.append(point)
        asker.tell(answer.uid, {METRIC: loss(point)}, ok=True)
    return points, searcher


#: under Ray Tune, HEBO and scikit-optimize always, and Ax and bayesian with a conditional space,
#: run the same core as their /native variant (NativeSearcher; tested under Ray below): not again
SAME_CORE_UNDER_RAY = ("hebo", "skopt", "ax", "bayesian")


@pytest.mark.parametrize("name", [p for p in searchers() if p.values[0] not in SAME_CORE_UNDER_RAY])
def test_conditional_parameters_appear_exactly_when_their_condition_holds(name):
    space = SearchSpace.from_dict(COND_SPACE)
    points, _ = session(name, asks=10 if name.startswith("hebo") else ASKS)  # (HEBO: seconds per proposal)
    assert len(points) >= 10, f"{name} proposed only {len(points)} points"
    for point in points:
        assert set(point) == expected(point), point
        for n, v in point.items():
            assert space[n].contains(v), (n, v)
    # both sides of the top-level condition were explored
    assert len({p["optimizer"] for p in points}) >= 2
    assert any("momentum" in p for p in points) and any("momentum" not in p for p in points)


@pytest.mark.parametrize("name", ["optuna/native", "optuna+random/native", "optuna+gp/native"])
def test_native_optuna_is_told_only_the_active_parameters(name):
    points, searcher = session(name)
    trials = searcher.study.trials
    assert len(trials) == len(points) == ASKS
    for trial, point in zip(trials, points):
        assert set(trial.params) == set(point) == expected(point)
        assert trial.state.name == "COMPLETE"
    # the nested parameter was reached, so the dynamic space was really explored in depth
    assert any("dampening" in t.params for t in trials)


def test_native_optuna_told_a_foreign_point_learns_only_its_active_parameters():
    space = SearchSpace.from_dict(COND_SPACE)
    searcher, codec = get_adapter("optuna").build(space, METRIC, MODE, SEED, {}, native=True)
    point = {"optimizer": "adam", "layers": 1, "lr": 0.01}  # momentum, nesterov, ... inactive
    searcher.add_evaluated_point(codec.encode(point), 1.5)
    (trial,) = searcher.study.trials
    assert set(trial.params) == set(point) and trial.value == 1.5
    back = codec.decode(codec.encode(point))
    assert set(back) == set(point) and back["lr"] == pytest.approx(0.01)


def test_random_search_gives_each_branch_its_share():
    """Statistical: with random search the conditions hold at their probabilities."""
    points, _ = session("random", asks=600)
    n = len(points)
    share = sum("momentum" in p for p in points) / n  # P(sgd or rmsprop) = 2/3
    assert abs(share - 2 / 3) < 0.07
    nested = sum("dampening" in p for p in points) / n  # P(sgd) * P(True) = 1/6
    assert abs(nested - 1 / 6) < 0.05


def _told_points(name, searcher, codec):
    """The latent points the library behind ``searcher`` holds as evaluated, as configs."""
    library = searcher._ready() if hasattr(searcher, "_ready") else searcher  # noqa: SLF001 - past RandomStart
    names = list(codec.encodings)
    if name.startswith("skopt"):
        return [dict(zip(names, x)) for x in library._opt.Xi]  # noqa: SLF001
    if name.startswith("bayesian"):
        return [dict(zip(library._opt.space.keys, x)) for x in library._opt.space.params]  # noqa: SLF001
    raise AssertionError(name)


# (hebo's and nevergrad's cores take the told point by the same codec.evaluated as these two)
@pytest.mark.parametrize("name", ["skopt/native", "bayesian/native"])
def test_a_flat_searcher_is_told_inactive_parameters_at_one_neutral_value(name):
    """A searcher of the flat space learns nothing from a value the trial never used: every
    told point carries an inactive parameter at the same neutral value."""
    from hpogrid.search._codec import neutral

    points, searcher = session(name)
    space = SearchSpace.from_dict(COND_SPACE)
    _, codec = build(name, space, SEED)
    told = _told_points(name, searcher, codec)
    assert len(told) >= ASKS - 1
    inactive_seen = 0
    for config in told:
        values = codec.decode(config)
        for param in set(codec.encodings) - set(values):  # inactive in this trial
            inactive_seen += 1
            assert config[param] == pytest.approx(neutral(codec.encodings[param])), (param, config)
    assert inactive_seen > 0  # the session had trials with inactive parameters


@pytest.mark.parametrize("name", ["skopt", "bayesian"])
def test_under_ray_tune_a_flat_searcher_is_told_inactive_parameters_at_the_neutral_value_too(name):
    """The Ray Tune searcher over the same core (Tune reports the trial's config with its result)."""
    from hpogrid.search._codec import neutral

    space = SearchSpace.from_dict(COND_SPACE)
    searcher, codec = build(name, space, SEED)  # the Ray Tune searcher
    for i in range({"skopt": 8, "bayesian": 12}[name]):  # (bayesian: past its random start of 10)
        while (config := searcher.suggest(f"t{i}")) is None:  # (a random start waits for its library)
            time.sleep(0.05)
        searcher.on_trial_complete(f"t{i}", {METRIC: loss(codec.decode(config)), "config": dict(config)})
    inactive_seen = 0
    for told in _told_points(name, searcher.core, codec):
        for param in set(codec.encodings) - set(codec.decode(told)):
            inactive_seen += 1
            assert told[param] == pytest.approx(neutral(codec.encodings[param]))
    assert inactive_seen > 0


def test_under_ray_tune_optuna_is_told_only_the_active_parameters_too():
    """Ray's OptunaSearch would be told whole proposals: under Ray Tune a conditional space runs
    hpogrid's optuna core, its configs made whole for Tune (inactive values neutral, dropped)."""
    space = SearchSpace.from_dict(COND_SPACE)
    searcher, codec = build("optuna", space, SEED)  # the Ray Tune searcher
    for i in range(ASKS):
        config = searcher.suggest(f"t{i}")
        assert set(config) == set(codec.encodings)  # whole, for Tune's param_space
        searcher.on_trial_complete(f"t{i}", {METRIC: loss(codec.decode(config)), "config": dict(config)})
    trials = searcher.core.study.trials
    assert len(trials) == ASKS and all(t.state.name == "COMPLETE" for t in trials)
    for trial in trials:
        assert set(trial.params) == expected(codec.decode(codec.complete(trial.params)))
    assert any("dampening" in t.params for t in trials)


# -- BOHB: a ConfigSpace with the conditions ------------------------------------------------------

#: hpbandster calls ConfigSpace's deprecated ``get_dictionary`` twice for every proposal
bohb_quiet = pytest.mark.filterwarnings("ignore:Please use `dict:DeprecationWarning")


def _bohb(space_dict, seed=SEED):
    space = SearchSpace.from_dict(space_dict)
    return get_adapter("bohb").build(space, METRIC, MODE, seed, {})


def _bohb_points(space_dict, active, n):
    """``n`` decoded BOHB proposals, each checked: BOHB's own record of it (what it is told with
    the result) names exactly the parameters ``active(point)`` says are active, and the config
    is whole (Tune's param_space)."""
    searcher, codec = _bohb(space_dict)
    points = []
    for i in range(n):
        config = searcher.suggest(f"t{i}")
        point = codec.decode(config)
        assert set(searcher.trial_to_params[f"t{i}"]) == set(point) == active(point), point
        assert set(config) == set(codec.encodings)
        points.append(point)
    return points


@bohb_quiet
def test_bohb_draws_a_conditional_parameter_exactly_when_its_condition_holds():
    """Statistical: BOHB's own record of each proposal (what it is told with the result) names
    exactly the active parameters, and each branch has its probability."""
    n = 1500
    points = _bohb_points(COND_SPACE, expected, n)
    share = {name: sum(name in p for p in points) / n for name in ("momentum", "dampening", "width2")}
    assert abs(share["momentum"] - 2 / 3) < 0.05  # sgd or rmsprop
    assert abs(share["dampening"] - 1 / 6) < 0.04  # sgd, then nesterov true
    assert abs(share["width2"] - 4 / 9) < 0.05  # layers 2 or 3, and adam or sgd


#: q-method parents: BOHB sees the value before rounding (quniform; qloguniform: its log) or the
#: normal's probability (qnormal, qlognormal), so a condition on one is intervals of that dimension
Q_PARENTS = {
    "qu": {"method": "quniform", "dimension": {"low": 0, "high": 1, "q": 0.25}},
    "a": {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"qu": [0.0, 1.0]}},  # the ends
    "qlu": {"method": "qloguniform", "dimension": {"low": 1, "high": 64, "q": 1}},
    "b": {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"qlu": [2, 3, 5]}},
    "qn": {"method": "qnormal", "dimension": {"mu": 0, "sigma": 1, "q": 0.5}},
    "c": {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"qn": [0.0, 0.5], "qu": [0.5]}},
    "qln": {"method": "qlognormal", "dimension": {"mu": 1, "sigma": 0.5, "q": 1}, "when": {"qu": [0.25, 0.5, 0.75]}},
    "d": {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"qln": [2, 3]}},  # under a conditional
    "whole": {"method": "quniform", "dimension": {"low": 0, "high": 1, "q": 1}, "when": {"qln": [2, 3]}},
    "e": {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"whole": [0, 1]}},  # all its values
    "never": {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"qn": [100.0]}},  # beyond 7 sigma
}


def q_expected(point):
    names = {"qu", "qlu", "qn"}
    if point["qu"] in (0, 1):
        names.add("a")
    if point["qlu"] in (2, 3, 5):
        names.add("b")
    if point["qn"] in (0, 0.5) and point["qu"] == 0.5:
        names.add("c")
    if point["qu"] in (0.25, 0.5, 0.75):
        names.add("qln")
        if point["qln"] in (2, 3):
            names |= {"d", "whole", "e"}
    return names


@bohb_quiet
def test_bohb_conditions_on_q_method_parents_hold_exactly():
    """Statistical: over the rounding of a q-method parent, BOHB draws a child exactly when the
    rounded value is listed, at the probability of the grammar."""
    from statistics import NormalDist

    n = 1500
    points = _bohb_points(Q_PARENTS, q_expected, n)
    share = {name: sum(name in p for p in points) / n for name in "abcde"}
    lu = {k: math.log((k + 0.5) / (k - 0.5)) / math.log(64) for k in (2, 3, 5)}
    qn = NormalDist().cdf(0.75) - NormalDist().cdf(-0.25)
    qln = NormalDist(1, 0.5).cdf(math.log(3.5)) - NormalDist(1, 0.5).cdf(math.log(1.5))
    assert abs(share["a"] - 1 / 4) < 0.04
    assert abs(share["b"] - sum(lu.values())) < 0.04
    assert abs(share["c"] - qn / 4) < 0.03
    assert abs(share["d"] - 3 / 4 * qln) < 0.05
    assert share["e"] == share["d"]
    assert not any("never" in p for p in points)


def test_bohb_q_method_intervals_end_on_adjacent_floats():
    """Each interval of a q-method parent's dimension ends exactly where the rounding changes:
    its ends give a listed value, the next float beyond them does not."""
    from hpogrid.search._bohb import _spans

    space = SearchSpace.from_dict(Q_PARENTS)
    codec = get_adapter("bohb").codec(space)
    cs = get_adapter("bohb").build(space, METRIC, MODE, SEED, {})[0]._space
    for parent, listed, count in (("qu", (0.0, 1.0), 2), ("qlu", (2, 3, 5), 2), ("qn", (0.0, 0.5), 1), ("qln", (2, 3), 1)):
        enc, param = codec.encodings[parent], space[parent]
        low, high = cs[parent].lower, cs[parent].upper

        def value(u):
            return param.decode(enc.to_latent(u))

        spans = _spans(value, listed, low, high)
        assert len(spans) == count  # (adjacent values make one interval)
        for a, b in spans:
            assert value(a) in listed and value(b) in listed
            if a > low:
                assert value(math.nextafter(a, -math.inf)) not in listed
            if b < high:
                assert value(math.nextafter(b, math.inf)) not in listed


@bohb_quiet
def test_bohb_model_proposes_and_records_only_active_parameters():
    """After enough results for its kernel densities, BOHB's model-based proposals keep the
    conditions, and the vectors it models hold an inactive parameter as missing (NaN)."""
    import numpy as np

    state = np.random.get_state()  # hpbandster draws from numpy's global generator
    np.random.seed(SEED)
    try:
        searcher, codec = _bohb(COND_SPACE)
        points = []
        for i in range(18):  # BOHB models once 2 x (7 parameters + 1) results are in
            config = searcher.suggest(f"t{i}")
            point = codec.decode(config)
            assert set(searcher.trial_to_params[f"t{i}"]) == expected(point)
            points.append(point)
            searcher.on_trial_result(f"t{i}", {METRIC: loss(point), "hyperband_info": {"budget": 1.0}})
            searcher.on_trial_complete(f"t{i}", {METRIC: loss(point)})
        assert list(searcher.bohber.kde_models) == [1.0]
        modelled = 0
        for _ in range(8):
            proposal, info = searcher.bohber.get_config(None)
            modelled += info["model_based_pick"]
            assert set(proposal) == expected(codec.decode(codec.complete(proposal))), proposal
        assert modelled >= 2
        names = list(searcher._space.keys())  # noqa: SLF001 - the order of BOHB's vectors
        for vector, point in zip(searcher.bohber.configs[1.0], points):
            assert {n for n, x in zip(names, vector) if not np.isnan(x)} == expected(point)
    finally:
        np.random.set_state(state)


def test_bohb_fills_in_a_value_it_left_out_that_the_codec_finds_active():
    """Where ConfigSpace's rounding and the codec's could disagree (within 1e-13 of an interval's
    end), a parameter BOHB left out that the trial needs is drawn, never missing or made up."""
    import numpy as np

    from hpogrid.search._bohb import complete

    space = SearchSpace.from_dict(COND_SPACE)
    codec = get_adapter("bohb").codec(space)
    proposal = {"optimizer": 0, "layers": 1, "lr": -4.0}  # sgd, without momentum and nesterov
    whole = complete(codec, proposal, np.random.default_rng(SEED))
    point = codec.decode(whole)
    assert set(point) == expected(point) >= {"momentum", "nesterov"}
    assert set(whole) == set(codec.encodings)


# -- HyperOpt: nested choices ---------------------------------------------------------------------

def _labels(doc):
    return {n for n, v in doc["misc"]["vals"].items() if v}


def test_hyperopt_space_nests_each_conditional_parameter_in_its_parents_branches():
    from hpogrid.search._hyperopt import nesting

    codec = get_adapter("hyperopt").codec(SearchSpace.from_dict(COND_SPACE))
    # width2 also needs layers 2 or 3 (an integer parent): in the adam and sgd branches, kept
    # only where layers holds too
    assert nesting(codec) == {"momentum": ("optimizer", (0, 2)), "nesterov": ("optimizer", (0,)),
                              "dampening": ("nesterov", (0,)), "width2": ("optimizer", (0, 1))}


def test_hyperopt_draws_a_conditional_parameter_only_in_its_branch():
    """Statistical, over HyperOpt's own random draws (its startup jobs): each proposal's
    document holds the parameters of the branches taken, and once finished only the active ones."""
    searcher, codec = get_adapter("hyperopt").build(SearchSpace.from_dict(COND_SPACE), METRIC, MODE, SEED,
                                                    {"n_initial_points": 10 ** 6})
    core = searcher.core  # (under Ray Tune: the core the other backends ask)
    n = 400
    points = []
    for i in range(n):
        config = searcher.suggest(f"t{i}")
        point = codec.decode(config)
        assert set(point) == expected(point)
        in_branch = {"width2"} if point["optimizer"] in ("adam", "sgd") else set()
        assert _labels(core._live[f"t{i}"]) == expected(point) | in_branch  # noqa: SLF001
        searcher.on_trial_complete(f"t{i}", {METRIC: loss(point), "config": config})
        assert _labels(core._trials.trials[-1]) == expected(point)  # noqa: SLF001
        points.append(point)
    share = {name: sum(name in p for p in points) / n for name in ("momentum", "dampening", "width2")}
    assert abs(share["momentum"] - 2 / 3) < 0.08
    assert abs(share["dampening"] - 1 / 6) < 0.06
    assert abs(share["width2"] - 4 / 9) < 0.08


@pytest.mark.parametrize("name", ["hyperopt", "hyperopt/native"])
def test_hyperopt_keeps_to_the_branches_and_records_only_the_active_values(name):
    """Under Ray Tune's searcher (the core itself, from HyperOpt's own startup draws) and natively
    (after hpogrid's random start, told as evaluated points), TPE's proposals keep to the
    branches, and HyperOpt's document of every finished trial holds only its active parameters."""
    space = SearchSpace.from_dict(COND_SPACE)
    searcher, codec = get_adapter("hyperopt").build(space, METRIC, MODE, SEED, {"n_initial_points": 4},
                                                    native=name.endswith("/native"))
    asker = AskTell(searcher, codec, METRIC, MODE)
    points, own = [], 0
    for i in range(14):
        answer = asker.ask(f"t{i}")
        point = codec.decode(answer.config)
        assert set(point) == expected(point)
        points.append(point)
        core = searcher.core if name == "hyperopt" else searcher._library  # noqa: SLF001 - past the random start
        live = core._live.get(answer.uid) if core is not None else None  # noqa: SLF001
        if live is not None:  # HyperOpt's own proposal
            own += 1
            in_branch = {"width2"} if point["optimizer"] in ("adam", "sgd") else set()
            assert _labels(live) == expected(point) | in_branch
        asker.tell(answer.uid, {METRIC: loss(point)}, ok=True)
    assert own >= 10
    docs = core._trials.trials  # noqa: SLF001
    assert len(docs) == 14
    for doc, point in zip(docs, points):
        assert _labels(doc) == set(point), (doc["misc"]["vals"], point)
    assert any("dampening" in p for p in points)  # the nested branch was reached


def test_hyperopt_under_ray_tune_runs_given_points_first_and_survives_tunes_checkpoint(tmp_path):
    """Ray Tune's searcher of a conditional space: ``points_to_evaluate`` are run first and told
    with their active parameters, and the searcher pickles (Tune saves it with the experiment)."""
    space = SearchSpace.from_dict(COND_SPACE)
    given = {"optimizer": 1, "layers": 1, "lr": math.log(0.01)}  # adam: no momentum, nesterov, width2
    searcher, codec = get_adapter("hyperopt").build(space, METRIC, MODE, SEED, {"points_to_evaluate": [given]})
    assert searcher.conditional_native
    first = searcher.suggest("p0")
    assert codec.decode(first) == {"optimizer": "adam", "layers": 1, "lr": pytest.approx(0.01)}
    searcher.on_trial_complete("p0", {METRIC: 1.0, "config": first})
    searcher.save(str(tmp_path / "searcher.pkl"))
    searcher.restore(str(tmp_path / "searcher.pkl"))
    (doc,) = searcher.core._trials.trials  # noqa: SLF001
    assert _labels(doc) == {"optimizer", "layers", "lr"} and doc["result"]["loss"] == 1.0
    point = codec.decode(searcher.suggest("t1"))
    assert set(point) == expected(point)
