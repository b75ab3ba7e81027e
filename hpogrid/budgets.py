"""Budgets and stop rules of a run: their grammar, checked once, and the rules as one value.

A run ends after ``trials`` trials; these rules may end it earlier (README "Budgets and stop
rules"): ``timeout`` (wall clock of this run), ``max_cost`` (CPU- and/or GPU-hours over the
whole study), ``target`` (a value to reach, or a reference point to dominate with several
objectives) and ``patience`` with ``min_delta``. The same grammar serves the hpo_config fields
and the run options, so a value means the same wherever it is given; a bad one is a one-line
:class:`~hpogrid.errors.ValidationError` naming the field and the accepted forms. Imports
nothing heavy: the config models and the CLI's ``--help`` read it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from hpogrid.errors import ValidationError

#: the accepted forms, as error messages and --help say them
DURATION_FORMS = "a number with a unit s, m, h or d, e.g. 45s, 90m, 12h, 2d, or combined, e.g. 1h30m"
COST_FORMS = "NUMBERcpu-h and/or NUMBERgpu-h, comma-separated, e.g. 200gpu-h, 10cpu-h or 10cpu-h,200gpu-h"
TARGET_FORMS = "one number per objective, comma-separated (several objectives: a reference point, e.g. 0.1,0.5)"
#: what ends the run when the timeout passes
TIMEOUT_ACTIONS = ("drain", "stop")
#: the rules by name, as the run summary and the study's ``stopped_by`` attribute say them
RULES = ("timeout", "max_cost", "target", "patience")
#: the kinds of hours ``max_cost`` budgets, as resource names (hpo_config ``resource``)
COST_KINDS = ("cpu", "gpu")
#: the study attribute holding the rules, the budget spent and which rule ended the last run
ATTRS_KEY = "stop_rules"

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_COST = re.compile(r"(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*(cpu|gpu)-?h(?:ours?)?")


def parse_duration(text: Any, name: str = "--timeout") -> float:
    """Seconds of ``text`` (:data:`DURATION_FORMS`); more than zero."""
    raw = str(text).strip().lower().replace(" ", "") if isinstance(text, str) else ""
    pos, seconds = 0, 0.0
    for m in _PART.finditer(raw):
        if m.start() != pos:
            break
        seconds += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not raw or pos != len(raw):
        raise ValidationError(name, f"{text!r} is not a duration; give {DURATION_FORMS}")
    if seconds <= 0 or not math.isfinite(seconds):
        raise ValidationError(name, f"{text!r} must be more than zero; give {DURATION_FORMS}")
    return seconds


#: Slurm's time limits (sbatch --time): MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS
SLURM_TIME_FORMS = "MINUTES, HH:MM:SS or D-HH:MM:SS (e.g. 30, 12:00:00 or 2-00:00:00)"
_SLURM_TIME = re.compile(r"\d+-\d{1,2}(:\d{1,2}){0,2}|\d+(:\d{1,2}){0,2}")


def is_slurm_time(text: str) -> bool:
    """Whether ``text`` is a Slurm time limit (:data:`SLURM_TIME_FORMS`): one check for the
    slurm_config ``time`` of trials and the ``--driver-time`` of a detached driver."""
    return bool(_SLURM_TIME.fullmatch(text))


def format_duration(seconds: float) -> str:
    """``5400`` -> ``1h30m`` (what :func:`parse_duration` reads back)."""
    seconds = max(0.0, seconds)
    out, rest = [], seconds
    for unit in ("d", "h", "m"):
        n = int(rest // _UNITS[unit])
        if n:
            out.append(f"{n}{unit}")
            rest -= n * _UNITS[unit]
    if rest or not out:
        out.append(f"{rest:.0f}s" if rest >= 1 or not out else f"{rest:.1f}s")
    return "".join(out)


def parse_cost(text: Any, name: str = "--max-cost") -> Dict[str, float]:
    """``{"cpu": hours, "gpu": hours}`` (one or both) of ``text`` (:data:`COST_FORMS`)."""
    parts = [p.strip().lower() for p in str(text).split(",")] if isinstance(text, str) else [""]
    out: Dict[str, float] = {}
    for part in parts:
        m = _COST.fullmatch(part)
        if m is None:
            raise ValidationError(name, f"{text!r} is not a budget; give {COST_FORMS}")
        hours, kind = float(m.group(1)), m.group(2)
        if kind in out:
            raise ValidationError(name, f"{text!r} gives {kind}-h twice; give {COST_FORMS}")
        if hours <= 0 or not math.isfinite(hours):
            raise ValidationError(name, f"{text!r}: a budget must be more than zero; give {COST_FORMS}")
        out[kind] = hours
    return out


def format_cost(cost: Mapping[str, float]) -> str:
    """``{"cpu": 10, "gpu": 200}`` -> ``10cpu-h,200gpu-h`` (what :func:`parse_cost` reads back)."""
    return ",".join(f"{cost[k]:g}{k}-h" for k in COST_KINDS if k in cost)


def parse_target(value: Any, count: int, name: str = "--target") -> Tuple[float, ...]:
    """One finite number per objective (``count`` of them): a number, a list, or ``"0.1,0.5"``."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    try:
        numbers = tuple(float(v) for v in items if not isinstance(v, bool))
    except (TypeError, ValueError):
        numbers = ()
    if len(numbers) != len(items) or not numbers or not all(math.isfinite(v) for v in numbers):
        raise ValidationError(name, f"{value!r} is not a target; give {TARGET_FORMS}")
    if len(numbers) != count:
        if count > 1 and len(numbers) == 1:
            raise ValidationError(name, f"{count} objectives need a reference point to dominate, one number each, "
                                  f"e.g. {','.join(['0.5'] * count)} (got one value)")
        raise ValidationError(name, f"{len(numbers)} values for {count} objective(s); give {TARGET_FORMS}")
    return numbers


