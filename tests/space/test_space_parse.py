"""Parsing, canonical round-trips and one-line validation errors of the search-space grammar."""
import json
import math

import numpy as np
import pytest

from hpogrid.errors import SearchSpaceError
from hpogrid.space import (
    METHODS,
    Categorical,
    Fixed,
    LatentChoice,
    LatentInt,
    LatentNormal,
    LatentUniform,
    LogNormal,
    LogUniform,
    Normal,
    QLogNormal,
    QLogUniform,
    QNormal,
    QUniform,
    SearchSpace,
    Uniform,
    UniformInt,
)

README_1 = {
    "height": {"method": "uniform", "dimension": {"low": -100, "high": 100}},
    "width": {"method": "uniform", "dimension": {"low": 0, "high": 20}},
}
README_2 = {
    "lr": {"method": "loguniform", "dimension": {"low": 1e-5, "high": 1e-2, "base": 10}},
    "batchsize": {"method": "categorical",
                  "dimension": {"categories": [32, 64, 128, 256, 512, 1024]}},
    "num_layers": {"method": "uniformint", "dimension": {"low": 3, "high": 10}},
    "momentum": {"method": "uniform", "dimension": {"low": 0.5, "high": 1.0}},
}

# One canonical spec per method: (method, dimension, expected class, expected latent).
CANONICAL = [
    ("categorical", {"categories": ["relu", 1, 1.0, True, None, [1, 2], {"a": 1}]},
     Categorical, LatentChoice(("relu", 1, 1.0, True, None, [1, 2], {"a": 1}))),
    ("categorical", {"categories": [8, 16], "grid_search": 1}, Categorical, LatentChoice((8, 16))),
    ("uniform", {"low": -1.5, "high": 2}, Uniform, LatentUniform(-1.5, 2.0)),
    ("uniformint", {"low": 3, "high": 10}, UniformInt, LatentInt(3, 10)),
    ("quniform", {"low": 0, "high": 100, "q": 5}, QUniform, LatentUniform(0.0, 100.0)),
    ("loguniform", {"low": 1e-5, "high": 1e-2}, LogUniform,
     LatentUniform(math.log(1e-5), math.log(1e-2))),
    ("loguniform", {"low": 1e-5, "high": 1e-2, "base": 10}, LogUniform,
     LatentUniform(math.log(1e-5), math.log(1e-2))),
    ("qloguniform", {"low": 1, "high": 1000, "q": 1, "base": 2}, QLogUniform,
     LatentUniform(0.0, math.log(1000))),
    ("normal", {"mu": 0, "sigma": 2.5}, Normal, LatentNormal(0.0, 2.5)),
    ("qnormal", {"mu": 1, "sigma": 3, "q": 0.5}, QNormal, LatentNormal(1.0, 3.0)),
    ("lognormal", {"mu": -2, "sigma": 0.5, "base": 10}, LogNormal,
     LatentNormal(-2 * math.log(10), 0.5 * math.log(10))),
    ("qlognormal", {"mu": 1, "sigma": 0.5, "q": 1}, QLogNormal, LatentNormal(1.0, 0.5)),
    ("fixed", {"value": {"layers": [64, 32]}}, Fixed, LatentChoice(({"layers": [64, 32]},))),
]


def parse(method, dimension, name="p"):
    return SearchSpace.from_dict({name: {"method": method, "dimension": dimension}})[name]


def error(obj):
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace.from_dict(obj)
    text = str(info.value)
    assert "\n" not in text and len(text.splitlines()) == 1
    assert text.startswith(info.value.field + ": ")
    return info.value


@pytest.mark.parametrize("space", [README_1, README_2])
def test_readme_examples_parse_and_round_trip(space):
    parsed = SearchSpace.from_dict(space)
    assert list(parsed) == list(space)
    assert parsed.to_dict() == space
    assert SearchSpace.from_json(json.dumps(space)) == parsed
    assert SearchSpace.from_json(parsed.to_json()).to_dict() == space


