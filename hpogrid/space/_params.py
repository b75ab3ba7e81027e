"""One small frozen class per search-space method.

Each class knows its JSON ``dimension`` keys, validates them (``from_dimension``), writes them
back (``to_dimension``), samples with the reference semantics (``sample``), checks membership
(``contains``) and reduces itself to one primitive :mod:`latent <hpogrid.space._latent>`
dimension plus a deterministic ``decode`` -- so ``decode(latent().sample(rng))`` has exactly
the distribution of ``sample(rng)`` and search-library adapters stay trivial.

Type rules: q-methods return ``int`` when ``q`` is a JSON integer, else ``float`` rounded to
the decimals ``q`` needs (``0.3``, not ``0.30000000000000004``); ``uniformint`` returns
``int``; the other numeric methods return ``float``.
"""
from __future__ import annotations

import abc
import copy
import decimal
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Optional, Tuple, Type

from hpogrid.space import _check as check
from hpogrid.space._check import Number, fail, is_float, is_int, show
from hpogrid.space._latent import Latent, LatentChoice, LatentInt, LatentNormal, LatentUniform

# Tails of normal-based methods are checked up to this many sigmas so samples stay finite.
_TAIL_SIGMAS = 10
_MAX_LN = 700.0  # exp(700) ~ 1e304: lognormal samples must stay below float overflow


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _pow(base: float, x: float) -> float:
    """``base ** x`` (exact for 10 ** 2, unlike exp(2 ln 10)); inf instead of OverflowError."""
    try:
        return base ** x
    except OverflowError:
        return math.inf


def _ln_tail(mu: Number, sigma: Number, base: Optional[Number]) -> float:
    """Largest ``|ln value|`` a lognormal reaches within the checked tails."""
    ln_b = abs(math.log(math.e if base is None else base))
    return abs(mu) * ln_b + _TAIL_SIGMAS * sigma * ln_b


def _ln_latent(mu: Number, sigma: Number, base: float) -> LatentNormal:
    """``base ** N(mu, sigma) == exp(N(mu ln b, sigma |ln b|))``; |.| as the normal is symmetric."""
    ln_b = math.log(base)
    return LatentNormal(mu * ln_b, sigma * abs(ln_b))


def _as_float(value: Any) -> Any:
    """An integer written for a real-valued parameter (``1`` for ``1.0``) as that float."""
    if is_int(value):
        try:
            return float(value)
        except OverflowError:  # beyond any float: not a value of the parameter
            return value
    return value


def _as_int(value: Any) -> Any:
    """An integral float written for an integer parameter (``3.0`` for ``3``) as that int."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _contains_json(categories: Tuple[Any, ...], value: Any) -> bool:
    try:
        key = check.json_key(value)
    except (TypeError, ValueError, RecursionError):
        return False
    return any(check.json_key(c) == key for c in categories)


@functools.lru_cache(maxsize=256)
def _decimals(q: float) -> int:
    """Decimals needed to write ``q`` (0.1 -> 1, 2.5e-3 -> 4); used to clean float noise."""
    return max(0, -int(decimal.Decimal(repr(q)).as_tuple().exponent))


@dataclass(frozen=True)
class Param(abc.ABC):
    """A named parameter of the search space; build it with :meth:`from_dimension`."""

    name: str
    method: ClassVar[str]
    required: ClassVar[Tuple[str, ...]]
    optional: ClassVar[Tuple[str, ...]] = ()
    log: ClassVar[bool] = False  # explored on a log scale (report axes, adapters)

    @classmethod
    def from_dimension(cls, name: str, dimension: Any) -> "Param":
        """Validate a JSON ``dimension`` object; raise ``SearchSpaceError`` naming the field."""
        check.check_name(name)
        path = f"search_space.{name}.dimension"
        keys = cls.required + cls.optional
        if not isinstance(dimension, Mapping):
            fail(path, f"must be an object ({cls._needs()}) (got {check.json_type(dimension)})")
        for key in dimension:
            if key not in keys:
                fail(path, f"unknown key {show(key)} ({cls.method} takes {', '.join(keys)})")
        for key in cls.required:
            if key not in dimension:
                fail(f"{path}.{key}", f"missing ({cls._needs()})")
        return cls._parse(name, dimension, path)

    @classmethod
    def _needs(cls) -> str:
        extra = f"; optional {', '.join(cls.optional)}" if cls.optional else ""
        return f"{cls.method} needs {', '.join(cls.required)}{extra}"

    @classmethod
    @abc.abstractmethod
    def _parse(cls, name: str, dimension: Mapping, path: str) -> "Param":
        """Build the parameter from a dimension whose keys are already checked."""

    @abc.abstractmethod
    def to_dimension(self) -> dict:
        """Canonical JSON-able ``dimension``; ``from_dimension`` reads it back identically."""

    def to_dict(self) -> dict:
        return {"method": self.method, "dimension": self.to_dimension()}

    @abc.abstractmethod
    def sample(self, rng) -> Any:
        """Draw one value with the numpy ``Generator`` ``rng`` (reference semantics)."""

    @abc.abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` has the right type and lies in the support (on the q grid)."""

    def coerce(self, value: Any) -> Any:
        """``value`` as a user wrote it (JSON, CSV), in this parameter's own numeric type: ``1``
        for a real-valued parameter is ``1.0``, ``3.0`` for an integer one is ``3``; anything
        else unchanged (categories keep their JSON type: ``1``, ``1.0`` and ``true`` differ)."""
        return value

    @abc.abstractmethod
    def latent(self) -> Latent:
        """The primitive dimension a search library explores for this parameter."""

    @abc.abstractmethod
    def decode(self, value: Any) -> Any:
        """Map a value of :meth:`latent` to a parameter value."""


