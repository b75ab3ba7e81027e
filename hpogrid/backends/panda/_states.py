"""What :mod:`._sync`, :mod:`._tasks` and :mod:`._outcome` read off PanDA: task and job states,
signature, times.

Shared here so neither of the two imports the other.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, Optional

#: JEDI task states after which nothing changes any more
FINAL_TASK_STATES = frozenset({"done", "finished", "failed", "aborted", "broken"})
#: PanDA job states of jobs that ended without handing back trials
FAILED_JOB_STATES = frozenset({"failed"})
#: ... and those stopped from outside (tasks kill, PanDA): their trials were interrupted
STOPPED_JOB_STATES = frozenset({"cancelled", "closed"})
#: every state of a job that has ended
ENDED_JOB_STATES = frozenset({"finished"}) | FAILED_JOB_STATES | STOPPED_JOB_STATES
ACTIVE_JOB_STATES = frozenset({"pending", "defined", "assigned", "waiting", "throttled", "activated", "sent",
                               "starting", "running", "holding", "transferring", "merging"})
#: active job states in which the payload runs (the others wait in PanDA)
RUNNING_JOB_STATES = frozenset({"starting", "running", "holding", "transferring"})


def task_signature(task: Dict[str, Any]) -> str:
    """The task's state as PanDA shows it now; a retry changes it (status or modification time)."""
    return f"{str(task.get('status', '')).lower()}@{task.get('modificationtime')}"


def parse_time(text: Any) -> Optional[datetime]:
    """A PanDA time (ISO 8601, ``Z`` allowed, naive means UTC) as an aware datetime; None if unreadable."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value
