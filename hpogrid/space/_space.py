"""The whole search space: an ordered, validated mapping of parameter name -> Param, the
conditions (``when``) under which a parameter exists (:mod:`hpogrid.space._conditions`) and the
constraints its values must satisfy (:mod:`hpogrid.space._constraints`).

The JSON form is ``{"NAME": {"method": ..., "dimension": {...}}, ..., "constraints": [...]}``:
the top-level key ``constraints`` holds the constraints when its value is an array; an object
there is a parameter named ``constraints``, as before constraints existed. A space with both a
parameter named ``constraints`` and constraints is written ``{"search_space": {parameters},
"constraints": [...]}`` (hpogrid 1.3.3's wrapper with the constraints beside it).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Dict, Iterable, Iterator, List, Mapping as MappingType, Optional, Tuple, Union

import numpy as np

from hpogrid.space import _check as check
from hpogrid.space._check import fail, show
from hpogrid.space._conditions import When, dependency_order, holds, parse_when
from hpogrid.space._constraint_parser import parse_constraints
from hpogrid.space._constraints import Constraint
from hpogrid.space._latent import Latent
from hpogrid.space._params import METHODS, Categorical, Param, param_type

_SPEC_KEYS = ("method", "dimension", "when")
_NEEDED = ("method", "dimension")


#: the top-level key of the constraints (an array; an object there is a parameter of that name)
CONSTRAINTS_KEY = "constraints"


def _is_param_spec(value: Any) -> bool:
    """Whether ``value`` reads as one parameter's spec rather than a mapping of parameters."""
    return isinstance(value, Mapping) and "method" in value and not isinstance(value["method"], Mapping)


def _unwrap(obj: Mapping) -> Mapping:
    """Accept hpogrid 1.3.3's ``{"search_space": {...}}`` wrapper (unless that is a param),
    with constraints beside it or not."""
    if "search_space" in obj and (len(obj) == 1 or (
            len(obj) == 2 and isinstance(obj.get(CONSTRAINTS_KEY), (list, tuple)))):
        inner = obj["search_space"]
        if isinstance(inner, Mapping) and not _is_param_spec(inner):
            return inner
    return obj


def _split(obj: Mapping) -> Tuple[Mapping, Optional[Any]]:
    """(parameter specs, the constraints value or None) of a search-space object."""
    params = _unwrap(obj)
    outer = obj.get(CONSTRAINTS_KEY) if params is not obj else None
    inner = params.get(CONSTRAINTS_KEY)
    if CONSTRAINTS_KEY in params and not isinstance(inner, Mapping):
        if outer is not None:
            fail("search_space.constraints", "given twice (inside and beside search_space); keep one")
        params = {k: v for k, v in params.items() if k != CONSTRAINTS_KEY}
        return params, inner
    return params, outer