def check_patience(patience: Any, min_delta: Any, name: str = "--patience", delta_name: str = "--min-delta") -> None:
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
        raise ValidationError(name, f"must be a whole number of completed trials, at least 1 (got {patience!r})")
    if min_delta is not None:
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or not math.isfinite(min_delta) \
                or min_delta < 0:
            raise ValidationError(delta_name, f"must be a number >= 0 (got {min_delta!r})")
        if patience is None:
            raise ValidationError(delta_name, "goes with patience N (--patience; no improvement by more than "
                                  "it in N completed trials)")


@dataclass(frozen=True)
class StopRules:
    """The rules of one run, parsed. ``timeout_s``: seconds of this run; ``max_cost``: hours by
    kind (:data:`COST_KINDS`); ``target``: one value per objective (None: no target)."""

    timeout_s: Optional[float] = None
    timeout_action: str = "drain"
    max_cost: Mapping[str, float] = field(default_factory=dict)
    target: Optional[Tuple[float, ...]] = None
    patience: Optional[int] = None
    min_delta: float = 0.0

    @classmethod
    def parse(cls, given: Mapping[str, Any], objectives: int, names: Optional[Mapping[str, str]] = None) -> "StopRules":
        """The rules from ``given`` (keys :data:`FIELDS`; None or missing: unset). ``names``
        says what each key is called in errors (default ``--timeout`` ...)."""
        names = {**{k: f"--{k.replace('_', '-')}" for k in FIELDS}, **(names or {})}
        action = given.get("timeout_action") or "drain"
        if action not in TIMEOUT_ACTIONS:
            raise ValidationError(names["timeout_action"], f"{action!r}: choose one of {', '.join(TIMEOUT_ACTIONS)}")
        timeout = given.get("timeout")
        cost = given.get("max_cost")
        target = given.get("target")
        patience, delta = given.get("patience"), given.get("min_delta")
        check_patience(patience, delta, names["patience"], names["min_delta"])
        return cls(timeout_s=None if timeout is None else parse_duration(timeout, names["timeout"]),
                   timeout_action=action,
                   max_cost={} if cost is None else parse_cost(cost, names["max_cost"]),
                   target=None if target is None else parse_target(target, objectives, names["target"]),
                   patience=patience, min_delta=float(delta or 0.0))

    @property
    def active(self) -> bool:
        return bool(self.timeout_s or self.max_cost or self.target is not None or self.patience)

    def describe(self) -> List[str]:
        """One phrase per active rule, e.g. ``timeout 12h (then drain)``."""
        out = []
        if self.timeout_s:
            out.append(f"timeout {format_duration(self.timeout_s)} (then {self.timeout_action})")
        if self.max_cost:
            out.append(f"max_cost {format_cost(self.max_cost)}")
        if self.target is not None:
            out.append(f"target {','.join(f'{v:g}' for v in self.target)}")
        if self.patience:
            out.append(f"patience {self.patience}" + (f" (min_delta {self.min_delta:g})" if self.min_delta else ""))
        return out

    def to_json(self) -> Dict[str, Any]:
        return {"timeout_s": self.timeout_s, "timeout_action": self.timeout_action, "max_cost": dict(self.max_cost),
                "target": list(self.target) if self.target is not None else None, "patience": self.patience,
                "min_delta": self.min_delta}


#: the hpo_config fields (and RunOptions fields) that hold the rules
FIELDS = ("timeout", "timeout_action", "max_cost", "target", "patience", "min_delta")


def merged(hpo: Mapping[str, Any], overrides: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """The rules' raw values, a run option (not None) over the hpo_config's, and the name each
    came from (for errors: ``--timeout`` or ``hpo_config.timeout``)."""
    values: Dict[str, Any] = {}
    names: Dict[str, str] = {}
    for key in FIELDS:
        if overrides.get(key) is not None:
            values[key], names[key] = overrides[key], f"--{key.replace('_', '-')}"
        else:
            values[key], names[key] = hpo.get(key), f"hpo_config.{key}"
    return values, names


def cost_of(seconds: float, resources: Mapping[str, float]) -> Dict[str, float]:
    """Hours by kind that ``resources`` used for ``seconds``."""
    return {k: max(0.0, seconds) / 3600.0 * float(resources.get(k) or 0.0) for k in COST_KINDS}


def gres_gpus(gres: Optional[str]) -> float:
    """GPUs of a Slurm ``--gres`` (``gpu:2``, ``gpu:a100:2``, ``gpu``, ``gpu:1,shard:2``)."""
    total = 0.0
    for item in (gres or "").split(","):
        parts = item.strip().split(":")
        if parts[0] != "gpu":
            continue
        last = parts[-1].split("(")[0] if len(parts) > 1 else "1"
        total += float(last) if last.isdigit() else 1.0
    return total


def added(a: Mapping[str, float], b: Mapping[str, float]) -> Dict[str, float]:
    return {k: float(a.get(k) or 0.0) + float(b.get(k) or 0.0) for k in COST_KINDS}


def point_reached(point: Sequence[float], target: Sequence[float]) -> bool:
    """Minimisation form: ``point`` is at least as good as ``target`` on every objective."""
    return all(p <= t for p, t in zip(point, target))
