"""Parameter constraints with real searchers: the constraint wrapper hands out only proposals
that satisfy every constraint (decoded, as the model receives them), tells the inner searcher
each rejected one as a failed trial, and gives up in one line when feasible points are too rare."""
import pickle
import sys

import pytest

from hpogrid.errors import ValidationError
from hpogrid.search import FINISHED, NOT_NOW, AskTell, SearchCore, Suggestion, get_adapter
from hpogrid.search._codec import NO_NORMAL, Codec
from hpogrid.search._constrained import ConstrainedSearcher, ax_constraints, constrain, rejected, unwrap
from hpogrid.space import SearchSpace

METRIC, MODE, SEED = "loss", "min", 3

#: about 1 proposal in 6 satisfies both constraints when drawn at random
SPACE = {
    "x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
    "y": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
    "layers": {"method": "uniformint", "dimension": {"low": 1, "high": 8}},
    "units": {"method": "qloguniform", "dimension": {"low": 16, "high": 256, "q": 16}},
    "opt": {"method": "categorical", "dimension": {"categories": ["sgd", "adam"]}},
    "momentum": {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"opt": ["sgd"]}},
    "constraints": ["x + y <= 0.8", "layers * units <= 512", "momentum + x <= 1"],
}


def feasible(v):
    """The constraints, written out by hand."""
    return v["x"] + v["y"] <= 0.8 and v["layers"] * v["units"] <= 512 and v.get("momentum", 0) + v["x"] <= 1


def loss(v):
    return (v["x"] - 0.3) ** 2 + (v["y"] - 0.4) ** 2 + abs(v["layers"] * v["units"] - 400) / 400


def drive(searcher, codec, asks):
    """Ask and tell ``asks`` times; the decoded points."""
    asker = AskTell(searcher, codec, METRIC, MODE)
    points = []
    for i in range(asks):
        answer = asker.ask(f"t{i}")
        assert isinstance(answer, Suggestion), answer
        point = codec.decode(answer.config)
        points.append(point)
        asker.tell(answer.uid, {METRIC: loss(point)}, ok=True)
    return points


@pytest.mark.parametrize("algorithm,asks", [("random", 300), ("optuna", 200), ("hyperopt", 120)])
def test_no_proposal_breaks_a_constraint(algorithm, asks):
    space = SearchSpace.from_dict(SPACE)
    searcher, codec = get_adapter(algorithm).build(space, METRIC, MODE, SEED, {}, native=True)
    wrapped = constrain(searcher, codec, ray=False, seed=SEED)
    assert isinstance(wrapped, ConstrainedSearcher) and unwrap(wrapped) is searcher
    points = drive(wrapped, codec, asks)
    assert all(feasible(p) and space.feasible(p) for p in points)
    assert all(space.contains(p) for p in points)
    assert {p["opt"] for p in points} == {"sgd", "adam"}
    assert wrapped.rejected > asks // 2 and rejected(wrapped) == wrapped.rejected
    if algorithm == "random":
        assert wrapped.filled == 0  # random search is never stuck: no fill-in
    else:  # the model got stuck on infeasible points at times: random points filled in
        assert 0 < wrapped.filled < asks
    if algorithm == "optuna":  # every result was told, the fill-ins' as evaluated points
        states = [t.state.name for t in searcher.study.trials]
        assert states.count("COMPLETE") == asks and states.count("FAIL") == wrapped.rejected
    # the same seed gives the same points
    again, codec2 = get_adapter(algorithm).build(space, METRIC, MODE, SEED, {}, native=True)
    assert drive(constrain(again, codec2, seed=SEED), codec2, 30) == points[:30]


def test_random_search_budget_counts_accepted_points_and_each_grid_point():
    space = SearchSpace.from_dict({**SPACE, "opt": {"method": "categorical",
                                                    "dimension": {"categories": ["sgd", "adam"], "grid_search": 1}},
                                   "momentum": {"method": "uniform", "dimension": {"low": 0, "high": 1}}})
    searcher, codec = get_adapter("random").build(space, METRIC, MODE, SEED, {}, native=True)
    wrapped = constrain(searcher, codec)
    assert not wrapped.learns and wrapped.budgeted
    wrapped.num_samples = 25  # as the engine sets it: per grid point, on the sampler
    assert searcher.num_samples == 25 and wrapped.grid_size == 2
    asker = AskTell(wrapped, codec, METRIC, MODE)
    points = []
    while isinstance(answer := asker.ask(f"t{len(points)}"), Suggestion):
        points.append(codec.decode(answer.config))
        asker.tell(answer.uid, {METRIC: 1.0}, ok=True)
    assert answer is FINISHED
    assert len(points) == 50 and all(feasible(p) for p in points)
    assert [p["opt"] for p in points] == ["sgd", "adam"] * 25
    assert wrapped.rejected > 50


