"""What ``hpogrid status`` shows of each detached driver, and ``hpogrid stop``.

Whether a driver still runs is asked of the system, never taken from its record alone: a
process on this machine is alive when its pid exists with the recorded start time (psutil; a
zombie is dead), a Slurm job while Slurm lists it as pending or running. A driver whose record
says it runs but which is gone (SIGKILL, a node failure) is ``dead``, and ``status`` prints the
one command that resumes it.
"""
from __future__ import annotations

import os
import shlex
import signal
from dataclasses import dataclass
from typing import List, Optional

from hpogrid.drivers._record import DriverRecord, now, records, resume_args, this_host, update
from hpogrid.errors import NotFoundError


@dataclass(frozen=True)
class DriverStatus:
    record: DriverRecord
    #: the record's state, or ``dead`` / ``pending`` as the system says
    state: str
    where: str
    progress: str

    @property
    def dead(self) -> bool:
        return self.state == "dead"


def _process_alive(record: DriverRecord) -> Optional[bool]:
    """None: the process is on another host (this one cannot tell)."""
    import psutil

    if record.host and record.host != this_host():
        return None
    if record.pid is None:
        return False
    try:
        proc = psutil.Process(record.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return record.pid_started is None or abs(proc.create_time() - record.pid_started) < 1.0
    except psutil.Error:
        return False


def _job_state(record: DriverRecord) -> Optional[str]:
    """Slurm's state of the driver's current job (None: Slurm does not list it as queued or running)."""
    from hpogrid.backends.slurm import SlurmClient, SlurmError

    if not record.job_id:
        return None
    try:
        state = SlurmClient().states([record.job_id]).get(record.job_id)
    except SlurmError:
        return "UNKNOWN"
    return None if state is None or state.finished or state.state == "UNKNOWN" else state.state


def _live_state(record: DriverRecord) -> str:
    if record.final:
        return record.state
    if record.where == "slurm":
        job = _job_state(record)
        if job is None:
            return "dead"
        return "pending" if job == "PENDING" else "running" if job != "UNKNOWN" else "unknown"
    alive = _process_alive(record)
    return "unknown" if alive is None else "running" if alive else "dead"


def _where(record: DriverRecord) -> str:
    if record.where == "slurm":
        return f"slurm job {record.job_id}" + (f" (start {record.starts})" if record.starts > 1 else "")
    return f"{record.host}:{record.pid}"


def _progress(record: DriverRecord) -> str:
    from hpogrid.errors import HpogridError
    from hpogrid.study import StudyStore
    from hpogrid.study.transfer import store_url

    try:
        counts = StudyStore(store_url(record.project, record.study_url, existing=True)).counts(record.study)
    except (HpogridError, OSError):
        return "no trials yet"
    done = counts.get("COMPLETED", 0)
    text = f"{done}/{record.trials} completed" if record.trials else f"{done} completed"
    extra = [f"{counts[s]} {s.lower()}" for s in ("FAILED", "RUNNING", "INTERRUPTED") if counts.get(s)]
    return ", ".join([text, *extra])


def statuses(project: Optional[str] = None) -> List[DriverStatus]:
    """Every detached driver of ``project`` (all projects: None), newest first."""
    return [DriverStatus(r, _live_state(r), _where(r), _progress(r)) for r in records(project)]


def resume_command(record: DriverRecord) -> str:
    """The command that resumes a driver that died: the same run, ``--resume --detach``. A
    password in a study URL is shown as ``***`` (the user types it, or sets the URL in the
    environment): a terminal and its scrollback are no place for credentials."""
    from pathlib import Path

    from hpogrid.drivers._record import drivers_dir
    from hpogrid.study import redact_text

    args = [a for a in resume_args(record.args) if a != "--no-backup"] + ["--detach"]
    if record.where == "slurm" and record.driver_time:
        args += ["--driver-time", record.driver_time]
    if Path(record.log).parent != drivers_dir(record.project):
        args += ["--driver-log", str(Path(record.log).parent)]
    return redact_text(shlex.join(["hpogrid", record.command, *args]))


def _started(record: DriverRecord, timeout_s: float = 60.0) -> DriverRecord:
    """``record`` once its process has started (or ended, or timed out)."""
    import time

    from hpogrid.drivers._record import load

    deadline = time.monotonic() + timeout_s
    while record.state == "submitted" and time.monotonic() < deadline and _process_alive(record) is not False:
        time.sleep(0.05)
        record = load(record.path)
    return record


def stop(project: str, now_: bool = False) -> List[DriverStatus]:
    """Ask the project's running detached drivers to drain (or stop, ``now_``); those asked."""
    from hpogrid.backends.slurm import cancel, signal_batch

    asked = [s for s in statuses(project) if s.state in ("running", "pending")]
    if not asked:
        raise NotFoundError(f"project {project!r} has no running detached driver ('hpogrid status {project}' "
                            "lists them)")
    for s in asked:
        record = update(s.record.path, stop="now" if now_ else "drain")
        if record.where == "local" and record.state == "submitted":
            record = _started(record)  # (its signal handlers are in place once it says it runs)
        if record.where == "local":
            if record.pid:
                os.kill(record.pid, signal.SIGTERM if now_ else signal.SIGQUIT)
        elif s.state == "pending" or record.state == "submitted":  # (its run has not started: nothing to drain)
            cancel([record.job_id or ""])
            update(record.path, state="stopped", ended_at=now())
        else:
            signal_batch(record.job_id or "", "USR2")
    return asked
