"""What a run optimises: one or several objectives (metric + direction) and outcome constraints.

One typed value for every part that needs to know it (config, engine, searchers, study,
report), so "which metrics, which directions, which bounds" is parsed and checked once.
A single objective behaves exactly as the plain ``metric``/``mode`` pair always did.

How it is stored: the hpo_config keeps ``metric``/``mode`` as a string (one objective) or a
list (several) and ``constraints`` as ``{"metric": ["<=", bound]}``; a study keeps its first
objective in its ``metric``/``mode`` columns (so old readers and the ``value`` column keep
working) and the whole definition in its ``attrs`` (:meth:`Objectives.to_attrs`).

This module imports nothing heavy; the Pareto arithmetic is in :mod:`hpogrid.pareto`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from hpogrid.errors import ValidationError

MODES = ("min", "max")
#: comparison operators of an outcome constraint
CONSTRAINT_OPS = ("<=", ">=")
#: keys of a study's ``attrs`` that hold the definition
ATTRS_OBJECTIVES, ATTRS_CONSTRAINTS = "objectives", "constraints"


def _number(value: Any) -> Optional[float]:
    """``value`` as a finite float, None when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Objective:
    metric: str
    mode: str

    def better(self, a: float, b: Optional[float]) -> bool:
        return b is None or (a < b if self.mode == "min" else a > b)


@dataclass(frozen=True)
class OutcomeConstraint:
    """``metric op bound``: a trial whose final ``metric`` breaks it is infeasible."""

    metric: str
    op: str
    bound: float

    def slack(self, metrics: Mapping[str, Any]) -> float:
        """How far the trial is from the bound: <= 0 satisfied (optuna's ``constraints_func``
        convention); a missing or non-finite value is +inf."""
        value = _number(metrics.get(self.metric))
        if value is None:
            return math.inf
        return value - self.bound if self.op == "<=" else self.bound - value

    def holds(self, metrics: Mapping[str, Any]) -> bool:
        return self.slack(metrics) <= 0

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"

    def as_json(self) -> list:
        return [self.op, self.bound]


@dataclass(frozen=True)
class Objectives:
    """The objectives of a run, in order (the first is the *primary* one), and its constraints."""

    items: Tuple[Objective, ...]
    constraints: Tuple[OutcomeConstraint, ...] = ()

    # -- construction --------------------------------------------------------------------

    @classmethod
    def single(cls, metric: str, mode: str) -> "Objectives":
        return cls.parse(metric, mode)

    @classmethod
    def parse(cls, metric: Union[str, Sequence[str]], mode: Union[str, Sequence[str]],
              constraints: Optional[Mapping[str, Any]] = None, field: str = "hpo_config") -> "Objectives":
        """From the hpo_config form: ``metric``/``mode`` a string, a comma-separated string or a
        list; ``constraints`` ``{"latency": ["<=", 20]}``. One-line :class:`ValidationError`
        naming the field otherwise."""
        metrics = parse_metrics(metric, f"{field}.metric")
        modes = parse_modes(mode, len(metrics), f"{field}.mode")
        return cls(tuple(Objective(m, d) for m, d in zip(metrics, modes)),
                   parse_constraints(constraints, f"{field}.constraints"))

    @classmethod
    def from_study(cls, metric: Union[str, List[str]], mode: Union[str, List[str]],
                   attrs: Optional[Mapping[str, Any]]) -> "Objectives":
        """A stored study's definition (studies written before several objectives existed
        have only their ``metric``/``mode`` columns)."""
        attrs = attrs or {}
        stored = attrs.get(ATTRS_OBJECTIVES)
        if isinstance(stored, list) and stored and all(isinstance(o, dict) for o in stored):
            metric = [str(o.get("metric")) for o in stored]
            mode = [str(o.get("mode")) for o in stored]
        return cls.parse(metric, mode, attrs.get(ATTRS_CONSTRAINTS) or None, field="study")

    def to_attrs(self) -> dict:
        """What a study keeps in its ``attrs`` (nothing for a single unconstrained objective)."""
        out: dict = {}
        if self.is_multi:
            out[ATTRS_OBJECTIVES] = [{"metric": o.metric, "mode": o.mode} for o in self.items]
        if self.constraints:
            out[ATTRS_CONSTRAINTS] = {c.metric: c.as_json() for c in self.constraints}
        return out

    # -- what it says --------------------------------------------------------------------

    @property
    def primary(self) -> Objective:
        return self.items[0]

    @property
    def metric(self) -> str:
        return self.items[0].metric

    @property
    def mode(self) -> str:
        return self.items[0].mode

    @property
    def metrics(self) -> Tuple[str, ...]:
        return tuple(o.metric for o in self.items)

    @property
    def modes(self) -> Tuple[str, ...]:
        return tuple(o.mode for o in self.items)

    @property
    def is_multi(self) -> bool:
        return len(self.items) > 1

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def describe(self) -> str:
        """``loss (min), latency (min)``."""
        return ", ".join(f"{o.metric} ({o.mode})" for o in self.items)

    def config_values(self) -> Tuple[Union[str, List[str]], Union[str, List[str]]]:
        """(metric, mode) as the hpo_config writes them: strings for one, lists for several."""
        if self.is_multi:
            return list(self.metrics), list(self.modes)
        return self.metric, self.mode

    # -- a trial's metrics -------------------------------------------------------------------

    def values(self, metrics: Optional[Mapping[str, Any]]) -> Optional[Tuple[float, ...]]:
        """Every objective's finite value, in order; None if one is missing or not finite."""
        if not metrics:
            return None
        values = [_number(metrics.get(m)) for m in self.metrics]
        finite = tuple(v for v in values if v is not None)
        return finite if len(finite) == len(values) else None

    def missing(self, metrics: Optional[Mapping[str, Any]]) -> List[str]:
        """The objectives a trial did not report as a finite number."""
        metrics = metrics or {}
        return [m for m in self.metrics if _number(metrics.get(m)) is None]

    def violations(self, metrics: Optional[Mapping[str, Any]]) -> List[OutcomeConstraint]:
        metrics = metrics or {}
        return [c for c in self.constraints if not c.holds(metrics)]

    def feasible(self, metrics: Optional[Mapping[str, Any]]) -> bool:
        return not self.violations(metrics)

    def slacks(self, metrics: Optional[Mapping[str, Any]]) -> List[float]:
        """One number per constraint, <= 0 when it holds (optuna's ``constraints_func``)."""
        metrics = metrics or {}
        return [c.slack(metrics) for c in self.constraints]

    def infeasible_reason(self, metrics: Optional[Mapping[str, Any]]) -> Optional[str]:
        """``"latency 25 > 20"``-style text of the broken constraints, None when feasible."""
        broken = self.violations(metrics)
        if not broken:
            return None
        metrics = metrics or {}
        return "; ".join(f"{c.metric} {_show(metrics.get(c.metric))} breaks {c.op} {c.bound:g}" for c in broken)