class _Quantized:
    """Rounding to the ``q`` grid, shared by the four q-methods."""

    q: Number

    def quantize(self, value: float) -> Number:
        """``round(value / q) * q``: int for an int ``q``, else a float without noise."""
        value = float(value)
        x = value / self.q
        if not math.isfinite(x):  # only for absurd values; keep sampling total
            return value
        k = round(x)
        if isinstance(self.q, int):
            return k * self.q
        return round(k * self.q, _decimals(self.q))

    def grid_index(self, value: Any) -> Optional[int]:
        """``k`` with ``value == k * q`` (small relative tolerance), or None when off-grid."""
        q = self.q
        if isinstance(q, int):
            return int(value) // q if is_int(value) and value % q == 0 else None
        if not is_float(value):
            return None
        k = round(value / q)
        return k if abs(value - k * q) <= 1e-9 * max(abs(value), q) else None

    def coerce(self, value: Any) -> Any:
        """The grid's own type: int for an int ``q``, float otherwise (see Param.coerce)."""
        return _as_int(value) if isinstance(self.q, int) else _as_float(value)

    def _in_grid(self, value: Any, low: Number, high: Number) -> bool:
        k = self.grid_index(value)
        return k is not None and round(low / self.q) <= k <= round(high / self.q)


class _LogBase:
    """Optional ``base`` of log methods; None means e. It does not change uniform-in-log."""

    base: Optional[Number]

    @property
    def log_base(self) -> float:
        return math.e if self.base is None else float(self.base)


def _bounds(method: str, d: Mapping, path: str, positive: bool = False) -> Tuple[Number, Number]:
    low = (check.positive if positive else check.number)(f"{path}.low", d["low"], method)
    high = check.number(f"{path}.high", d["high"], method)
    if not low < high:
        fail(f"{path}.high", f"must be > low for {method} (got low={show(low)}, high={show(high)})")
    if not math.isfinite(float(high) - float(low)):
        fail(path, f"high - low must be a finite number for {method}")
    return low, high


def _q(method: str, d: Mapping, path: str, largest: float, span: Optional[float] = None) -> Number:
    """``q`` > 0, not so small that ``largest / q`` overflows, and (with bounds) no larger than
    ``high - low``: a coarser grid has one value at most, or none inside the range."""
    q = check.positive(f"{path}.q", d["q"], method)
    if not math.isfinite(largest / q):
        fail(f"{path}.q", f"is too small for the range of {method} (got {show(q)})")
    if span is not None and q > span:
        fail(f"{path}.q", f"must be <= high - low = {show(span)} for {method}, or the grid has at most one value "
                          f"in the range (got {show(q)})")
    return q


