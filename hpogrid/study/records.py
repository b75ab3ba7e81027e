"""Plain values handed out by the study store.

Callers (backends, reports, resume) only ever see these frozen dataclasses, never ORM
objects, so no session, lazy load or detached-instance error can leak out of the store.
This module imports nothing heavy on purpose.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
import math
from typing import Any, Optional


class TrialState(str, Enum):
    """A trial's state. A ``str`` enum: it equals (and is stored as) its name, so rows written
    before the enum existed, and JSON, compare equal to it."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"

    def __str__(self) -> str:
        return self.value

    @property
    def is_finished(self) -> bool:
        return self in FINISHED_STATES


PENDING = TrialState.PENDING
RUNNING = TrialState.RUNNING
COMPLETED = TrialState.COMPLETED
FAILED = TrialState.FAILED
INTERRUPTED = TrialState.INTERRUPTED

#: every trial state, in life-cycle order (also the key order of ``StudyStore.counts``)
STATES = (PENDING, RUNNING, COMPLETED, FAILED, INTERRUPTED)
#: states after which a trial no longer runs (``finished_at`` is set on entering them)
FINISHED_STATES = frozenset({COMPLETED, FAILED, INTERRUPTED})
#: the annotation of a trial an early-stopping scheduler stopped (see ``TrialRecord.stopped_at``)
STOPPED_EARLY = "stopped_early"
#: the annotation of a point of a multi-fidelity central grid search: one entry per rung it ran
#: at, ``{"rung", "budget", "state", "value", "task"}`` (see ``TrialRecord.shown_state``)
RUNGS = "rungs"
#: annotation ``{metric: why}``: metrics the trial reported that are stored as null because they
#: are not finite floats (NaN, infinity, an integer beyond a float's range)
METRICS_NOT_STORED = "metrics_not_stored"
#: the attempts of a trial that did not finish (a lost process or job, an error retried): a list
#: of ``{"attempt": 1-based int, "reason": "NODE_FAIL" | "PREEMPTED" | "BOOT_FAIL" | "killed by
#: SIGKILL" | "out of memory" | "error" | "rule: <match>", "where": {"host"|"node"|"site": str},
#: "error": first line or None, "ended": ISO-8601 UTC}``
ATTEMPTS = "attempts"


def not_a_float(value: Any) -> Optional[str]:
    """Why the metric ``value`` (a number) cannot be stored as a finite float (no report,
    chart or searcher could use it); None when it can, or is no number."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number"
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            return f"an integer of {value.bit_length()} bits, beyond the range of a float"
    return None


#: optimisation directions of a study
MODES = ("min", "max")
#: where a trial ran; free text is allowed, these are the names hpogrid itself writes
BACKENDS = ("local", "ray", "slurm", "panda")


@dataclass(frozen=True)
class StudyInfo:
    """One study: a named set of trials optimising ``metric`` in direction ``mode``."""

    id: int
    name: str
    metric: str
    mode: str
    attrs: dict = field(default_factory=dict)
    created_at: Optional[datetime] = None


@dataclass(frozen=True)
class TrialRecord:
    """One trial as stored; ``uid`` is the caller's stable id, ``number`` the store's.

    ``value`` is the study metric's last finite value (``None`` when missing, not a number,
    NaN or infinite), which is what ordering and ``best_trial`` use. Datetimes are
    timezone-aware UTC.
    """

    study: str
    uid: str
    number: int
    state: str
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    value: Optional[float] = None
    intermediate: list = field(default_factory=list)
    error: Optional[str] = None
    backend: Optional[str] = None
    host: Optional[str] = None
    job_id: Optional[str] = None
    task_id: Optional[str] = None
    site: Optional[str] = None
    annotations: dict = field(default_factory=dict)
    created_at: Optional[datetime] = None
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    heartbeat_at: Optional[datetime] = None

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def stopped_at(self) -> Optional[Any]:
        """Where an early-stopping scheduler stopped this trial (its ``time_attr`` value), None
        when none did. Such a trial is COMPLETED (its last report is its result) with the
        annotation :data:`STOPPED_EARLY` ``{"by": scheduler, "at": ..., "why": ...}``."""
        note = (self.annotations or {}).get(STOPPED_EARLY)
        return note.get("at") if isinstance(note, dict) else None

    @property
    def shown_state(self) -> str:
        """The state as tables show it: ``COMPLETED (stopped at 3)`` for a stopped trial, and
        ``COMPLETED (rungs 1,3,9)`` for a point of a multi-fidelity grid search that was
        promoted to the last rung (one left below it was stopped at its budget)."""
        at = self.stopped_at
        if at is not None:
            return f"{self.state} (stopped at {at})"
        rungs = [e.get("budget") for e in (self.annotations or {}).get(RUNGS) or [] if isinstance(e, dict)]
        return f"{self.state} (rungs {','.join(str(b) for b in rungs)})" if rungs else str(self.state)

    @property
    def duration_s(self) -> Optional[float]:
        """Seconds from start to finish, ``None`` while either end is unknown."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def metric(self, name: str, default: Any = None) -> Any:
        """Last reported value of metric ``name``."""
        return self.metrics.get(name, default)
