"""Issue #34 item 10: deep input (constraints, chains and cycles of conditions) never overflows
Python's stack: it reads, or it is one line."""
import json

import pytest

from tests.conftest import tree_snapshot
from tests.hostile._helpers import refused


XY = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
      "y": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}

DEEP_CONSTRAINTS = [
    "-" * 990 + "x <= 1",                     # the example
    "-" * 201 + "x <= 1",                     # just past the bound
    "-+" * 490 + "x <= 1",
    "x" + " + x" * 240 + " <= 1",              # a left-nested chain of sums
    "x" + "-y*" * 300 + "2 <= 1",
    "1 <= " + "- " * 480 + "y",                # on the right-hand side
    "~" * 900 + "x <= 1",                     # refused by the whitelist, after the depth check
    "not " * 240 + "x <= 1",
]


@pytest.mark.parametrize("text", DEEP_CONSTRAINTS, ids=range(len(DEEP_CONSTRAINTS)))
def test_a_deeply_nested_constraint_is_one_line(run_cli, hpogrid_home, text):
    assert len(text) <= 1000
    before = tree_snapshot(hpogrid_home)
    r = run_cli("search_space", "create", "s", json.dumps({**XY, "constraints": [text]}))
    refused(r, before, hpogrid_home, r"search_space\.constraints\[0\]: (is nested more than 200 levels deep|"
                                     r"is not an expression hpogrid can read|must compare)")


@pytest.mark.parametrize("text", ["-" * 150 + "x <= 1", "x" + " + x" * 150 + " <= 160", "- - - (x + y) <= 1"])
def test_constraints_nested_within_the_bound_still_read(run_cli, text):
    r = run_cli("search_space", "create", "s", json.dumps({**XY, "constraints": [text]}))
    assert r.exit_code == 0, r.output


def _chain(n: int, child_first: bool, cycle: bool = False) -> dict:
    """p0 exists when p1 is "on", p1 when p2 is "on", ...; the last closes a cycle if asked."""
    space = {}
    for i in range(n):
        spec = {"method": "categorical", "dimension": {"categories": ["on", "off"]}}
        if i + 1 < n or cycle:
            spec["when"] = {f"p{(i + 1) % n}": ["on"]}
        space[f"p{i}"] = spec
    return space if child_first else dict(reversed(list(space.items())))


@pytest.mark.parametrize("n", [400, 999, 1000])
@pytest.mark.parametrize("child_first", [True, False], ids=["child-first", "parent-first"])
def test_a_long_chain_of_conditions_reads(run_cli, n, child_first):
    r = run_cli("search_space", "create", "s", json.dumps(_chain(n, child_first)))
    assert r.exit_code == 0, r.output
    shown = json.loads(run_cli("search_space", "show", "s").output)
    assert shown["p0"]["when"] == {"p1": ["on"]} and "when" not in shown[f"p{n - 1}"]


@pytest.mark.parametrize("n", [3, 400, 999, 1000])
@pytest.mark.parametrize("child_first", [True, False], ids=["child-first", "parent-first"])
def test_a_long_cycle_of_conditions_is_one_line(run_cli, hpogrid_home, n, child_first):
    before = tree_snapshot(hpogrid_home)
    r = run_cli("search_space", "create", "s", json.dumps(_chain(n, child_first, cycle=True)))
    refused(r, before, hpogrid_home, r"search_space\.p\d+\.when\.p\d+: conditions form a cycle: p\d+ -> p\d+ -> ")
    if n > 10:
        assert f"({n} parameters)" in r.output and len(r.output) < 300


def test_a_cycle_at_the_end_of_a_long_chain_is_one_line(run_cli, hpogrid_home):
    space = _chain(990, child_first=True)
    space["q0"] = {"method": "categorical", "dimension": {"categories": ["on"]}, "when": {"q1": ["on"]}}
    space["q1"] = {"method": "categorical", "dimension": {"categories": ["on"]}, "when": {"q0": ["on"]}}
    space["p989"]["when"] = {"q0": ["on"]}
    before = tree_snapshot(hpogrid_home)
    refused(run_cli("search_space", "create", "s", json.dumps(space)), before, hpogrid_home,
            r"conditions form a cycle: q0 -> q1 -> q0$")