def _base(method: str, d: Mapping, path: str) -> Optional[Number]:
    return check.base(f"{path}.base", d["base"], method) if "base" in d else None


def _with_base(dim: dict, base: Optional[Number]) -> dict:
    if base is not None:
        dim["base"] = base
    return dim


def _normal(method: str, d: Mapping, path: str) -> Tuple[Number, Number]:
    mu = check.number(f"{path}.mu", d["mu"], method)
    sigma = check.positive(f"{path}.sigma", d["sigma"], method)
    if not math.isfinite(abs(mu) + _TAIL_SIGMAS * sigma):
        fail(path, f"mu and sigma are too large for {method} (samples would overflow)")
    return mu, sigma


def _lognormal(method: str, d: Mapping, path: str) -> Tuple[Number, Number, Optional[Number]]:
    mu, sigma = _normal(method, d, path)
    b = _base(method, d, path)
    if _ln_tail(mu, sigma, b) > _MAX_LN:
        fail(path, f"mu and sigma are too large for {method}: base ** (mu +- 10 sigma) "
                   "must stay below 1e300")
    return mu, sigma, b


@dataclass(frozen=True)
class Categorical(Param):
    """Unordered choice of JSON values; ``grid_search`` runs every category (Ray grid)."""

    categories: Tuple[Any, ...]
    grid_search: bool = False
    method = "categorical"
    required = ("categories",)
    optional = ("grid_search",)

    @classmethod
    def _parse(cls, name, d, path):
        cats = d["categories"]
        if not isinstance(cats, (list, tuple)) or not cats:
            fail(f"{path}.categories", f"must be a non-empty array of values (got {show(cats)})")
        seen: Dict[Any, int] = {}
        for i, value in enumerate(cats):
            check.json_value(f"{path}.categories[{i}]", value)
            key = check.json_key(value)
            if key in seen:
                fail(f"{path}.categories[{i}]",
                     f"duplicate of categories[{seen[key]}] (categories must be unique)")
            seen[key] = i
        grid = d.get("grid_search", False)
        if not isinstance(grid, int) or grid not in (0, 1):
            fail(f"{path}.grid_search", f"must be 0, 1, true or false (got {show(grid)})")
        return cls(name, tuple(copy.deepcopy(list(cats))), bool(grid))

    def to_dimension(self):
        dim: Dict[str, Any] = {"categories": copy.deepcopy(list(self.categories))}
        if self.grid_search:
            dim["grid_search"] = 1
        return dim

    def sample(self, rng):
        return self.categories[int(rng.integers(len(self.categories)))]

    def contains(self, value):
        return _contains_json(self.categories, value)

    def latent(self):
        return LatentChoice(self.categories)

    def decode(self, value):
        return value


@dataclass(frozen=True)
class Uniform(Param):
    """Float uniform on ``[low, high)``."""

    low: Number
    high: Number
    method = "uniform"
    required = ("low", "high")

    @classmethod
    def _parse(cls, name, d, path):
        return cls(name, *_bounds(cls.method, d, path))

    def to_dimension(self):
        return {"low": self.low, "high": self.high}

    def sample(self, rng):
        return float(rng.uniform(self.low, self.high))

    def coerce(self, value):
        return _as_float(value)

    def contains(self, value):
        return is_float(value) and self.low <= value <= self.high

    def latent(self):
        return LatentUniform(float(self.low), float(self.high))

    def decode(self, value):
        return float(value)


@dataclass(frozen=True)
class UniformInt(Param):
    """Integer uniform on the INCLUSIVE range ``[low, high]`` (Ray's ``randint`` excludes high)."""

    low: int
    high: int
    method = "uniformint"
    required = ("low", "high")

    @classmethod
    def _parse(cls, name, d, path):
        low = check.integer(f"{path}.low", d["low"], cls.method)
        high = check.integer(f"{path}.high", d["high"], cls.method)
        if low > high:
            fail(f"{path}.high", f"must be >= low for {cls.method} (got low={low}, high={high})")
        return cls(name, low, high)

    def to_dimension(self):
        return {"low": self.low, "high": self.high}

    def sample(self, rng):
        return int(rng.integers(self.low, self.high, endpoint=True))

    def coerce(self, value):
        return _as_int(value)

    def contains(self, value):
        return is_int(value) and self.low <= value <= self.high

    def latent(self):
        return LatentInt(self.low, self.high)

    def decode(self, value):
        return int(round(value))