def test_practically_infeasible_space_is_a_one_line_error():
    space = SearchSpace.from_dict({**SPACE, "constraints": ["x + y <= 0.8", "x * y >= 0.99"]})
    searcher, codec = get_adapter("random").build(space, METRIC, MODE, SEED, {}, native=True)
    asker = AskTell(constrain(searcher, codec, name="random"), codec, METRIC, MODE)
    with pytest.raises(ValidationError) as info:
        asker.ask("t0")
    text = str(info.value)
    assert text == ("search_space.constraints: 1000 points in a row proposed by random broke a constraint, most "
                    "often [1] 'x * y >= 0.99': the space is practically infeasible for this searcher; relax the "
                    "constraints or shift the parameters' ranges so that points satisfying them are not rare")
    # settable; a searcher that learns is told each rejection of its own as a failed trial, then
    # random points fill in
    searcher, codec = get_adapter("optuna").build(space, METRIC, MODE, SEED, {}, native=True)
    wrapped = constrain(searcher, codec, max_rejections=30, seed=SEED)
    with pytest.raises(ValidationError, match=r"^search_space.constraints: 30 points in a row proposed by "
                                              r"OptunaAskTell and random fill-in points broke a constraint, most "
                                              r"often \[1\] 'x \* y >= 0.99': the space is practically infeasible"):
        wrapped.suggest("t0")
    states = [t.state.name for t in searcher.study.trials]
    assert states == ["FAIL"] * 20 and (wrapped.rejected, wrapped.fill_rejected, wrapped.filled) == (20, 10, 0)


def test_no_constraints_no_wrapper():
    space = SearchSpace.from_dict({k: v for k, v in SPACE.items() if k != "constraints"})
    searcher, codec = get_adapter("random").build(space, METRIC, MODE, SEED, {}, native=True)
    assert constrain(searcher, codec) is searcher and constrain(searcher, codec, ray=True) is searcher
    assert constrain(None, codec) is None and rejected(searcher) == 0


class Scripted(SearchCore):
    """An inner searcher that proposes given configs (None: NOT_NOW) and records what it is told."""

    conditional_native = True
    told_metrics = True

    def __init__(self, configs):
        self.configs = list(configs)
        self.asked, self.told, self.results, self.observed, self.points = [], [], [], [], []
        self.metric = METRIC

    def set_search_properties(self, metric, mode, config, **spec):
        self.properties = (metric, mode, config, spec)
        return "inner answer"

    def suggest(self, trial_id):
        self.asked.append(trial_id)
        return self.configs.pop(0) if self.configs else "FINISHED"

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.told.append((trial_id, result, error))

    def on_trial_result(self, trial_id, result):
        self.results.append(trial_id)

    def observe(self, trial_id, used, distributions):
        self.observed.append(trial_id)

    def add_evaluated_point(self, config, value, **kwargs):
        self.points.append((config, value, kwargs))

    def save(self, path):
        with open(path, "wb") as fh:
            pickle.dump((self.configs, self.told), fh)

    def restore(self, path):
        with open(path, "rb") as fh:
            self.configs, self.told = pickle.load(fh)


def _codec():
    space = SearchSpace.from_dict({"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
                                   "constraints": ["x <= 0.5"]})
    return Codec.build(space, NO_NORMAL)