def _parse_param(name: Any, spec: Any) -> Param:
    name = check.check_name(name)
    path = f"search_space.{name}"
    if not isinstance(spec, Mapping):
        fail(path, f"must be an object with method and dimension (got {check.json_type(spec)})")
    for key in spec:
        if key not in _SPEC_KEYS:
            fail(path, f"unknown key {show(key)} (a parameter takes method, dimension, when)")
    for key in _NEEDED:
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
    """Ordered, immutable ``name -> Param`` mapping parsed from the search-space JSON.

    ``when``: ``{name: {parent: (values, ...)}}`` for conditional parameters, already checked
    against the parameters by :meth:`from_dict` (given here, it is checked again for cycles).
    """

    def __init__(self, params: Iterable[Param], when: Optional[MappingType[str, When]] = None,
                 constraints: Iterable[Union[str, Constraint]] = ()):
        self._params: Dict[str, Param] = {}
        for param in params:
            if param.name in self._params:
                fail("search_space", f"duplicate parameter {show(param.name)}")
            self._params[param.name] = param
        if not self._params:
            fail("search_space", "must define at least one parameter")
        self._when: Dict[str, When] = {n: dict(c) for n, c in (when or {}).items() if c}
        for name, cond in self._when.items():
            for parent in (name, *cond):
                if parent not in self._params:
                    fail(f"search_space.{name}.when", f"{show(parent)} is not a parameter")
        #: every parameter after the parents of its condition
        self._order = dependency_order(self._params, self._when)
        self._constraints = parse_constraints(list(constraints), self._params)

    @staticmethod
    def unwrap(obj: Mapping) -> Mapping:
        """``obj`` as one flat object: hpogrid 1.3.3's ``{"search_space": {...}}`` unwrapped, its
        constraints (if any) under ``constraints`` beside the parameters (where a parameter has
        that name, the wrapper is kept: it cannot be flattened)."""
        inner = _unwrap(obj)
        if inner is obj or CONSTRAINTS_KEY not in obj:
            return inner
        if CONSTRAINTS_KEY in inner:
            return obj
        return {**inner, CONSTRAINTS_KEY: obj[CONSTRAINTS_KEY]}

    @staticmethod
    def split(obj: Mapping) -> Tuple[Dict[str, Any], List[Any]]:
        """(parameter specs, constraint texts) of a search-space JSON object, unvalidated: what
        code reading a stored space by hand should use, rather than take every key for a
        parameter (a ``constraints`` array is not one)."""
        params, constraints = _split(obj)
        return dict(params), list(constraints) if isinstance(constraints, (list, tuple)) else []

    @classmethod
    def from_dict(cls, obj: Any) -> "SearchSpace":
        """Validate ``{name: {"method": ..., "dimension": {...}}}``; raise SearchSpaceError."""
        if not isinstance(obj, Mapping):
            fail("search_space", "must be an object mapping parameter names to "
                                 f"{{method, dimension}} (got {check.json_type(obj)})")
        params, constraints = _split(obj)
        if constraints is not None and not isinstance(constraints, (list, tuple)):
            fail("search_space.constraints", 'must be an array of constraints such as "x + y <= 1" (got '
                                             f"{show(constraints)}; an object there is a parameter named constraints)")
        if len(params) > MAX_PARAMS:
            fail("search_space", f"{len(params)} parameters; at most {MAX_PARAMS} are searched")
        parsed = {}
        for name, spec in params.items():
            parsed[name] = _parse_param(name, spec)
        when = {name: parse_when(name, spec["when"], parsed)
                for name, spec in params.items() if "when" in spec}
        return cls(parsed.values(), when, constraints or ())

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

    def to_dict(self) -> Dict[str, Any]:
        """Canonical JSON-able form; ``from_dict(to_dict())`` gives an equal space. Constraints
        are written back as given, under ``constraints`` (see the module doc for a parameter of
        that name)."""
        out: Dict[str, Any] = {name: param.to_dict() for name, param in self._params.items()}
        for name, when in self._when.items():
            out[name]["when"] = {parent: list(values) for parent, values in when.items()}
        if not self._constraints:
            return out
        texts = [c.text for c in self._constraints]
        if CONSTRAINTS_KEY in out:
            return {"search_space": out, CONSTRAINTS_KEY: texts}
        out[CONSTRAINTS_KEY] = texts
        return out

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    # -- constraints -------------------------------------------------------------------------
    @property
    def constraints(self) -> Tuple[Constraint, ...]:
        """The parameter constraints, in the order given."""
        return self._constraints

    def feasible(self, values: Mapping) -> bool:
        """Whether every constraint holds for the decoded ``values`` (a constraint naming a
        parameter that is inactive for them holds)."""
        return not self.violated(values)

    def violated(self, values: Mapping) -> Tuple[Constraint, ...]:
        """The constraints that do not hold for the decoded ``values``."""
        if not self._constraints:
            return ()
        if self._when:
            values = self.only_active(values)
        return tuple(c for c in self._constraints if not c.holds(values))

    # -- conditions --------------------------------------------------------------------------
    @property
    def conditional(self) -> bool:
        """Whether any parameter has a ``when``."""
        return bool(self._when)

    def when(self, name: str) -> When:
        """``{parent: (values, ...)}`` of parameter ``name`` (empty: always active)."""
        return dict(self._when.get(name, {}))

    @property
    def dependency_order(self) -> Tuple[str, ...]:
        """Every parameter after the parents of its condition (else in declaration order)."""
        return self._order

    def condition_holds(self, name: str, values: Mapping) -> bool:
        """Whether the ``when`` of ``name`` holds for ``values`` (values of ACTIVE parameters
        only: walk :attr:`dependency_order` and add each active value as it is known)."""
        return all(parent in values and holds(allowed, values[parent])
                   for parent, allowed in self._when.get(name, {}).items())

    def active(self, values: Mapping) -> Tuple[str, ...]:
        """Names of the parameters that exist for ``values``, in space order.

        Evaluated in dependency order: a parameter is active when each parent of its ``when``
        is active and has one of the listed values in ``values``; a parameter whose parent is
        inactive (or has no value) is inactive. Values of other names are not looked at.
        """
        on = set()
        for name in self._order:
            if all(parent in on and parent in values and holds(allowed, values[parent])
                   for parent, allowed in self._when.get(name, {}).items()):
                on.add(name)
        return tuple(n for n in self._params if n in on)

    def only_active(self, values: Mapping) -> Dict[str, Any]:
        """``values`` without the parameters that are inactive for them (other keys are kept)."""
        active = set(self.active(values))
        return {k: v for k, v in values.items() if k in active or k not in self._params}

    # -- values ---------------------------------------------------------------------------------
    def sample(self, rng: Any = None) -> Dict[str, Any]:
        """One point, active parameters only; ``rng`` is a numpy Generator (or a seed for
        ``default_rng``). Every parameter is drawn, so the stream does not depend on conditions."""
        rng = np.random.default_rng(rng)
        return self.only_active({name: param.sample(rng) for name, param in self._params.items()})

    def latent(self) -> Dict[str, Latent]:
        return {name: param.latent() for name, param in self._params.items()}

    def decode(self, latent_values: Mapping) -> Dict[str, Any]:
        """Values of the active parameters from latent values keyed by name (KeyError if an
        active one is missing; an inactive one may be missing and is dropped)."""
        values: Dict[str, Any] = {}
        for name in self._order:
            if all(parent in values and holds(allowed, values[parent])
                   for parent, allowed in self._when.get(name, {}).items()):
                values[name] = self._params[name].decode(latent_values[name])
        return {n: values[n] for n in self._params if n in values}

    def contains(self, point: Mapping) -> bool:
        """Whether ``point`` names exactly the parameters active for it, each value inside its
        parameter."""
        return (isinstance(point, Mapping) and set(point) <= set(self._params)
                and all(p.contains(point[n]) for n, p in self._params.items() if n in point)
                and set(point) == set(self.active(point)))

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

    def __eq__(self, other: Any) -> bool:
        """As a mapping, and for two spaces their conditions and constraints too."""
        if isinstance(other, SearchSpace) and (self._when != other._when
                                               or self._constraints != other._constraints):
            return False
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SearchSpace({self.to_dict()!r})"