@dataclass(frozen=True)
class QUniform(_Quantized, Param):
    """``round(uniform(low, high) / q) * q``: uniform on a grid (the old tool forgot to round)."""

    low: Number
    high: Number
    q: Number
    method = "quniform"
    required = ("low", "high", "q")

    @classmethod
    def _parse(cls, name, d, path):
        low, high = _bounds(cls.method, d, path)
        return cls(name, low, high, _q(cls.method, d, path, max(abs(low), abs(high)), high - low))

    def to_dimension(self):
        return {"low": self.low, "high": self.high, "q": self.q}

    def sample(self, rng):
        return self.quantize(rng.uniform(self.low, self.high))

    def contains(self, value):
        return self._in_grid(value, self.low, self.high)

    def latent(self):
        return LatentUniform(float(self.low), float(self.high))

    def decode(self, value):
        return self.quantize(value)


@dataclass(frozen=True)
class LogUniform(_LogBase, Param):
    """Float whose logarithm is uniform: bounds on the value scale (``1e-5`` .. ``1e-2``)."""

    low: Number
    high: Number
    base: Optional[Number] = None
    method = "loguniform"
    required = ("low", "high")
    optional = ("base",)
    log = True

    @classmethod
    def _parse(cls, name, d, path):
        low, high = _bounds(cls.method, d, path, positive=True)
        return cls(name, low, high, _base(cls.method, d, path))

    def to_dimension(self):
        return _with_base({"low": self.low, "high": self.high}, self.base)

    def sample(self, rng):
        return self.decode(rng.uniform(math.log(self.low), math.log(self.high)))

    def coerce(self, value):
        return _as_float(value)

    def contains(self, value):
        return is_float(value) and self.low <= value <= self.high

    def latent(self):
        return LatentUniform(math.log(self.low), math.log(self.high))

    def decode(self, value):
        # clamp: exp(log(x)) may miss the bounds by one ulp
        return float(min(max(_exp(float(value)), self.low), self.high))


@dataclass(frozen=True)
class QLogUniform(_Quantized, _LogBase, Param):
    """``round(loguniform(low, high) / q) * q`` (may give 0 when ``low < q / 2``)."""

    low: Number
    high: Number
    q: Number
    base: Optional[Number] = None
    method = "qloguniform"
    required = ("low", "high", "q")
    optional = ("base",)
    log = True

    @classmethod
    def _parse(cls, name, d, path):
        low, high = _bounds(cls.method, d, path, positive=True)
        q = _q(cls.method, d, path, high, high - low)
        return cls(name, low, high, q, _base(cls.method, d, path))

    def to_dimension(self):
        return _with_base({"low": self.low, "high": self.high, "q": self.q}, self.base)

    def sample(self, rng):
        return self.decode(rng.uniform(math.log(self.low), math.log(self.high)))

    def contains(self, value):
        return self._in_grid(value, self.low, self.high)

    def latent(self):
        return LatentUniform(math.log(self.low), math.log(self.high))

    def decode(self, value):
        return self.quantize(min(max(_exp(float(value)), self.low), self.high))


@dataclass(frozen=True)
class Normal(Param):
    """Float normal with mean ``mu`` and standard deviation ``sigma``."""

    mu: Number
    sigma: Number
    method = "normal"
    required = ("mu", "sigma")

    @classmethod
    def _parse(cls, name, d, path):
        return cls(name, *_normal(cls.method, d, path))

    def to_dimension(self):
        return {"mu": self.mu, "sigma": self.sigma}

    def sample(self, rng):
        return float(rng.normal(self.mu, self.sigma))

    def coerce(self, value):
        return _as_float(value)

    def contains(self, value):
        return is_float(value)

    def latent(self):
        return LatentNormal(float(self.mu), float(self.sigma))

    def decode(self, value):
        return float(value)


