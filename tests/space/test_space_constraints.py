"""Parameter constraints: parsing, one-line validation errors, round trips, holds/feasible,
conditional parameters and Ax's native form."""
import json

import pytest

from hpogrid.errors import SearchSpaceError
from hpogrid.search._codec import ALL_NATIVE, FLOATS_ONLY, NO_NORMAL, Codec
from hpogrid.space import Constraint, SearchSpace

PARAMS = {
    "x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
    "y": {"method": "uniform", "dimension": {"low": -1, "high": 1}},
    "z": {"method": "uniform", "dimension": {"low": 0, "high": 5}},
    "layers": {"method": "uniformint", "dimension": {"low": 1, "high": 8}},
    "units": {"method": "qloguniform", "dimension": {"low": 16, "high": 1024, "q": 16}},
    "lr": {"method": "loguniform", "dimension": {"low": 1e-5, "high": 1e-1}},
    "act": {"method": "categorical", "dimension": {"categories": ["relu", "tanh"]}},
    "seed": {"method": "fixed", "dimension": {"value": 3}},
    "model/lr": {"method": "quniform", "dimension": {"low": 0, "high": 1, "q": 0.1}},
    "lambda": {"method": "normal", "dimension": {"mu": 0, "sigma": 1}},
}


def space(*constraints, params=PARAMS):
    return SearchSpace.from_dict({**params, "constraints": list(constraints)})


def error(*constraints, params=PARAMS) -> str:
    with pytest.raises(SearchSpaceError) as info:
        space(*constraints, params=params)
    text = str(info.value)
    assert "\n" not in text
    return text


GOOD = [
    "x + y <= 1",
    "layers * units <= 4096",
    "2*x - 0.5*y + 3 <= z",
    "x >= y",
    "x < 0.5",
    "z > 1e-3",
    "(x + y) / 2 <= 0.75",
    "-x + +y >= -1",
    "4 * 1024 >= layers * units * 2",
    "`model/lr` + x <= 1.5",
    "`lambda` * 2 <= 3",
    "x*y*z <= 1",
    "1_000 >= units",
]


@pytest.mark.parametrize("text", GOOD)
def test_good_constraints_parse_and_print_back_unchanged(text):
    s = space(text)
    assert s.to_dict()["constraints"] == [text]
    assert [str(c) for c in s.constraints] == [text]
    again = SearchSpace.from_dict(json.loads(json.dumps(s.to_dict())))
    assert again == s and again.constraints == s.constraints


BAD = [
    ("x + ", "is not an expression hpogrid can read"),
    ("x", "must compare two sides with one of <=, >=, <, >"),
    ("x == 1", "compares with ==; use one of <=, >=, <, >"),
    ("x != 1", "compares with !=; use one of"),
    ("0 <= x <= 1", "exactly one comparison (write 0 <= x + y <= 1 as two constraints)"),
    ("x ** 2 <= 1", "the operator ** (multiply instead: x * x) is not allowed in a constraint (allowed: numbers"),
    ("x % 2 <= 1", "the operator % is not allowed"),
    ("x / y <= 1", "divide only by a non-zero number"),
    ("x / 0 <= 1", "divide only by a non-zero number"),
    ("abs(x) <= 1", "a function call is not allowed"),
    ("(x if y else z) <= 1", "is not allowed in a constraint"),
    ("__import__('os') <= 1", "a function call is not allowed"),
    ("q <= 1", "unknown parameter 'q' (numeric parameters: x, y, z, layers, units, lr, model/lr, lambda)"),
    ("act <= 1", "act is categorical; a constraint takes only numeric parameters (methods uniform, uniformint"),
    ("seed * x <= 1", "seed is fixed; a constraint takes only numeric parameters"),
    ("1 <= 2", "compares numbers only ('1 <= 2'); a constraint must depend on at least one parameter"),
    ("x - x <= 1", "its parameters cancel out"),
    ("True <= x", "True is not a number"),
    ("'x' <= 1", "the string 'x' is not a number"),
    ("x <= 1j", "1j is not a number"),
    ("x <= 1e999", "inf is not a finite number"),
    ("x.y <= 1", "'x.y' is not allowed in a constraint; write a parameter whose name has a dot in backquotes"),
    ("`x <= 1", "has an unmatched backquote"),
    ("model/lr <= 1", "unknown parameter 'model'"),
    ("lambda <= 1", "is not an expression hpogrid can read"),
    ("", "is empty"),
    ("x <=\n 1", "must be one line of printable characters"),
    (3, 'must be a string such as "x + y <= 1" (got 3)'),
    ("x" + " + x" * 400 + " <= 1", "characters long; at most 1000"),
    (" * ".join(["(x + y + z + layers + units + lr + `model/lr` + `lambda`)"] * 6) + " <= 1", "too many terms once multiplied out"),
]


