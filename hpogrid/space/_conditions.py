"""Conditional parameters: ``"when": {"optimizer": ["sgd", "rmsprop"]}``.

A parameter with a ``when`` exists only while every parent named there takes one of the listed
values (all must hold), and its parents are active themselves (a condition may sit on a
conditional parameter). Kept apart from :class:`~hpogrid.space.Param` so the one-class-per-method
value objects stay unconditional and every adapter's translation stays the same: a search
library explores the flat space, and :meth:`Conditions.active` says which values count.

Parents must take discrete values, so a condition can hold with a real probability:
``categorical``, ``fixed``, ``uniformint`` and the q-methods (a listed value must be one the
parent can produce); a continuous parent (``uniform``, ``loguniform``, ``normal``,
``lognormal``) is refused, as is ``grid_search`` on either side (a grid runs every category
whether or not a condition holds).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Dict, Iterable, List, Tuple

from hpogrid.space import _check as check
from hpogrid.space._check import fail, show
from hpogrid.space._params import Categorical, Fixed, Param

#: parent methods whose values are continuous: equality with a listed value has probability 0
CONTINUOUS = ("uniform", "loguniform", "normal", "lognormal")

When = Dict[str, Tuple[Any, ...]]


def _describe(parent: Param) -> str:
    if isinstance(parent, Categorical):
        return "is not one of its categories: " + ", ".join(_plain(c) for c in parent.categories)
    if isinstance(parent, Fixed):
        return f"is not its fixed value {_plain(parent.value)}"
    return f"is not a value of {parent.method} {check.json_key(parent.to_dimension())}"


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else show(value, 30)


def parse_when(name: str, spec: Any, params: Mapping[str, Param]) -> When:
    """Validate one parameter's ``when`` against the other parameters (not yet for cycles)."""
    path = f"search_space.{name}.when"
    if not isinstance(spec, Mapping) or not spec:
        fail(path, "must be a non-empty object mapping a parameter name to the list of values it must "
                   f"take (got {show(spec)})")
    own = params[name]
    if isinstance(own, Categorical) and own.grid_search:
        fail(path, "a grid_search parameter cannot be conditional (the grid runs every category)")
    out: When = {}
    for parent_name, values in spec.items():
        field = f"{path}.{parent_name}"
        if parent_name == name:
            fail(field, "a parameter cannot depend on itself")
        if parent_name not in params:
            fail(field, f"unknown parameter {show(parent_name)} (parameters: {', '.join(params)})")
        parent = params[parent_name]
        if parent.method in CONTINUOUS:
            fail(field, f"{parent_name} is {parent.method}, a continuous parameter; a condition needs "
                        "categorical, fixed, uniformint or a q-method parent")
        if isinstance(parent, Categorical) and parent.grid_search:
            fail(field, f"{parent_name} has grid_search, which runs every category whether or not a "
                        "condition holds; set its grid_search to 0")
        if not isinstance(values, (list, tuple)) or not values:
            fail(field, f"must be a non-empty array of the values {parent_name} must take (got {show(values)})")
        for i, value in enumerate(values):
            check.json_value(f"{field}[{i}]", value)
            if not parent.contains(value):
                fail(field, f"{show(value)} {_describe(parent)}")
        out[parent_name] = tuple(values)
    return out


def dependency_order(names: Iterable[str], when: Mapping[str, When]) -> Tuple[str, ...]:
    """Every parameter after its parents, otherwise in declaration order; a cycle is an error
    naming the first parameter on it and the loop.

    The walk keeps its own stack: a chain of a thousand conditions declared child-first, or a
    cycle through all of them, is as deep as the space is long, deeper than Python recurses."""
    order: List[str] = []
    state: Dict[str, int] = {}  # 1: on the current path, 2: placed
    for root in names:
        if state.get(root) == 2:
            continue
        state[root] = 1
        path = [root]
        stack = [iter(when.get(root, {}))]
        while stack:
            parent = next(stack[-1], None)
            if parent is None:  # every parent placed: place this one
                stack.pop()
                done = path.pop()
                state[done] = 2
                order.append(done)
            elif state.get(parent) == 1:
                loop = path[path.index(parent):] + [parent]
                fail(f"search_space.{loop[0]}.when.{loop[1]}", "conditions form a cycle: " + _loop_text(loop))
            elif state.get(parent) != 2:
                state[parent] = 1
                path.append(parent)
                stack.append(iter(when.get(parent, {})))
    return tuple(order)


def _loop_text(loop: List[str], shown: int = 8) -> str:
    """``a -> b -> a``; a long loop by its first and last steps and its length."""
    if len(loop) <= shown + 2:
        return " -> ".join(loop)
    return (" -> ".join(loop[:shown // 2]) + f" -> ... ({len(loop) - 1} parameters) -> "
            + " -> ".join(loop[-shown // 2:]))


def holds(values: Tuple[Any, ...], value: Any) -> bool:
    """Whether ``value`` is one of ``values`` as JSON sees it (1, 1.0 and true differ)."""
    try:
        key = check.json_key(value)
    except (TypeError, ValueError, RecursionError):
        return False
    return any(check.json_key(v) == key for v in values)
