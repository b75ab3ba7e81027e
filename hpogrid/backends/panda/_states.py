"""What :mod:`._sync` and :mod:`._tasks` both read off a PanDA task: final states, signature, times.

Shared here so neither of the two imports the other.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, Optional

#: JEDI task states after which nothing changes any more
FINAL_TASK_STATES = frozenset({"done", "finished", "failed", "aborted", "broken"})


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