@pytest.mark.parametrize("text,message", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_constraints_are_one_line_errors_naming_the_constraint(text, message):
    assert error("x <= 1", text).startswith("search_space.constraints[1]: ")
    assert message in error("x <= 1", text)


def test_the_constraints_value_must_be_an_array_and_each_constraint_unique():
    for value in ("x <= 1", 3, True):
        with pytest.raises(SearchSpaceError) as info:
            SearchSpace.from_dict({**PARAMS, "constraints": value})
        assert str(info.value).startswith('search_space.constraints: must be an array of constraints such as '
                                          '"x + y <= 1"')
    assert error("x <= 1", "x <= 1") == "search_space.constraints[1]: repeats search_space.constraints[0]"
    with pytest.raises(SearchSpaceError, match=r"101 constraints; at most 100"):
        space(*[f"x <= {i}" for i in range(101)])


def test_no_constraints_keeps_the_old_form():
    for value in (None, []):
        s = SearchSpace.from_dict({**PARAMS, "constraints": value})
        assert s.constraints == () and "constraints" not in s.to_dict()
        assert s == SearchSpace.from_dict(PARAMS)
    assert space("x <= 1") != SearchSpace.from_dict(PARAMS)
    assert space("x <= 1") != space("x <= 0.5")


def test_a_parameter_named_constraints_is_still_a_parameter():
    named = {"constraints": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
             "x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
    s = SearchSpace.from_dict(named)
    assert list(s) == ["constraints", "x"] and s.constraints == ()
    assert s.to_dict() == named
    # with constraints too: the wrapper form, written back the same way
    both = SearchSpace.from_dict({"search_space": named, "constraints": ["constraints + x <= 1"]})
    assert list(both) == ["constraints", "x"]
    assert both.to_dict() == {"search_space": named, "constraints": ["constraints + x <= 1"]}
    assert SearchSpace.from_dict(both.to_dict()) == both
    assert SearchSpace.unwrap(both.to_dict()) == both.to_dict()  # cannot be flattened
    # the wrapper of a space without such a parameter flattens
    wrapped = {"search_space": PARAMS, "constraints": ["x <= 1"]}
    assert SearchSpace.from_dict(wrapped) == space("x <= 1")
    assert SearchSpace.unwrap(wrapped) == {**PARAMS, "constraints": ["x <= 1"]}
    with pytest.raises(SearchSpaceError, match="given twice"):
        SearchSpace.from_dict({"search_space": {**PARAMS, "constraints": ["x <= 1"]}, "constraints": ["y <= 1"]})


def test_split_gives_parameters_and_constraint_texts():
    assert SearchSpace.split({**PARAMS, "constraints": ["x <= 1"]}) == (PARAMS, ["x <= 1"])
    assert SearchSpace.split(PARAMS) == (PARAMS, [])
    assert SearchSpace.split({"search_space": PARAMS, "constraints": ["x <= 1"]}) == (PARAMS, ["x <= 1"])
    named = {"constraints": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
    assert SearchSpace.split(named) == (named, [])


def test_holds_and_feasible_on_decoded_values():
    s = space("x + y <= 1", "layers * units <= 4096", "2*x - 0.5*y + 3 <= z", "x < 0.5")
    c = s.constraints
    assert all(isinstance(k, Constraint) for k in c)
    point = {"x": 0.25, "y": 0.5, "z": 4.0, "layers": 4, "units": 1024, "lr": 1e-3, "act": "relu", "seed": 3,
             "model/lr": 0.5, "lambda": 0.0}
    assert s.feasible(point) and s.violated(point) == ()
    assert not c[1].holds({**point, "layers": 5})
    assert c[1].holds({**point, "layers": 4, "units": 1024})  # == 4096: <= holds
    assert not c[3].holds({**point, "x": 0.5})  # strict
    assert s.violated({**point, "x": 0.75, "layers": 8}) == (c[0], c[1], c[2], c[3])
    assert s.violated({**point, "x": 0.45, "layers": 8}) == (c[1],)
    assert c[0].slack(point) == -0.25 and c[1].slack({**point, "layers": 5}) == 1024.0
    assert s.constraints[2].linear and not s.constraints[1].linear
    assert c[1].names == ("layers", "units")
    # exact integers, and integers beyond float range, compare without error
    big = space("layers * units * 0.5 <= 2048").constraints[0]
    assert big.holds({"layers": 4, "units": 1024}) and not big.holds({"layers": 10 ** 400, "units": 10 ** 400})


def test_a_constraint_on_an_inactive_parameter_holds():
    params = {"opt": {"method": "categorical", "dimension": {"categories": ["sgd", "adam"]}},
              "momentum": {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"opt": ["sgd"]}},
              "lr": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
    s = space("momentum + lr <= 1", params=params)
    assert not s.feasible({"opt": "sgd", "momentum": 0.9, "lr": 0.5})
    assert s.feasible({"opt": "adam", "lr": 0.5})
    # a value given for an inactive parameter is not looked at
    assert s.feasible({"opt": "adam", "momentum": 0.9, "lr": 0.5})


def test_sampled_points_decode_to_values_constraints_read():
    s = space("x + y <= 0.5", "layers * units <= 2048")
    import numpy as np

    rng = np.random.default_rng(0)
    points = [s.sample(rng) for _ in range(300)]
    feasible = [p for p in points if s.feasible(p)]
    assert 0 < len(feasible) < len(points)
    assert all(p["x"] + p["y"] <= 0.5 and p["layers"] * p["units"] <= 2048 for p in feasible)


def test_ax_expression_only_for_linear_constraints_on_plain_ranges():
    s = space("2*x - 0.5*y + 3 <= z", "x >= y", "x < 0.5", "(x + y) / 2 <= 0.75", "layers * units <= 4096",
              "lr <= 0.01", "`model/lr` <= x", "layers + x >= 2", "`lambda` <= 1")
    ax = Codec.build(s, NO_NORMAL)
    got = [c.ax_expression(ax) for c in s.constraints]
    assert got == ["2.0*x - 0.5*y - 1.0*z <= -3.0", "-1.0*x + 1.0*y <= 0.0", "1.0*x <= 0.5",
                   "0.5*x + 0.5*y <= 0.75", None, None, None, "-1.0*layers - 1.0*x <= -2.0", None]
    # under a codec that shows integers as a uniform (floor), layers is not its own value
    assert space("layers + x >= 2").constraints[0].ax_expression(Codec.build(space("layers + x >= 2"), FLOATS_ONLY)) \
        is None
    assert space("layers + x >= 2").constraints[0].ax_expression(Codec.build(space("layers + x >= 2"), ALL_NATIVE)) \
        == "-1.0*layers - 1.0*x <= -2.0"
    # a conditional parameter is not given to Ax (its neutral value may break the constraint)
    params = {"opt": {"method": "categorical", "dimension": {"categories": ["sgd", "adam"]}},
              "m": {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"opt": ["sgd"]}},
              "lr": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
    cs = space("m + lr <= 1", "lr <= 0.5", params=params)
    assert [c.ax_expression(Codec.build(cs, NO_NORMAL)) for c in cs.constraints] == [None, "1.0*lr <= 0.5"]

