"""Small validators shared by the parameter classes.

Every failure raises :class:`~hpogrid.errors.SearchSpaceError` with a one-line message that
names what is allowed; user-supplied text is shown through :func:`show` so a stray newline or
a huge value can never break the single ``Error: ...`` line of the CLI.
"""
from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from typing import Any, NoReturn, Union

from hpogrid.errors import SearchSpaceError

Number = Union[int, float]

_INT64 = 2**63 - 1
_MAX_DEPTH = 100


def fail(field: str, message: str) -> NoReturn:
    raise SearchSpaceError(field, message)


def show(value: Any, limit: int = 60) -> str:
    """Short, single-line ``repr`` of a user value for error messages."""
    try:
        text = repr(value)
    except Exception:  # e.g. ints beyond the str-conversion limit
        text = f"<{type(value).__name__}>"
    text = " ".join(text.splitlines())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for 'must be an object (got array)' messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def number(field: str, value: Any, method: str) -> Number:
    """A finite JSON number; bools are not numbers. Ints stay ints (for round-trips)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(field, f"must be a number for {method} (got {show(value)})")
    value = int(value) if isinstance(value, numbers.Integral) else float(value)
    try:
        finite = math.isfinite(value)
    except OverflowError:  # int beyond float range
        finite = False
    if not finite:
        fail(field, f"must be a finite number for {method} (got {show(value)})")
    return value


def integer(field: str, value: Any, method: str) -> int:
    """A 64-bit integer; integral floats such as ``3.0`` are accepted as ``3``."""
    value = number(field, value, method)
    if isinstance(value, float):
        if not value.is_integer():
            fail(field, f"must be an integer for {method} (got {show(value)})")
        value = int(value)
    if not -_INT64 - 1 <= value <= _INT64:
        fail(field, f"must be a 64-bit integer for {method} (got {show(value)})")
    return value


def positive(field: str, value: Any, method: str) -> Number:
    value = number(field, value, method)
    if value <= 0:
        fail(field, f"must be > 0 for {method} (got {show(value)})")
    return value


def base(field: str, value: Any, method: str) -> Number:
    """A logarithm base: > 0 and != 1 (2, 10 and e are all fine)."""
    value = number(field, value, method)
    if value <= 0 or value == 1:
        fail(field, f"must be > 0 and != 1 for {method} (got {show(value)})")
    return value


def json_value(field: str, value: Any, depth: int = 0) -> None:
    """Check that ``value`` is plain, finite JSON data (what categories and fixed values hold)."""
    if depth > _MAX_DEPTH:
        fail(field, f"is nested too deeply (at most {_MAX_DEPTH} levels)")
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if value.bit_length() > 1024:
            fail(field, "integer is too large (at most 1024 bits)")
    elif isinstance(value, float):
        if not math.isfinite(value):
            fail(field, f"must be finite JSON data (got {show(value)})")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            json_value(f"{field}[{i}]", item, depth + 1)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                fail(field, f"object keys must be strings (got {show(key)})")
            json_value(f"{field}[{show(key, 40)}]", item, depth + 1)
    else:
        fail(field, f"must be JSON data (got {type(value).__name__})")


def json_key(value: Any) -> str:
    """Canonical text of a JSON value: tells 1, 1.0 and true apart (``==`` does not)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def is_float(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value)


def is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_name(name: Any) -> str:
    """Parameter names: 1-200 printable characters (``optimizer:lr`` colon paths are fine)."""
    if not isinstance(name, str):
        fail("search_space", f"parameter names must be strings (got {show(name)})")
    if not name or len(name) > 200 or not name.isprintable():
        fail(
            "search_space",
            f"invalid parameter name {show(name)}: use 1-200 printable characters",
        )
    return name