def test_signals_capabilities_and_trial_ids_pass_through(tmp_path):
    codec = _codec()
    inner = Scripted([{"x": 0.9}, None, {"x": 0.8}, {"x": 0.1}, {"x": 0.2}])
    wrapped = constrain(inner, codec)
    assert wrapped.set_search_properties("m", "max", {"x": 1}, extra=1) == "inner answer"
    assert inner.properties == ("m", "max", {"x": 1}, {"extra": 1})
    assert (wrapped.native, wrapped.conditional_native, wrapped.told_metrics) == (True, True, True)
    assert (wrapped.learns, wrapped.budgeted, wrapped.metric) == (True, False, METRIC)
    wrapped.num_samples = 5  # the capabilities it declares are the inner searcher's, both ways
    assert inner.num_samples == 5

    assert wrapped.suggest("a") is None  # 0.9 rejected, then NOT_NOW passes through
    assert inner.told == [("a", None, True)] and wrapped.rejected == 1 and wrapped.in_a_row == 1
    assert wrapped.suggest("a") == {"x": 0.1}  # "a" was used for a rejected proposal: internal ids
    internal = inner.asked[-1]
    assert inner.asked[0] == "a" and len(set(inner.asked)) == 4 and all(i.startswith("a~") for i in inner.asked[1:])
    assert inner.told[1] == (inner.asked[2], None, True) and wrapped.rejected == 2 and wrapped.in_a_row == 0
    # per-trial calls reach the inner searcher under the id it proposed with
    wrapped.on_trial_result("a", {"loss": 1})
    wrapped.observe("a", {"x": 0.1}, {})
    assert inner.results == [internal] and inner.observed == [internal]
    assert wrapped.suggest("b") == {"x": 0.2}
    assert inner.asked[-1] == "b"

    saved = tmp_path / "ckpt"
    wrapped.save(str(saved))
    wrapped.on_trial_complete("a", {"loss": 1.0})
    wrapped.on_trial_complete("b", {"loss": 2.0})
    assert inner.told[-2:] == [(internal, {"loss": 1.0}, False), ("b", {"loss": 2.0}, False)]
    assert wrapped.suggest("c") == "FINISHED"

    wrapped.add_evaluated_point({"x": 0.7}, 3.0, error=False)  # stored trials are passed on as they are
    assert inner.points == [({"x": 0.7}, 3.0, {"error": False})]

    restored = constrain(Scripted([]), codec)
    restored.restore(str(saved))
    assert restored.rejected == 2 and restored.inner.told == inner.told[:2]
    restored.on_trial_complete("a", {"loss": 1.0})  # the alias survived
    assert restored.inner.told[-1] == (internal, {"loss": 1.0}, False)

    copy = pickle.loads(pickle.dumps(wrapped))
    assert copy.rejected == 2 and copy.inner.asked == inner.asked


def test_a_stuck_searcher_gets_random_fill_ins_and_is_told_their_results():
    codec = _codec()
    inner = Scripted([{"x": 0.9}] * 100 + [{"x": 0.3}])
    wrapped = constrain(inner, codec, patience=4, seed=1)
    fill = wrapped.suggest("a")
    assert fill["x"] <= 0.5 and inner.asked == ["a"] + inner.asked[1:4] and len(inner.asked) == 4
    assert wrapped.rejected == 4 and wrapped.filled == 1 and wrapped.in_a_row == 0
    wrapped.on_trial_result("a", {"loss": 1.0})  # the inner searcher never proposed it: not told
    assert inner.results == []
    wrapped.on_trial_complete("a", {"loss": 2.0, "acc": 0.5, "config": fill})
    assert inner.points == [(fill, 2.0, {"metrics": {"loss": 2.0, "acc": 0.5}})]  # every metric (told_metrics)
    assert inner.told[-1][0] != "a"
    # still stuck: the next fill-in comes after half as many of its proposals, then after one
    asked = len(inner.asked)
    wrapped.suggest("b")
    assert len(inner.asked) - asked == 2
    asked = len(inner.asked)
    wrapped.suggest("c")
    wrapped.suggest("d")
    assert len(inner.asked) - asked == 2 and wrapped.filled == 4
    wrapped.on_trial_complete("b", None, error=True)  # a failed fill-in teaches nothing
    assert len(inner.points) == 1
    # a searcher that learns nothing is never filled in for
    inner = Scripted([{"x": 0.9}] * 30 + [{"x": 0.3}])
    inner.learns = False
    assert constrain(inner, codec, patience=4).suggest("a") == {"x": 0.3}


def test_save_without_an_inner_save_is_not_implemented(tmp_path):
    class Plain(SearchCore):
        def suggest(self, trial_id):
            return {"x": 0.1}

        def on_trial_complete(self, trial_id, result=None, error=False):
            pass

    wrapped = constrain(Plain(), _codec())
    assert wrapped.learns and wrapped.native and not wrapped.told_metrics  # the protocol's defaults
    wrapped.on_trial_result("a", {"loss": 1.0})  # (a no-op by default)
    with pytest.raises(NotImplementedError):
        wrapped.save(str(tmp_path / "ckpt"))


