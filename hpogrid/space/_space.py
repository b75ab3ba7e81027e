"""The whole search space: an ordered, validated mapping of parameter name -> Param."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Dict, Iterable, Iterator, Tuple, Union

import numpy as np

from hpogrid.space import _check as check
from hpogrid.space._check import fail, show
from hpogrid.space._latent import Latent
from hpogrid.space._params import METHODS, Categorical, Param, param_type

_SPEC_KEYS = ("method", "dimension")


def _unwrap(obj: Mapping) -> Mapping:
    """Accept hpogrid 1.3.3's ``{"search_space": {...}}`` wrapper (unless that is a param)."""
    if len(obj) == 1 and "search_space" in obj:
        inner = obj["search_space"]
        if isinstance(inner, Mapping) and "method" not in inner:
            return inner
    return obj


def _parse_param(name: Any, spec: Any) -> Param:
    name = check.check_name(name)
    path = f"search_space.{name}"
    if not isinstance(spec, Mapping):
        fail(path, f"must be an object with method and dimension (got {check.json_type(spec)})")
    for key in spec:
        if key not in _SPEC_KEYS:
            fail(path, f"unknown key {show(key)} (a parameter takes method, dimension)")
    for key in _SPEC_KEYS:
        if key not in spec:
            fail(f"{path}.{key}", "missing (a parameter needs method and dimension)")
    method = spec["method"]
    cls = param_type(method) if isinstance(method, str) else None
    if cls is None:
        fail(f"{path}.method", f"unknown method {show(method)} (allowed: {', '.join(METHODS)})")
    return cls.from_dimension(name, spec["dimension"])


#: more parameters than any searcher models usefully (and than a config file should carry)
MAX_PARAMS = 1000


class SearchSpace(Mapping):
    """Ordered, immutable ``name -> Param`` mapping parsed from the search-space JSON."""

    def __init__(self, params: Iterable[Param]):
        self._params: Dict[str, Param] = {}
        for param in params:
            if param.name in self._params:
                fail("search_space", f"duplicate parameter {show(param.name)}")
            self._params[param.name] = param
        if not self._params:
            fail("search_space", "must define at least one parameter")

    @classmethod
    def from_dict(cls, obj: Any) -> "SearchSpace":
        """Validate ``{name: {"method": ..., "dimension": {...}}}``; raise SearchSpaceError."""
        if not isinstance(obj, Mapping):
            fail("search_space", "must be an object mapping parameter names to "
                                 f"{{method, dimension}} (got {check.json_type(obj)})")
        params = _unwrap(obj)
        if len(params) > MAX_PARAMS:
            fail("search_space", f"{len(params)} parameters; at most {MAX_PARAMS} are searched")
        return cls(_parse_param(name, spec) for name, spec in params.items())

    @classmethod
    def from_json(cls, text: Union[str, bytes]) -> "SearchSpace":
        """Parse JSON text; duplicate keys are rejected rather than silently dropped."""
        from hpogrid.errors import ValidationError
        from hpogrid.jsontext import loads

        try:
            obj = loads(text, "search_space")
        except ValidationError as exc:  # the same line, as the space's own error type
            fail("search_space", exc.message)
        return cls.from_dict(obj)

    def to_dict(self) -> Dict[str, dict]:
        """Canonical JSON-able form; ``from_dict(to_dict())`` gives an equal space."""
        return {name: param.to_dict() for name, param in self._params.items()}

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def sample(self, rng: Any = None) -> Dict[str, Any]:
        """One point; ``rng`` is a numpy Generator (or a seed for ``default_rng``)."""
        rng = np.random.default_rng(rng)
        return {name: param.sample(rng) for name, param in self._params.items()}

    def latent(self) -> Dict[str, Latent]:
        return {name: param.latent() for name, param in self._params.items()}

    def decode(self, latent_values: Mapping) -> Dict[str, Any]:
        """Parameter values from latent values keyed by name (KeyError if one is missing)."""
        return {name: param.decode(latent_values[name]) for name, param in self._params.items()}

    def contains(self, point: Mapping) -> bool:
        """Whether ``point`` has exactly these names, each value inside its parameter."""
        return (isinstance(point, Mapping) and set(point) == set(self._params)
                and all(p.contains(point[n]) for n, p in self._params.items()))

    @property
    def grid_params(self) -> Tuple[str, ...]:
        """Names of categorical parameters with ``grid_search`` (every category is run)."""
        return tuple(n for n, p in self._params.items()
                     if isinstance(p, Categorical) and p.grid_search)

    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __repr__(self) -> str:
        return f"SearchSpace({self.to_dict()!r})"
