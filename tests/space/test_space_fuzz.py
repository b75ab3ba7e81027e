"""Fuzz: any JSON-like input either parses or raises a one-line SearchSpaceError.

A parsed space must also round-trip through JSON and sample values its parameters contain,
directly and through latent + decode.
"""
import json
import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpogrid.errors import SearchSpaceError
from hpogrid.space import METHODS, PARAM_TYPES, SearchSpace

DIMENSION_KEYS = sorted({k for cls in PARAM_TYPES for k in cls.required + cls.optional})

leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
json_like = st.recursive(
    leaves,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
numbers = (
    st.sampled_from([0, 1, -1, 2, 3, 5, 10, 0.1, 0.5, 1e-5, 1e-2, 2.5, 1e300, 2**63, 1e-320])
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(min_value=1e-6, max_value=1e6)
    | st.booleans()
)
near_values = numbers | json_like | st.lists(json_like, max_size=6)

# Plausible values per dimension key, so that many generated spaces are valid.
small = st.integers(-5, 50) | st.floats(-5, 50) | st.sampled_from([1e-5, 1e-3, 0.1, 0.5, 100])
plausible = {
    "low": small, "high": small, "mu": small,
    "sigma": st.floats(0.01, 3) | st.sampled_from([1, 2]),
    "q": st.sampled_from([1, 2, 5, 0.1, 0.25, 0.01, 1e-3]) | st.floats(0.01, 10),
    "base": st.sampled_from([2, 10, 0.5, 2.718281828459045, 3.5]),
    "categories": st.lists(json_like, min_size=1, max_size=5),
    "grid_search": st.sampled_from([0, 1, True, False, 2]),
    "value": json_like,
}


def near_valid(cls):
    """A spec of ``cls`` with the right keys and plausible (sometimes off) values."""
    pick = {k: plausible[k] | plausible[k] | numbers if k not in ("categories", "value")
            else plausible[k] for k in cls.required + cls.optional}
    dimension = st.fixed_dictionaries(
        {k: pick[k] for k in cls.required}, optional={k: pick[k] for k in cls.optional}
    )
    return st.fixed_dictionaries({"method": st.just(cls.method), "dimension": dimension})


near_valid_specs = st.sampled_from(PARAM_TYPES).flatmap(near_valid)
dimensions = st.dictionaries(
    st.sampled_from(DIMENSION_KEYS) | st.text(max_size=4), near_values, max_size=5
) | json_like
methods = st.sampled_from(METHODS) | st.text(max_size=6) | json_like
specs = (
    near_valid_specs
    | near_valid_specs
    | st.fixed_dictionaries({"method": methods, "dimension": dimensions})
    | st.dictionaries(st.sampled_from(["method", "dimension", "extra"]), near_values, max_size=3)
    | json_like
)
weird_names = st.sampled_from(["", "x\ny", "\u2028", "tab\t", "n" * 201]) | st.text(max_size=10)
good_names = st.text(alphabet="abcxyz_:.- é0", min_size=1, max_size=12)
names = good_names | good_names | weird_names
spaces = st.dictionaries(names, specs, max_size=4)
plausible_spaces = st.dictionaries(good_names, near_valid_specs, min_size=1, max_size=3)
inputs = st.one_of(
    plausible_spaces,
    plausible_spaces,
    spaces,
    st.builds(lambda s: {"search_space": s}, plausible_spaces | spaces),
    json_like.map(lambda x: x),  # .map keeps it ONE branch (| would flatten its leaves)
)


@settings(
    max_examples=int(os.environ.get("HPOGRID_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(inputs)
def test_from_dict_parses_or_raises_one_line_search_space_error(obj):
    try:
        space = SearchSpace.from_dict(obj)
    except SearchSpaceError as err:
        text = str(err)
        assert text and len(text.splitlines()) == 1 and "\n" not in text
        assert text.startswith(err.field + ": ") and err.field.startswith("search_space")
        return
    text = json.dumps(space.to_dict(), allow_nan=False)
    assert SearchSpace.from_json(text) == space
    assert SearchSpace.from_dict(space.to_dict()) == space
    rng = np.random.default_rng(0)
    for _ in range(3):
        assert space.contains(space.sample(rng))
        latent = {name: lat.sample(rng) for name, lat in space.latent().items()}
        assert space.contains(space.decode(latent))