def test_readme_2_types_and_latents():
    space = SearchSpace.from_dict(README_2)
    assert isinstance(space["lr"], LogUniform) and space["lr"].base == 10 and space["lr"].log
    assert space["batchsize"].categories == (32, 64, 128, 256, 512, 1024)
    assert space["num_layers"].latent() == LatentInt(3, 10)
    point = space.sample(np.random.default_rng(0))
    assert list(point) == list(README_2) and space.contains(point)
    assert isinstance(point["num_layers"], int) and isinstance(point["lr"], float)


@pytest.mark.parametrize("method,dimension,cls,latent", CANONICAL)
def test_each_method_round_trips(method, dimension, cls, latent):
    param = parse(method, dimension)
    assert type(param) is cls and param.method == method and param.name == "p"
    assert param.to_dimension() == dimension
    assert json.loads(json.dumps(param.to_dimension())) == dimension
    assert cls.from_dimension("p", param.to_dimension()) == param
    assert param.latent() == latent
    assert param.log == (method in ("loguniform", "qloguniform", "lognormal", "qlognormal"))


def test_canonical_form_normalises_optional_spellings():
    assert parse("categorical", {"categories": [1, 2], "grid_search": True}).to_dimension() == {
        "categories": [1, 2], "grid_search": 1}
    assert parse("categorical", {"categories": [1, 2], "grid_search": 0}).to_dimension() == {
        "categories": [1, 2]}
    assert parse("uniformint", {"low": 3.0, "high": 10.0}).to_dimension() == {"low": 3, "high": 10}


def test_grid_params_lists_categoricals_with_grid_search():
    space = SearchSpace.from_dict({
        "a": {"method": "categorical", "dimension": {"categories": [1, 2], "grid_search": 1}},
        "b": {"method": "categorical", "dimension": {"categories": [1, 2]}},
        "c": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
        "d": {"method": "categorical", "dimension": {"categories": ["x"], "grid_search": True}},
    })
    assert space.grid_params == ("a", "d")