def test_ray_tune_searcher_around_it():
    pytest.importorskip("ray.tune")
    from ray.tune.search import Searcher

    space = SearchSpace.from_dict(SPACE)
    searcher, codec = get_adapter("hyperopt").build(space, METRIC, MODE, SEED, {}, native=False)
    outer = constrain(searcher, codec, ray=True)
    assert isinstance(outer, Searcher) and unwrap(outer) is searcher
    import hpogrid.search._constrained as constrained_module

    # found by name, where it lives and where checkpoints of earlier versions say it lives
    assert getattr(sys.modules[type(outer).__module__], type(outer).__qualname__) is type(outer)
    assert constrained_module.ConstrainedTuneSearcher is type(outer)
    assert outer.set_search_properties(METRIC, MODE, codec.param_space())
    points = []
    for i in range(40):
        config = outer.suggest(f"r{i}")
        point = codec.decode(config)
        assert feasible(point)
        points.append(point)
        outer.on_trial_complete(f"r{i}", {METRIC: loss(point), "config": config})
    assert rejected(outer) > 20 and outer.metric == METRIC
    from ray import cloudpickle

    again = cloudpickle.loads(cloudpickle.dumps(outer))  # Tune pickles its searcher with the Tuner
    assert type(again) is type(outer)  # the class by its name, not rebuilt
    assert feasible(codec.decode(again.suggest("r40")))

    # random search under Ray: the budget set on the wrapper reaches the sampler
    seeded, codec = get_adapter("random").build(space, METRIC, MODE, SEED, {}, native=False)
    outer = constrain(seeded, codec, ray=True)
    assert outer.learns is False and outer.grid_size == 1
    outer.num_samples = 7
    answers = [outer.suggest(f"s{i}") for i in range(8)]
    assert answers[-1] == "FINISHED" and all(feasible(codec.decode(a)) for a in answers[:-1])


def test_ax_gets_the_linear_constraints_on_plain_ranges_and_accepts_them():
    space = SearchSpace.from_dict({
        "x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
        "y": {"method": "uniform", "dimension": {"low": -1, "high": 1}},
        "z": {"method": "uniform", "dimension": {"low": 0, "high": 5}},
        "layers": {"method": "uniformint", "dimension": {"low": 1, "high": 8}},
        "lr": {"method": "loguniform", "dimension": {"low": 1e-5, "high": 1e-1}},
        "constraints": ["2*x - 0.5*y + 3 <= z", "layers + x >= 2", "layers * x <= 4", "lr <= 0.01"]})
    codec = get_adapter("ax").codec(space)
    assert ax_constraints(codec) == ["2.0*x - 0.5*y - 1.0*z <= -3.0", "-1.0*layers - 1.0*x <= -2.0"]
    pytest.importorskip("ax")
    from ax.core.parameter import ParameterType, RangeParameter
    from ax.service.utils.instantiation import InstantiationBase

    params = {"x": RangeParameter("x", ParameterType.FLOAT, 0, 1),
              "y": RangeParameter("y", ParameterType.FLOAT, -1, 1),
              "z": RangeParameter("z", ParameterType.FLOAT, 0, 5),
              "layers": RangeParameter("layers", ParameterType.INT, 1, 8)}
    for constraint in space.constraints[:2]:
        parsed = InstantiationBase.constraint_from_str(constraint.ax_expression(codec), params)
        for point in ({"x": 0.2, "y": 0.3, "z": 4.0, "layers": 2}, {"x": 0.9, "y": -1.0, "z": 1.0, "layers": 1},
                      {"x": 0.5, "y": 0.0, "z": 4.0, "layers": 1}):
            assert parsed.check(point) == constraint.holds(point)


def test_ax_is_built_with_the_linear_constraints_as_its_own():
    """The adapter hands Ax the linear ones (its model then proposes only inside them); the
    constraint wrapper still checks every proposal."""
    space = SearchSpace.from_dict({
        "x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
        "y": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
        "constraints": ["x + y <= 1", "x * y <= 0.1"]})
    searcher, codec = get_adapter("ax").build(space, "loss", "min", 1, {}, native=True)
    experiment = searcher._ready().client.experiment
    assert [str(c) for c in experiment.search_space.parameter_constraints] == [
        "ParameterConstraint(1.0*x + 1.0*y <= 1.0)"]


def test_not_now_from_a_random_start_passes_through():
    """HyperOpt's native searcher begins with hpogrid's random start: rejected random points give
    their place back, and the model is asked once it has results."""
    space = SearchSpace.from_dict(SPACE)
    searcher, codec = get_adapter("hyperopt").build(space, METRIC, MODE, SEED, {"n_initial_points": 3}, native=True)
    asker = AskTell(constrain(searcher, codec), codec, METRIC, MODE)
    pending = []
    for i in range(3):
        answer = asker.ask(f"p{i}")
        assert isinstance(answer, Suggestion) and feasible(codec.decode(answer.config))
        pending.append(answer)
    assert asker.ask("p3") is NOT_NOW  # the library waits for a result
    for answer in pending:
        asker.tell(answer.uid, {METRIC: loss(codec.decode(answer.config))}, ok=True)
    answer = asker.ask("p3")
    assert isinstance(answer, Suggestion) and feasible(codec.decode(answer.config))
