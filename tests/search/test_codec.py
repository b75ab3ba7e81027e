"""The codec keeps every method's exact semantics through every library's encoding.

Ray Tune's random search samples the encoded domains; decoding those samples must give the
same distribution as the grammar's reference sampler (two-sample tests, fixed seeds).
"""
import json

import numpy as np
import pytest
from scipy import stats

from hpogrid.search._codec import ALL_NATIVE, FLOATS_ONLY, NO_NORMAL, Codec
from hpogrid.space import SearchSpace
from tests.search.spaces import ALL_METHODS

N = 4000
FAMILIES = {"all_native": ALL_NATIVE, "no_normal": NO_NORMAL, "floats_only": FLOATS_ONLY}
DISCRETE = {"cat", "int", "qu", "qlu", "qn", "qln"}


def _decoded_samples(family, name, seed):
    space = SearchSpace.from_dict({name: ALL_METHODS[name]})
    codec = Codec.build(space, FAMILIES[family])
    domain = codec.param_space()[name]
    rng = np.random.default_rng(seed)
    raw = domain.sample(size=N, random_state=rng)
    return space, [codec.decode({name: v})[name] for v in raw]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("name", ALL_METHODS)
def test_decoded_values_are_valid_and_distributed_like_the_grammar(family, name):
    space, got = _decoded_samples(family, name, seed=7)
    param = space[name]
    assert all(param.contains(v) for v in got), [v for v in got if not param.contains(v)][:5]
    rng = np.random.default_rng(11)
    ref = [param.sample(rng) for _ in range(N)]
    assert {type(v) for v in got} <= {type(v) for v in ref} | {type(None)}
    if name in DISCRETE:
        keys = sorted({repr(v) for v in got} | {repr(v) for v in ref})
        table = np.array([[sum(repr(v) == k for v in sample) for k in keys] for sample in (got, ref)])
        table = table[:, table.sum(axis=0) >= 10]  # chi-square needs populated cells
        p = stats.chi2_contingency(table)[1]
    else:
        p = stats.ks_2samp(got, ref).pvalue
    assert p > 1e-3, f"{family}/{name}: p={p}"


def test_categories_travel_as_indices_so_any_json_value_works():
    space = SearchSpace.from_dict({"cat": ALL_METHODS["cat"]})
    codec = Codec.build(space, NO_NORMAL)
    assert codec.param_space()["cat"].categories == [0, 1, 2, 3]
    assert codec.decode({"cat": 3}) == {"cat": [1, 2]}


def test_grid_only_for_grid_capable_searchers():
    space = SearchSpace.from_dict({"b": {"method": "categorical", "dimension": {"categories": [1, 2, 3], "grid_search": 1}},
                                   "x": ALL_METHODS["uni"]})
    grid = Codec.build(space, ALL_NATIVE, grid=True)
    assert grid.grid_size == 3 and grid.param_space()["b"] == {"grid_search": [0, 1, 2]}
    assert Codec.build(space, ALL_NATIVE, grid=False).grid_size == 1


def test_decode_passes_unknown_keys_through():
    space = SearchSpace.from_dict({"x": ALL_METHODS["lu"]})
    out = Codec.build(space, ALL_NATIVE).decode({"x": np.log(1e-3), "extra": 5})
    assert out["extra"] == 5 and out["x"] == pytest.approx(1e-3)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("name", ALL_METHODS)
def test_encode_is_the_exact_inverse_of_decode(family, name):
    """Stored trial values, encoded for a searcher, decode to the same values: exactly, except
    through the inverse normal CDF, which floating point returns to within 1e-9."""
    space = SearchSpace.from_dict({name: ALL_METHODS[name]})
    codec = Codec.build(space, FAMILIES[family])
    domain = codec.param_space()[name]
    rng = np.random.default_rng(3)
    via_cdf = type(codec.encodings[name]).__name__ == "NormalViaUniform"
    for raw in domain.sample(size=300, random_state=rng):
        value = codec.decode({name: raw})[name]
        again = codec.decode(codec.encode({name: value}))[name]
        if via_cdf and name in ("nor", "ln"):
            assert again == pytest.approx(value, rel=1e-9, abs=1e-12)
        else:
            assert json.dumps(again) == json.dumps(value), (value, again)


def test_encode_of_a_quantised_zero():
    space = SearchSpace.from_dict({"z": {"method": "qloguniform", "dimension": {"low": 0.1, "high": 10, "q": 1}}})
    for family in FAMILIES.values():
        codec = Codec.build(space, family)
        assert codec.decode(codec.encode({"z": 0})) == {"z": 0}


def test_codec_of_a_conditional_space_drops_inactive_values_and_encodes_without_them():
    space = SearchSpace.from_dict({
        "opt": {"method": "categorical", "dimension": {"categories": ["sgd", "adam"]}},
        "momentum": {"method": "normal", "dimension": {"mu": 0.5, "sigma": 0.1}, "when": {"opt": ["sgd"]}},
        "n": {"method": "uniformint", "dimension": {"low": 1, "high": 5}, "when": {"opt": ["sgd"]}},
    })
    codec = Codec.build(space, NO_NORMAL)
    assert codec.decode({"opt": 1, "momentum": 0.3, "n": 2}) == {"opt": "adam"}  # inactive dropped
    assert codec.decode({"opt": 1}) == {"opt": "adam"}  # and may be missing
    assert set(codec.decode({"opt": 0, "momentum": 0.5, "n": 2})) == {"opt", "momentum", "n"}
    # inactive ones get a fixed neutral value (the mean, the middle): the same every time
    assert codec.encode({"opt": "adam"}) == {"opt": 1, "momentum": 0.5, "n": 3}
    with pytest.raises(KeyError):  # an active value missing is not made up
        codec.encode({"opt": "sgd", "n": 2})
    assert codec.active(codec.encode({"opt": "adam"})) == ("opt",)
    # a proposal naming only its active parameters (BOHB, HyperOpt) made whole: the others neutral
    assert codec.complete({"opt": 1, "extra": 7}) == {"opt": 1, "momentum": 0.5, "n": 3, "extra": 7}
    assert codec.complete({"opt": 0, "momentum": 0.2, "n": 4}) == {"opt": 0, "momentum": 0.2, "n": 4}