def _show(value: Any) -> str:
    number = _number(value)
    return "missing" if value is None else (f"{number:g}" if number is not None else str(value))


def parse_metrics(value: Union[str, Sequence[str], None], field: str = "hpo_config.metric") -> List[str]:
    """The objectives' metric names: at least one, none twice."""
    metrics = split_list(value, field)
    if not metrics:
        raise ValidationError(field, "must name at least one metric")
    if len(set(metrics)) != len(metrics):
        raise ValidationError(field, f"names a metric twice: {', '.join(metrics)}")
    return metrics


def parse_modes(value: Union[str, Sequence[str], None], count: Optional[int],
                field: str = "hpo_config.mode") -> List[str]:
    """The objectives' directions: each min or max, one per metric (``count``; None: unknown)."""
    modes = split_list(value, field)
    for m in modes:
        if m not in MODES:
            raise ValidationError(field, f"{m!r} is not allowed; choose one of: min, max")
    if count is not None and len(modes) != count:
        raise ValidationError(field, f"{count} metric(s) need {count} mode(s), one per metric in the same order "
                              f"(got {len(modes)}: {', '.join(modes)})")
    return modes


def primary_mode(mode: Any) -> Any:
    """The first objective's direction of a stored ``mode`` (hpo_config, grid job metadata):
    a string, or a list for several objectives."""
    return mode[0] if isinstance(mode, list) and mode else mode


def split_list(value: Union[str, Sequence[str], None], field: str) -> List[str]:
    """``"a, b"`` / ``["a", "b"]`` -> ``["a", "b"]`` (each a non-empty string)."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
    elif isinstance(value, (list, tuple)):
        parts = [p.strip() if isinstance(p, str) else p for p in value]
    else:
        raise ValidationError(field, f"must be a string or a list of strings (got {type(value).__name__})")
    for p in parts:
        if not isinstance(p, str) or not p:
            raise ValidationError(field, f"every entry must be a non-empty string (got {value!r})")
    return parts


def parse_constraints(value: Optional[Mapping[str, Any]], field: str = "hpo_config.constraints"
                      ) -> Tuple[OutcomeConstraint, ...]:
    """``{"latency_ms": ["<=", 20]}`` -> constraints (one-line error naming the key otherwise)."""
    if not value:
        return ()
    if not isinstance(value, Mapping):
        raise ValidationError(field, 'must be an object like {"latency_ms": ["<=", 20]}')
    out = []
    for metric, rule in value.items():
        where = f"{field}.{metric}"
        if not isinstance(metric, str) or not metric.strip():
            raise ValidationError(field, "every key must be a metric name")
        if not (isinstance(rule, (list, tuple)) and len(rule) == 2):
            raise ValidationError(where, f'must be [operator, bound], e.g. ["<=", 20] (got {rule!r})')
        op, bound = rule
        if op not in CONSTRAINT_OPS:
            raise ValidationError(where, f"operator {op!r} is not allowed; choose one of: <=, >=")
        number = _number(bound)
        if number is None:
            raise ValidationError(where, f"bound must be a finite number (got {bound!r})")
        out.append(OutcomeConstraint(metric, op, number))
    return tuple(out)


def objectives_of(items: Iterable[Tuple[str, str]]) -> Objectives:
    """Objectives from ``(metric, mode)`` pairs (tests and the API)."""
    pairs = list(items)
    return Objectives.parse([m for m, _ in pairs], [d for _, d in pairs])
