"""One JSON record per detached driver, in ``<project>/drivers/ID.json``, written atomically.

The launching command writes it, the driver updates it as it starts, resubmits itself and
ends, and ``hpogrid stop`` writes its request into it: every change is a read-modify-write
under the folder's lock (:func:`hpogrid.fileio.folder_lock`), so none is lost.
"""
from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any, List, Optional

from pydantic import BaseModel, ConfigDict

from hpogrid import paths
from hpogrid.fileio import folder_lock, write_atomic

#: states a driver never leaves: nothing runs any more (``resumed``: it died, and a later
#: detached driver of its study continued it)
FINAL_STATES = ("finished", "failed", "stopped", "interrupted", "resumed")


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class DriverRecord(BaseModel):
    """What ``status`` shows and what the driver needs to (re)start."""

    model_config = ConfigDict(extra="ignore")

    id: str
    project: str
    #: the run command and its arguments, without the detach options (``local_run P --trials 5``)
    command: str
    args: List[str]
    #: ``local`` (a background process on ``host``) or ``slurm`` (a job; resubmitted as needed)
    where: str
    log: str
    created_at: str
    #: submitted, running, resubmitted, then one of :data:`FINAL_STATES`
    state: str = "submitted"
    host: Optional[str] = None
    pid: Optional[int] = None
    #: the process's start time (psutil), so a reused pid is not taken for the driver
    pid_started: Optional[float] = None
    job_id: Optional[str] = None
    #: every Slurm job this driver ran as, oldest first
    jobs: List[str] = []
    #: how often the driver started (a start after the first resumes the study)
    starts: int = 0
    started_at: Optional[str] = None
    ended_at: Optional[str] = None
    exit_code: Optional[int] = None
    #: ``hpogrid stop`` asked for this: ``drain`` or ``now``
    stop: Optional[str] = None
    study: str
    study_url: Optional[str] = None
    trials: Optional[int] = None
    #: the driver job's Slurm time limit and its other sbatch arguments (partition, account, ...)
    driver_time: Optional[str] = None
    sbatch: List[str] = []

    @property
    def path(self) -> Path:
        return drivers_dir(self.project) / f"{self.id}.json"

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def drivers_dir(project: str) -> Path:
    return paths.project_dir(project) / "drivers"


def new_id() -> str:
    """A new driver's id: its start to the millisecond (ids sort by start, as ``records`` lists
    them newest first, also for two drivers of one second), then a random part."""
    now_s = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now_s))
    return f"{stamp}{int(now_s * 1000) % 1000:03d}-{secrets.token_hex(2)}"


def save(record: DriverRecord) -> None:
    write_atomic(record.path, record.model_dump_json(indent=2) + "\n")


def load(path: Path) -> DriverRecord:
    return DriverRecord.model_validate_json(Path(path).read_text(encoding="utf-8"))


def update(path: Path, **changes: Any) -> DriverRecord:
    """Change fields of the record at ``path`` (read, change, write under the folder's lock)."""
    path = Path(path)
    with folder_lock(path.parent):
        record = load(path).model_copy(update=changes)
        save(record)
    return record


def records(project: Optional[str] = None) -> List[DriverRecord]:
    """The driver records of ``project`` (every project: None), newest first; unreadable ones are skipped."""
    folders = [drivers_dir(project)] if project else sorted(paths.projects_dir().glob("*/drivers"))
    found = []
    for folder in folders:
        for path in folder.glob("*.json") if folder.is_dir() else ():
            try:
                found.append(load(path))
            except (OSError, ValueError):
                continue
    return sorted(found, key=lambda r: r.id, reverse=True)


def this_host() -> str:
    return os.uname().nodename


_RESUME_DROPS = {"--resume", "--rerun-failed", "--no-backup"}


def resume_args(args: List[str]) -> List[str]:
    """``args`` continuing the study: ``--resume --no-backup``, without ``--rerun``/``--rerun-failed``."""
    out: List[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--rerun":
            skip = True
        elif arg not in _RESUME_DROPS and not arg.startswith("--rerun="):
            out.append(arg)
    return out + ["--resume", "--no-backup"]
