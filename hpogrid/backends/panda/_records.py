"""The project's record of its grid tasks: which PanDA tasks belong to it.

``report`` and ``tasks`` use it to find a project's tasks without asking PanDA for every
task of the user. One JSON file per project (``grid/tasks.json``), rewritten atomically
under a file lock so two submissions never lose each other's entry.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from hpogrid.fileio import dump_json, write_atomic


@dataclass(frozen=True)
class Submission:
    """One submitted task: enough to find it again and to label its trials."""

    task_id: int
    taskname: str
    submitted_at: str
    site: Optional[str]
    out_ds: str
    n_jobs: int
    container: Optional[str] = None
    in_ds: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)


def tasks_file(project_path: Path) -> Path:
    return project_path / "grid" / "tasks.json"


def load_submissions(project_path: Path) -> List[Submission]:
    path = tasks_file(project_path)
    if not path.is_file():
        return []
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    names = set(Submission.__dataclass_fields__)
    return [Submission(**{k: v for k, v in row.items() if k in names}) for row in rows if isinstance(row, dict)]


def record_submission(project_path: Path, submission: Submission) -> None:
    """Add (or replace, by task id) one submission."""
    from filelock import FileLock

    path = tasks_file(project_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=30):
        rows = [s for s in load_submissions(project_path) if s.task_id != submission.task_id]
        rows.append(submission)
        write_atomic(path, dump_json([asdict(s) for s in rows]))
