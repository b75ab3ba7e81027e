"""Conditional parameters in the grammar: ``when`` parsed, checked (one line naming the field),
round-tripped, and evaluated in dependency order by ``SearchSpace.active``."""
import json

import pytest

from hpogrid.errors import SearchSpaceError
from hpogrid.space import SearchSpace

OPT = {"method": "categorical", "dimension": {"categories": ["sgd", "adam", "rmsprop"]}}
MOMENTUM = {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"optimizer": ["sgd", "rmsprop"]}}
SPACE = {
    "optimizer": OPT,
    "momentum": MOMENTUM,
    "nesterov": {"method": "categorical", "dimension": {"categories": [True, False]},
                 "when": {"optimizer": ["sgd"]}},
    "dampening": {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"nesterov": [True]}},
    "layers": {"method": "uniformint", "dimension": {"low": 1, "high": 4}},
    "width2": {"method": "quniform", "dimension": {"low": 8, "high": 64, "q": 8},
               "when": {"layers": [2, 3, 4], "optimizer": ["adam"]}},
}


def with_when(name, when, space=SPACE):
    out = {k: dict(v) for k, v in space.items()}
    out[name]["when"] = when
    return out


def test_when_round_trips_through_to_dict_and_json():
    space = SearchSpace.from_dict(SPACE)
    assert space.to_dict() == SPACE
    assert SearchSpace.from_json(json.dumps(space.to_dict())) == space
    assert space.when("momentum") == {"optimizer": ("sgd", "rmsprop")} and space.when("optimizer") == {}
    assert space.conditional and not SearchSpace.from_dict({"optimizer": OPT}).conditional
    # the conditions are part of a space's identity
    assert space != SearchSpace.from_dict(with_when("momentum", {"optimizer": ["sgd"]}))


def test_dependency_order_puts_parents_first_even_when_declared_later():
    space = SearchSpace.from_dict({"dampening": SPACE["dampening"], "nesterov": SPACE["nesterov"],
                                   "optimizer": OPT})
    assert space.dependency_order == ("optimizer", "nesterov", "dampening")
    assert list(space) == ["dampening", "nesterov", "optimizer"]  # declaration order is kept


@pytest.mark.parametrize("values, active", [
    ({"optimizer": "adam", "layers": 1}, {"optimizer", "layers"}),
    ({"optimizer": "adam", "layers": 2}, {"optimizer", "layers", "width2"}),
    ({"optimizer": "rmsprop", "layers": 2}, {"optimizer", "layers", "momentum"}),
    ({"optimizer": "sgd", "layers": 1, "nesterov": False}, {"optimizer", "layers", "momentum", "nesterov"}),
    ({"optimizer": "sgd", "layers": 1, "nesterov": True},
     {"optimizer", "layers", "momentum", "nesterov", "dampening"}),
    # a nested parameter whose parent is inactive is inactive, whatever value the parent has
    ({"optimizer": "adam", "layers": 1, "nesterov": True}, {"optimizer", "layers"}),
    # values compare as JSON: 1 is not true
    ({"optimizer": "sgd", "layers": 1, "nesterov": 1}, {"optimizer", "layers", "momentum", "nesterov"}),
])
def test_active_evaluates_conditions_in_dependency_order(values, active):
    space = SearchSpace.from_dict(SPACE)
    assert set(space.active(values)) == active
    assert list(space.active(values)) == [n for n in space if n in active]  # space order


def test_sample_and_contains_have_only_the_active_parameters():
    space = SearchSpace.from_dict(SPACE)
    for seed in range(200):
        point = space.sample(seed)
        assert set(point) == set(space.active(point)) and space.contains(point)
    assert not space.contains({"optimizer": "adam", "layers": 1, "momentum": 0.5})  # inactive given
    assert not space.contains({"optimizer": "sgd", "layers": 1})  # active missing