@dataclass(frozen=True)
class QNormal(_Quantized, Param):
    """``round(normal(mu, sigma) / q) * q``."""

    mu: Number
    sigma: Number
    q: Number
    method = "qnormal"
    required = ("mu", "sigma", "q")

    @classmethod
    def _parse(cls, name, d, path):
        mu, sigma = _normal(cls.method, d, path)
        return cls(name, mu, sigma, _q(cls.method, d, path, abs(mu) + _TAIL_SIGMAS * sigma))

    def to_dimension(self):
        return {"mu": self.mu, "sigma": self.sigma, "q": self.q}

    def sample(self, rng):
        return self.quantize(rng.normal(self.mu, self.sigma))

    def contains(self, value):
        return self.grid_index(value) is not None

    def latent(self):
        return LatentNormal(float(self.mu), float(self.sigma))

    def decode(self, value):
        return self.quantize(value)


@dataclass(frozen=True)
class LogNormal(_LogBase, Param):
    """``base ** normal(mu, sigma)``: mu and sigma in log-base units (not ``normal ** base``)."""

    mu: Number
    sigma: Number
    base: Optional[Number] = None
    method = "lognormal"
    required = ("mu", "sigma")
    optional = ("base",)
    log = True

    @classmethod
    def _parse(cls, name, d, path):
        return cls(name, *_lognormal(cls.method, d, path))

    def to_dimension(self):
        return _with_base({"mu": self.mu, "sigma": self.sigma}, self.base)

    def sample(self, rng):
        return float(_pow(self.log_base, float(rng.normal(self.mu, self.sigma))))

    def coerce(self, value):
        return _as_float(value)

    def contains(self, value):
        return is_float(value) and value > 0

    def latent(self):
        return _ln_latent(self.mu, self.sigma, self.log_base)

    def decode(self, value):
        return _exp(float(value))


@dataclass(frozen=True)
class QLogNormal(_Quantized, _LogBase, Param):
    """``round(base ** normal(mu, sigma) / q) * q``."""

    mu: Number
    sigma: Number
    q: Number
    base: Optional[Number] = None
    method = "qlognormal"
    required = ("mu", "sigma", "q")
    optional = ("base",)
    log = True

    @classmethod
    def _parse(cls, name, d, path):
        mu, sigma, b = _lognormal(cls.method, d, path)
        return cls(name, mu, sigma, _q(cls.method, d, path, _exp(_ln_tail(mu, sigma, b))), b)

    def to_dimension(self):
        return _with_base({"mu": self.mu, "sigma": self.sigma, "q": self.q}, self.base)

    def sample(self, rng):
        return self.quantize(_pow(self.log_base, float(rng.normal(self.mu, self.sigma))))

    def contains(self, value):
        k = self.grid_index(value)
        return k is not None and k >= 0

    def latent(self):
        return _ln_latent(self.mu, self.sigma, self.log_base)

    def decode(self, value):
        return self.quantize(_exp(float(value)))


@dataclass(frozen=True)
class Fixed(Param):
    """Always ``value`` (hpogrid 1.3.3 compatibility); a one-element choice for libraries."""

    value: Any
    method = "fixed"
    required = ("value",)

    @classmethod
    def _parse(cls, name, d, path):
        check.json_value(f"{path}.value", d["value"])
        return cls(name, copy.deepcopy(d["value"]))

    def to_dimension(self):
        return {"value": copy.deepcopy(self.value)}

    def sample(self, rng):
        return self.value

    def contains(self, value):
        return _contains_json((self.value,), value)

    def latent(self):
        return LatentChoice((self.value,))

    def decode(self, value):
        return value


# Looked up by walking this tuple (order = METHODS order in the docs and error messages).
PARAM_TYPES: Tuple[Type[Param], ...] = (
    Categorical, Uniform, UniformInt, QUniform, LogUniform, QLogUniform,
    Normal, QNormal, LogNormal, QLogNormal, Fixed,
)
METHODS: Tuple[str, ...] = tuple(cls.method for cls in PARAM_TYPES)


def param_type(method: str) -> Optional[Type[Param]]:
    """The Param class for ``method``, or None."""
    for cls in PARAM_TYPES:
        if cls.method == method:
            return cls
    return None
