"""The Objectives value: parsing the hpo_config forms, a trial's values, constraints, storage."""
import math

import pytest

from hpogrid.errors import ValidationError
from hpogrid.objectives import Objectives


def test_one_metric_is_the_plain_pair_and_stores_nothing_extra():
    one = Objectives.parse("loss", "min")
    assert (one.metric, one.mode, one.is_multi, one.to_attrs()) == ("loss", "min", False, {})
    assert one.config_values() == ("loss", "min")
    assert Objectives.from_study("loss", "min", {}) == one  # a study written before several existed


def test_several_from_lists_or_comma_text_round_trip_through_a_study():
    two = Objectives.parse("loss, latency", ["min", "max"], {"mem": ["<=", 4]})
    assert two.metrics == ("loss", "latency") and two.modes == ("min", "max") and two.is_multi
    assert Objectives.from_study("loss", "min", two.to_attrs()) == two
    assert two.config_values() == (["loss", "latency"], ["min", "max"])


@pytest.mark.parametrize("metric, mode, constraints, message", [
    ("a,b", "min", None, "hpo_config.mode: 2 metric(s) need 2 mode(s), one per metric in the same order (got 1: min)"),
    ("a,a", "min,min", None, "hpo_config.metric: names a metric twice: a, a"),
    ("a,", "min", None, "hpo_config.metric: every entry must be a non-empty string (got 'a,')"),
    ("a", "up", None, "hpo_config.mode: 'up' is not allowed; choose one of: min, max"),
    ("a", "min", {"m": ["<", 1]}, "hpo_config.constraints.m: operator '<' is not allowed; choose one of: <=, >="),
    ("a", "min", {"m": ["<=", math.nan]}, "hpo_config.constraints.m: bound must be a finite number (got nan)"),
    ("a", "min", {"m": 3}, 'hpo_config.constraints.m: must be [operator, bound], e.g. ["<=", 20] (got 3)'),
])
def test_bad_definitions_are_one_line_errors(metric, mode, constraints, message):
    with pytest.raises(ValidationError) as err:
        Objectives.parse(metric, mode, constraints)
    assert str(err.value) == message


def test_values_feasibility_and_slacks_of_a_trial():
    o = Objectives.parse(["a", "b"], ["min", "max"], {"c": ["<=", 1], "d": [">=", 0]})
    assert o.values({"a": 1, "b": 2.5, "c": 0}) == (1.0, 2.5)
    assert o.values({"a": 1, "b": math.inf}) is None and o.values({"a": 1}) is None
    assert o.missing({"a": 1, "b": "x"}) == ["b"]
    assert o.feasible({"c": 1, "d": 0}) and not o.feasible({"c": 1.5, "d": 0})
    assert not o.feasible({"d": 0})  # a constraint's metric not reported: infeasible
    assert o.slacks({"c": 3, "d": 2}) == [2, -2]
    assert o.infeasible_reason({"c": 3, "d": 2}) == "c 3 breaks <= 1"
    assert o.infeasible_reason({"d": 2}) == "c missing breaks <= 1"