BAD = [
    (with_when("momentum", {"optimizer": ["adam2"]}),
     "search_space.momentum.when.optimizer: 'adam2' is not one of its categories: sgd, adam, rmsprop"),
    (with_when("momentum", {"optimiser": ["sgd"]}),
     "search_space.momentum.when.optimiser: unknown parameter 'optimiser' (parameters: optimizer, momentum, "
     "nesterov, dampening, layers, width2)"),
    (with_when("momentum", {"momentum": [0.5]}), "search_space.momentum.when.momentum: a parameter cannot depend "
                                                 "on itself"),
    (with_when("optimizer", {"dampening": [0.5]}), "search_space.optimizer.when.dampening: dampening is uniform, "
                                                   "a continuous parameter; a condition needs categorical, fixed, "
                                                   "uniformint or a q-method parent"),
    (with_when("optimizer", {"nesterov": [True]}),
     "search_space.optimizer.when.nesterov: conditions form a cycle: optimizer -> nesterov -> optimizer"),
    (with_when("width2", {"layers": [5]}),
     "search_space.width2.when.layers: 5 is not a value of uniformint {\"high\":4,\"low\":1}"),
    (with_when("width2", {"layers": [2.0]}),
     "search_space.width2.when.layers: 2.0 is not a value of uniformint {\"high\":4,\"low\":1}"),
    (with_when("momentum", {"optimizer": "sgd"}),
     "search_space.momentum.when.optimizer: must be a non-empty array of the values optimizer must take "
     "(got 'sgd')"),
    (with_when("momentum", {"optimizer": []}),
     "search_space.momentum.when.optimizer: must be a non-empty array of the values optimizer must take (got [])"),
    (with_when("momentum", {}), "search_space.momentum.when: must be a non-empty object mapping a parameter "
                                "name to the list of values it must take (got {})"),
    (with_when("momentum", {"optimizer": ["sgd"]},
               {**SPACE, "optimizer": {"method": "categorical",
                                       "dimension": {"categories": ["sgd", "adam", "rmsprop"], "grid_search": 1}}}),
     "search_space.momentum.when.optimizer: optimizer has grid_search, which runs every category whether or not "
     "a condition holds; set its grid_search to 0"),
    ({"g": {"method": "categorical", "dimension": {"categories": [1, 2], "grid_search": 1}, "when": {"o": ["a"]}},
      "o": {"method": "categorical", "dimension": {"categories": ["a"]}}},
     "search_space.g.when: a grid_search parameter cannot be conditional (the grid runs every category)"),
]


@pytest.mark.parametrize("spec, message", BAD, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(BAD)])
def test_bad_conditions_are_one_line_errors_naming_the_field(spec, message):
    with pytest.raises(SearchSpaceError) as err:
        SearchSpace.from_dict(spec)
    assert str(err.value) == message
    assert "\n" not in str(err.value)


def test_a_fixed_parent_and_a_three_step_cycle():
    space = SearchSpace.from_dict({"f": {"method": "fixed", "dimension": {"value": "on"}},
                                   "x": {**MOMENTUM, "when": {"f": ["on"]}}})
    assert set(space.active({"f": "on"})) == {"f", "x"}
    cyc = {"a": {"method": "categorical", "dimension": {"categories": [1]}, "when": {"c": [1]}},
           "b": {"method": "categorical", "dimension": {"categories": [1]}, "when": {"a": [1]}},
           "c": {"method": "categorical", "dimension": {"categories": [1]}, "when": {"b": [1]}}}
    cycle = r"^search_space\.a\.when\.c: conditions form a cycle: a -> c -> b -> a$"
    with pytest.raises(SearchSpaceError, match=cycle):
        SearchSpace.from_dict(cyc)


def test_cli_create_refuses_a_bad_condition_in_one_line_and_writes_nothing(run_cli, hpogrid_home):
    bad = with_when("momentum", {"optimizer": ["adam2"]})
    r = run_cli("search_space", "create", "s", json.dumps(bad))
    assert r.exit_code == 1
    assert r.output == ("Error: search_space.momentum.when.optimizer: 'adam2' is not one of its categories: "
                        "sgd, adam, rmsprop\n")
    from hpogrid.configs import NamedStore

    assert NamedStore("search_space").names() == [] and run_cli("search_space", "show", "s").exit_code != 0


def test_cli_create_show_and_update_a_conditional_space(run_cli, hpogrid_home, tmp_path):
    f = tmp_path / "space.yaml"
    f.write_text("optimizer:\n  method: categorical\n  dimension: {categories: [sgd, adam, rmsprop]}\n"
                 "momentum:\n  method: uniform\n  dimension: {low: 0, high: 1}\n  when: {optimizer: [sgd, rmsprop]}\n")
    assert run_cli("search_space", "create", "s", "--file", f).exit_code == 0
    assert json.loads(run_cli("search_space", "show", "s").output) == {"optimizer": OPT, "momentum": MOMENTUM}
    # an update may name a parent that is already stored
    extra = {"nesterov": SPACE["nesterov"]}
    r = run_cli("search_space", "update", "s", json.dumps(extra))
    assert r.exit_code == 0, r.output
    assert json.loads(run_cli("search_space", "show", "s").output)["nesterov"] == SPACE["nesterov"]
    r = run_cli("search_space", "update", "s", json.dumps({"nesterov": {**SPACE["nesterov"],
                                                                          "when": {"optimizer": ["nadam"]}}}))
    assert r.exit_code == 1 and r.output.startswith("Error: search_space.nesterov.when.optimizer: 'nadam' is not")
    assert "when" in run_cli("search_space", "create", "--help").output
