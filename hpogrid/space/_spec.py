"""The short parameter grammar of ``hpogrid optimize --param NAME=SPEC``, and helpers for Python.

``lr=loguniform:1e-5:1e-1`` is ``{"lr": {"method": "loguniform", "dimension": {"low": 1e-5,
"high": 1e-1}}}``: a SPEC is the method, then its dimension's values in a fixed order, joined by
``:``, so it maps one to one onto the JSON grammar (README "One command" has the table). The
same JSON comes from ``hpogrid.space.loguniform(1e-5, 1e-1)`` in a notebook. Nothing is
validated here beyond the shape: :class:`SearchSpace` checks the values, as for any space.
"""
import json
import math
from typing import Any, Dict, List, Sequence, Tuple

from hpogrid.errors import ValidationError

#: SPEC method -> (JSON method, required dimension keys in order, optional ones after them)
_FORMS: Dict[str, Tuple[str, Tuple[str, ...], Tuple[str, ...]]] = {
    "uniform": ("uniform", ("low", "high"), ()),
    "int": ("uniformint", ("low", "high"), ()),
    "uniformint": ("uniformint", ("low", "high"), ()),
    "quniform": ("quniform", ("low", "high", "q"), ()),
    "loguniform": ("loguniform", ("low", "high"), ("base",)),
    "qloguniform": ("qloguniform", ("low", "high", "q"), ("base",)),
    "normal": ("normal", ("mu", "sigma"), ()),
    "qnormal": ("qnormal", ("mu", "sigma", "q"), ()),
    "lognormal": ("lognormal", ("mu", "sigma"), ("base",)),
    "qlognormal": ("qlognormal", ("mu", "sigma", "q"), ("base",)),
}
#: the accepted forms, as a mistake lists them
FORMS = ("uniform:LOW:HIGH, int:LOW:HIGH, quniform:LOW:HIGH:Q, loguniform:LOW:HIGH[:BASE], "
         "qloguniform:LOW:HIGH:Q[:BASE], normal:MU:SIGMA, qnormal:MU:SIGMA:Q, lognormal:MU:SIGMA[:BASE], "
         "qlognormal:MU:SIGMA:Q[:BASE], choice:A,B,..., grid:A,B,..., fixed:VALUE")


def _fail(name: str, why: str) -> ValidationError:
    return ValidationError(f"--param {name}", f"{why}; accepted: NAME=" + FORMS.replace(", ", " | "))


def _number(name: str, text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise _fail(name, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise _fail(name, f"{text!r} is not a finite number")
    return value


def _value(text: str) -> Any:
    """A choice: a JSON number, true/false/null, else the text itself (``adam``)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (int, float, bool)) or value is None else text


def parse_param(text: str) -> Tuple[str, Dict[str, Any]]:
    """``NAME=SPEC`` -> (name, JSON-grammar parameter); one-line :class:`ValidationError` otherwise."""
    name, eq, spec = text.partition("=")
    name = name.strip()
    if not eq or not name:
        raise ValidationError("--param", f"{text!r} is not NAME=SPEC, e.g. lr=loguniform:1e-5:1e-1; accepted SPECs: "
                              + FORMS.replace(", ", " | "))
    return name, parse_spec(name, spec)


def parse_spec(name: str, spec: str) -> Dict[str, Any]:
    """One SPEC (``loguniform:1e-5:1e-1``) as ``{"method": ..., "dimension": {...}}``."""
    method, _, rest = spec.strip().partition(":")
    method = method.strip().lower()
    if method in ("choice", "categorical", "grid"):
        values = [_value(v.strip()) for v in rest.split(",")] if rest.strip() else []
        if not values or any(v == "" for v in values):
            raise _fail(name, f"{method} needs values separated by commas (got {rest!r})")
        dimension: Dict[str, Any] = {"categories": values}
        if method == "grid":
            dimension["grid_search"] = 1
        return {"method": "categorical", "dimension": dimension}
    if method == "fixed":
        if not rest:
            raise _fail(name, "fixed needs a value")
        return {"method": "fixed", "dimension": {"value": _value(rest)}}
    if method not in _FORMS:
        raise _fail(name, f"unknown method {method!r}")
    json_method, required, optional = _FORMS[method]
    parts: List[str] = rest.split(":") if rest else []
    if not len(required) <= len(parts) <= len(required) + len(optional):
        wanted = ":".join(k.upper() for k in required) + "".join(f"[:{k.upper()}]" for k in optional)
        raise _fail(name, f"{method} takes {method}:{wanted} (got {spec!r})")
    keys = (*required, *optional)
    return {"method": json_method, "dimension": {k: _number(name, v.strip()) for k, v in zip(keys, parts)}}


# -- the same parameters from Python: hpogrid.space.loguniform(1e-5, 1e-1), ... -----------------
def _param(method: str, **dimension: Any) -> Dict[str, Any]:
    return {"method": method, "dimension": {k: v for k, v in dimension.items() if v is not None}}


def uniform(low: float, high: float) -> Dict[str, Any]:
    """A float in [low, high)."""
    return _param("uniform", low=low, high=high)


def uniformint(low: int, high: int) -> Dict[str, Any]:
    """An integer in [low, high], both ends included."""
    return _param("uniformint", low=low, high=high)


def quniform(low: float, high: float, q: float) -> Dict[str, Any]:
    return _param("quniform", low=low, high=high, q=q)


def loguniform(low: float, high: float, base: Any = None) -> Dict[str, Any]:
    return _param("loguniform", low=low, high=high, base=base)


def qloguniform(low: float, high: float, q: float, base: Any = None) -> Dict[str, Any]:
    return _param("qloguniform", low=low, high=high, q=q, base=base)


def normal(mu: float, sigma: float) -> Dict[str, Any]:
    return _param("normal", mu=mu, sigma=sigma)


def qnormal(mu: float, sigma: float, q: float) -> Dict[str, Any]:
    return _param("qnormal", mu=mu, sigma=sigma, q=q)


def lognormal(mu: float, sigma: float, base: Any = None) -> Dict[str, Any]:
    return _param("lognormal", mu=mu, sigma=sigma, base=base)


def qlognormal(mu: float, sigma: float, q: float, base: Any = None) -> Dict[str, Any]:
    return _param("qlognormal", mu=mu, sigma=sigma, q=q, base=base)


def choice(values: Sequence[Any], grid_search: bool = False) -> Dict[str, Any]:
    """One of ``values`` (any JSON values); ``grid_search=True`` runs each."""
    return _param("categorical", categories=list(values), grid_search=1 if grid_search else None)


def fixed(value: Any) -> Dict[str, Any]:
    return _param("fixed", value=value)


def space_from(space: Any) -> Dict[str, Any]:
    """A notebook's space: a dict of JSON-grammar parameters, helper results or SPEC strings."""
    if not isinstance(space, dict):
        raise ValidationError("space", f"must be a dict of parameters (got {type(space).__name__})")
    return {name: parse_spec(name, spec) if isinstance(spec, str) and name != "constraints" else spec
            for name, spec in space.items()}
