"""The short SPEC grammar of ``hpogrid optimize --param`` and the Python helpers: every form is
the JSON grammar's parameter (README table), and the space accepts it."""
import pytest

import hpogrid
from hpogrid.space import METHODS, SearchSpace, parse_param, space_from

CASES = [
    ("uniform:0:0.5", hpogrid.space.uniform(0, 0.5), {"method": "uniform", "dimension": {"low": 0, "high": 0.5}}),
    ("int:1:8", hpogrid.space.uniformint(1, 8), {"method": "uniformint", "dimension": {"low": 1, "high": 8}}),
    ("quniform:16:512:16", hpogrid.space.quniform(16, 512, 16),
     {"method": "quniform", "dimension": {"low": 16, "high": 512, "q": 16}}),
    ("loguniform:1e-5:1e-1", hpogrid.space.loguniform(1e-5, 1e-1),
     {"method": "loguniform", "dimension": {"low": 1e-5, "high": 0.1}}),
    ("loguniform:1:1024:2", hpogrid.space.loguniform(1, 1024, base=2),
     {"method": "loguniform", "dimension": {"low": 1, "high": 1024, "base": 2}}),
    ("qloguniform:16:1024:16", hpogrid.space.qloguniform(16, 1024, 16),
     {"method": "qloguniform", "dimension": {"low": 16, "high": 1024, "q": 16}}),
    ("normal:0:1", hpogrid.space.normal(0, 1), {"method": "normal", "dimension": {"mu": 0, "sigma": 1}}),
    ("qnormal:10:2:0.5", hpogrid.space.qnormal(10, 2, 0.5),
     {"method": "qnormal", "dimension": {"mu": 10, "sigma": 2, "q": 0.5}}),
    ("lognormal:0:1", hpogrid.space.lognormal(0, 1), {"method": "lognormal", "dimension": {"mu": 0, "sigma": 1}}),
    ("qlognormal:2:0.5:1", hpogrid.space.qlognormal(2, 0.5, 1),
     {"method": "qlognormal", "dimension": {"mu": 2, "sigma": 0.5, "q": 1}}),
    ("choice:adam,sgd,0.5,true", hpogrid.space.choice(["adam", "sgd", 0.5, True]),
     {"method": "categorical", "dimension": {"categories": ["adam", "sgd", 0.5, True]}}),
    ("grid:1,2", hpogrid.space.choice([1, 2], grid_search=True),
     {"method": "categorical", "dimension": {"categories": [1, 2], "grid_search": 1}}),
    ("fixed:relu", hpogrid.space.fixed("relu"), {"method": "fixed", "dimension": {"value": "relu"}}),
]


@pytest.mark.parametrize("spec, helper, expected", CASES, ids=[c[0] for c in CASES])
def test_spec_and_helper_are_the_json_parameter(spec, helper, expected):
    name, param = parse_param(f"x={spec}")
    assert name == "x" and param == expected == helper
    SearchSpace.from_dict({"x": param})  # a valid parameter of the grammar


def test_every_method_has_a_spec():
    assert {c[2]["method"] for c in CASES} == set(METHODS)


def test_a_notebook_space_mixes_specs_helpers_and_json():
    space = space_from({"lr": "loguniform:1e-5:1e-1", "n": hpogrid.space.uniformint(1, 3),
                        "act": {"method": "categorical", "dimension": {"categories": ["relu"]}}})
    assert space["lr"]["method"] == "loguniform" and space["n"]["method"] == "uniformint"
    assert list(SearchSpace.from_dict(space).to_dict()) == ["lr", "n", "act"]
