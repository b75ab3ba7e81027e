"""Normalisation of the values callers hand to the store.

Trials arrive from Ray Tune, Slurm and PanDA with numpy scalars, tuples, NaN losses and
epoch timestamps. Normalising them once, before they reach the database, makes every
backend (SQLite, PostgreSQL, MariaDB) store and return exactly the same thing:

* JSON: numpy scalars/arrays become Python values, tuples become lists, dict keys become
  strings (JSON would do that anyway), unknown objects become ``str(obj)``. Non-finite
  floats cannot be stored as JSON on PostgreSQL/MariaDB: in *numeric* documents (metrics,
  intermediate values) they are written as the markers ``"NaN"``/``"Infinity"``/
  ``"-Infinity"`` and read back as floats; elsewhere (params, attrs, annotations) they
  become those strings for good.
* Datetimes: timezone-aware, converted to UTC; epoch seconds are accepted; naive datetimes
  are refused because guessing their zone silently corrupts heartbeats.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Optional

from hpogrid.errors import ValidationError

_MARKERS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def float_marker(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    return "Infinity" if x > 0 else "-Infinity"


def clean_json(value: Any, numeric: bool = False) -> Any:
    """A JSON-safe deep copy of ``value`` (see module docstring)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        value = float(value)
        if math.isfinite(value) or numeric:
            return value
        return float_marker(value)
    if isinstance(value, dict):
        return {str(k): clean_json(v, numeric) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v, numeric) for v in value]
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy scalar or array
        return clean_json(value.tolist(), numeric)
    if hasattr(value, "item") and callable(value.item):
        return clean_json(value.item(), numeric)
    return str(value)


def encode_nonfinite(value: Any) -> Any:
    """Replace non-finite floats by their string markers (for writing JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return float_marker(value)
    if isinstance(value, dict):
        return {k: encode_nonfinite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode_nonfinite(v) for v in value]
    return value


def decode_nonfinite(value: Any) -> Any:
    """Turn the string markers back into floats (for reading numeric JSON)."""
    if isinstance(value, str):
        return _MARKERS.get(value, value)
    if isinstance(value, dict):
        return {k: decode_nonfinite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_nonfinite(v) for v in value]
    return value


def finite_or_none(value: Any) -> Optional[float]:
    """``float(value)`` when it is a finite number, else ``None`` (bools are not numbers)."""
    if value is None or isinstance(value, (bool, str)):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def to_utc(value: Any, field: str) -> Optional[datetime]:
    """A timezone-aware UTC datetime from a datetime or epoch seconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValidationError(
                field, "naive datetime: pass a timezone-aware datetime or epoch seconds"
            )
        return value.astimezone(timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return datetime.fromtimestamp(float(value), timezone.utc)
    raise ValidationError(field, f"expected a datetime or epoch seconds, got {value!r}")