def test_hpogrid_1_3_3_wrapper_is_accepted():
    assert SearchSpace.from_dict({"search_space": README_2}).to_dict() == README_2
    # a parameter that happens to be called search_space is not a wrapper
    single = {"search_space": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
    assert list(SearchSpace.from_dict(single)) == ["search_space"]


def test_colon_paths_and_unicode_names_are_allowed():
    space = SearchSpace.from_dict({
        "optimizer:learning_rate": {"method": "loguniform", "dimension": {"low": 1e-4, "high": 1}},
        "größe": {"method": "fixed", "dimension": {"value": 3}},
    })
    assert list(space) == ["optimizer:learning_rate", "größe"]


def test_mapping_interface_and_decode():
    space = SearchSpace.from_dict(README_2)
    assert len(space) == 4 and "lr" in space and "nope" not in space
    assert dict(space)["momentum"] == Uniform("momentum", 0.5, 1.0)
    point = space.decode({"lr": math.log(1e-3), "batchsize": 64, "num_layers": 4, "momentum": 0.7})
    assert point == {"lr": pytest.approx(1e-3), "batchsize": 64, "num_layers": 4, "momentum": 0.7}
    with pytest.raises(KeyError):
        space.decode({"lr": 0.0})
    assert not space.contains({"lr": 1e-3})


def test_sample_is_reproducible_with_a_seed():
    space = SearchSpace.from_dict(README_2)
    assert space.sample(np.random.default_rng(7)) == space.sample(np.random.default_rng(7))
    assert space.sample(7) == space.sample(np.random.default_rng(7))


def test_base_10_and_2_are_accepted_for_log_methods():
    # hpogrid 1.3.3 rejected any base but e for loguniform
    for method in ("loguniform", "qloguniform"):
        for base in (10, 2, 0.5, math.e):
            dim = {"low": 1, "high": 100, "base": base}
            if method == "qloguniform":
                dim["q"] = 1
            assert parse(method, dim).base == base


def test_integral_floats_are_integers_for_uniformint():
    param = parse("uniformint", {"low": -2.0, "high": 2})
    assert param.low == -2 and type(param.low) is int


def test_uniformint_bounds_may_be_equal():
    param = parse("uniformint", {"low": 4, "high": 4})
    assert param.sample(np.random.default_rng(0)) == 4


def test_from_json_rejects_bad_text():
    for text, reason in [
        ("{", "invalid JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
        ('{"a": 1, "a": 2}', "invalid JSON: duplicate key 'a'"),
        (b"\xff", "the text is not UTF-8 (byte 0xff at offset 0); save it as UTF-8"),
        ("[" * 100000, "invalid JSON: nested more than 64 levels deep"),
    ]:
        with pytest.raises(SearchSpaceError) as info:
            SearchSpace.from_json(text)
        assert info.value.field == "search_space"
        assert str(info.value) == f"search_space: {reason}"


P = "search_space.p"
D = "search_space.p.dimension"


def spec(method, **dimension):
    return {"p": {"method": method, "dimension": dimension}}


ERRORS = [
    # (space, field, message fragment)
    ([], "search_space", "must be an object mapping parameter names"),
    ({}, "search_space", "must define at least one parameter"),
    ({"search_space": {}}, "search_space", "must define at least one parameter"),
    ({"": {}}, "search_space", "invalid parameter name ''"),
    ({"a\nb": {}}, "search_space", "invalid parameter name 'a\\nb'"),
    ({"x" * 201: {}}, "search_space", "use 1-200 printable characters"),
    ({1: {}}, "search_space", "parameter names must be strings (got 1)"),
    ({"p": [1]}, P, "must be an object with method and dimension (got array)"),
    ({"p": {"method": "uniform"}}, f"{P}.dimension", "missing (a parameter needs method and"),
    ({"p": {"dimension": {}}}, f"{P}.method", "missing (a parameter needs method and"),
    ({"p": {"method": "uniform", "dimension": {}, "x": 1}}, P, "unknown key 'x' (a parameter"),
    ({"p": {"method": "gauss", "dimension": {}}}, f"{P}.method",
     "unknown method 'gauss' (allowed: " + ", ".join(METHODS) + ")"),
    ({"p": {"method": 3, "dimension": {}}}, f"{P}.method", "unknown method 3"),
    ({"p": {"method": "uniform", "dimension": [0, 1]}}, D,
     "must be an object (uniform needs low, high) (got array)"),
    (spec("loguniform", low=1e-5, hgih=1), D,
     "unknown key 'hgih' (loguniform takes low, high, base)"),
    (spec("loguniform", low=1e-5), f"{D}.high",
     "missing (loguniform needs low, high; optional base)"),
    (spec("loguniform", low=-1, high=1), f"{D}.low", "must be > 0 for loguniform (got -1)"),
    (spec("loguniform", low=1, high=2, base=1), f"{D}.base",
     "must be > 0 and != 1 for loguniform (got 1)"),
    (spec("loguniform", low=1, high=2, base=-10), f"{D}.base", "must be > 0 and != 1"),
    (spec("uniform", low=1, high=1), f"{D}.high", "must be > low for uniform (got low=1, high=1)"),
    (spec("uniform", low="0", high=1), f"{D}.low", "must be a number for uniform (got '0')"),
    (spec("uniform", low=True, high=2), f"{D}.low", "must be a number for uniform (got True)"),
    (spec("uniform", low=0, high=float("nan")), f"{D}.high", "must be a finite number"),
    (spec("uniform", low=0, high=float("inf")), f"{D}.high", "must be a finite number"),
    (spec("uniform", low=0, high=10**400), f"{D}.high", "must be a finite number"),
    (spec("uniform", low=-1e308, high=1e308), D, "high - low must be a finite number"),
    (spec("uniformint", low=0, high=3.5), f"{D}.high",
     "must be an integer for uniformint (got 3.5)"),
    (spec("uniformint", low=5, high=3), f"{D}.high", "must be >= low for uniformint"),
    (spec("uniformint", low=0, high=2**64), f"{D}.high", "must be a 64-bit integer"),
    (spec("quniform", low=0, high=1, q=0), f"{D}.q", "must be > 0 for quniform (got 0)"),
    (spec("quniform", low=0, high=1), f"{D}.q", "missing (quniform needs low, high, q)"),
    (spec("quniform", low=0, high=1e300, q=1e-300), f"{D}.q", "is too small for the range"),
    (spec("qloguniform", low=0, high=1, q=1), f"{D}.low", "must be > 0 for qloguniform (got 0)"),
    (spec("normal", mu=0, sigma=0), f"{D}.sigma", "must be > 0 for normal (got 0)"),
    (spec("normal", mu=0, sigma=1e308), D, "mu and sigma are too large for normal"),
    (spec("normal", mu=0), f"{D}.sigma", "missing (normal needs mu, sigma)"),
    (spec("qnormal", mu=0, sigma=1, q=-0.1), f"{D}.q", "must be > 0 for qnormal (got -0.1)"),
    (spec("lognormal", mu=0, sigma=-1), f"{D}.sigma", "must be > 0 for lognormal (got -1)"),
    (spec("lognormal", mu=0, sigma=1, base=0), f"{D}.base", "must be > 0 and != 1 for lognormal"),
    (spec("lognormal", mu=400, sigma=1, base=10), D, "mu and sigma are too large for lognormal"),
    (spec("qlognormal", mu=0, sigma=1, q=[1]), f"{D}.q", "must be a number for qlognormal"),
    (spec("categorical", categories=[]), f"{D}.categories", "must be a non-empty array"),
    (spec("categorical", categories="abc"), f"{D}.categories", "must be a non-empty array"),
    (spec("categorical", categories=[1, 2, 1]), f"{D}.categories[2]",
     "duplicate of categories[0] (categories must be unique)"),
    (spec("categorical", categories=[1, float("nan")]), f"{D}.categories[1]",
     "must be finite JSON"),
    (spec("categorical", categories=[1, {2: 3}]), f"{D}.categories[1]",
     "object keys must be strings"),
    (spec("categorical", categories=[1, 2], grid_search=2), f"{D}.grid_search",
     "must be 0, 1, true or false (got 2)"),
    (spec("categorical", categories=[1, 2], grid_search="yes"), f"{D}.grid_search", "must be 0, 1"),
    (spec("categorical", categories=[1], low=0), D, "unknown key 'low' (categorical takes"),
    (spec("fixed"), f"{D}.value", "missing (fixed needs value)"),
    (spec("fixed", value=[float("inf")]), f"{D}.value[0]", "must be finite JSON data"),
    (spec("fixed", value={1, 2}), f"{D}.value", "must be JSON data (got set)"),
]


@pytest.mark.parametrize("space,field,fragment", ERRORS)
def test_validation_errors_name_the_field_on_one_line(space, field, fragment):
    err = error(space)
    assert err.field == field
    assert fragment in err.message


def test_categories_distinguish_json_types():
    # 1, 1.0 and true are different JSON values, so not duplicates
    assert parse("categorical", {"categories": [1, 1.0, True]}).categories == (1, 1.0, True)


def test_unknown_key_with_newline_stays_on_one_line():
    err = error(spec("uniform", low=0, high=1, **{"a\nb": 1}))
    assert err.field == D and "'a\\nb'" in err.message


def test_huge_int_in_error_message_does_not_crash():
    err = error(spec("uniform", low=0, high=10**5000))
    assert err.field == f"{D}.high"


def test_to_dict_is_a_copy():
    space = SearchSpace.from_dict(spec("categorical", categories=[[1], [2]]))
    space.to_dict()["p"]["dimension"]["categories"][0].append(9)
    assert space["p"].categories == ([1], [2])
