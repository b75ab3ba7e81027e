"""Starting a detached driver: a background process on this machine, or a Slurm job.

The driver is ``python -m hpogrid detached_driver RECORD`` (never a shell command line). On
this machine it runs in its own session (``start_new_session``: the terminal's hang-up and
Ctrl-C do not reach it) with its output appended to the log. As a Slurm job it asks for one
CPU, its own time limit, ``--requeue`` (Slurm restarts it after a node failure or a
preemption) and ``--signal=B:USR1@60`` (it hears of its time limit a minute ahead), and it
resubmits itself before it ends (:mod:`hpogrid.drivers._supervise`).
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from hpogrid.budgets import SLURM_TIME_FORMS, is_slurm_time
from hpogrid.engine import worker_environment
from hpogrid.drivers._record import DriverRecord, drivers_dir, load, new_id, now, save, this_host, update
from hpogrid.errors import ValidationError

#: seconds before its time limit that Slurm warns the driver job (SIGUSR1 to the batch script)
WARN_S = 60
DEFAULT_DRIVER_TIME = "1-00:00:00"


def check_driver_time(value: Optional[str]) -> Optional[str]:
    if value is not None and not is_slurm_time(value):
        raise ValidationError("--driver-time", f"{value!r} is not a Slurm time: give {SLURM_TIME_FORMS}")
    return value


def check_log_dir(value: Optional[str]) -> Optional[Path]:
    """The folder for the driver's log: it, or its nearest existing parent, must be a folder
    this user can write (checked before anything is written)."""
    if value is None:
        return None
    folder = Path(value).expanduser().resolve()
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ValidationError("--driver-log", f"{str(probe)!r} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValidationError("--driver-log", f"{str(probe)!r} is not writable: give a folder you can write")
    return folder


def slurm_available() -> bool:
    return shutil.which("sbatch") is not None


def detach(project: str, command: str, args: Sequence[str], where: str, *, study: str, study_url: Optional[str],
           trials: Optional[int], log_dir: Optional[Path] = None, driver_time: Optional[str] = None,
           sbatch: Sequence[str] = ()) -> DriverRecord:
    """Record the driver and start it; ``where`` is ``local`` or ``slurm``. One driver per
    study at a time: a running one is an error; dead ones are marked resumed by this one."""
    from hpogrid.drivers._status import statuses

    earlier = [s for s in statuses(project) if s.record.study == study and not s.record.final]
    alive = [s for s in earlier if not s.dead]
    if alive:
        raise ValidationError("--detach", f"driver {alive[0].record.id} of study {study!r} is {alive[0].state} "
                              f"({alive[0].where}): wait for it or end it first ('hpogrid stop {project}')")
    rid = new_id()
    folder = drivers_dir(project)
    log = (log_dir or folder) / f"{rid}.log"
    record = DriverRecord(id=rid, project=project, command=command, args=list(args), where=where, log=str(log),
                          created_at=now(), study=study, study_url=study_url, trials=trials,
                          driver_time=driver_time or (DEFAULT_DRIVER_TIME if where == "slurm" else None),
                          sbatch=list(sbatch))
    log.parent.mkdir(parents=True, exist_ok=True)
    save(record)
    try:
        if where == "slurm":
            job = submit(record)
            started = update(record.path, job_id=job, jobs=[job])
        else:
            started = _spawn(record)
    except BaseException:  # (nothing of this driver stays behind)
        record.path.unlink(missing_ok=True)
        record.path.with_suffix(".sh").unlink(missing_ok=True)
        raise
    for s in earlier:
        update(s.record.path, state="resumed", ended_at=now())
    return started


def _driver_argv(record: DriverRecord) -> List[str]:
    return [sys.executable, "-m", "hpogrid", "detached_driver", str(record.path)]


def _spawn(record: DriverRecord) -> DriverRecord:
    import psutil

    with open(record.log, "ab") as log:
        proc = subprocess.Popen(_driver_argv(record), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True, cwd=str(Path(record.path).parent),
                                env=worker_environment())
    try:
        started = psutil.Process(proc.pid).create_time()
    except psutil.Error:
        started = None
    # (the driver writes its own pid too when it starts: the same process)
    return update(record.path, host=this_host(), pid=proc.pid, pid_started=started)


def submit(record: DriverRecord, after: Optional[str] = None) -> str:
    """sbatch the driver job; ``after``: start only once that job (the driver itself) has ended."""
    from hpogrid.backends.slurm import SlurmError, require
    from hpogrid.backends.slurm import submit as sbatch

    script = Path(record.path).with_suffix(".sh")
    if not script.exists():
        script.write_text("#!/bin/sh\n# the detached driver of hpogrid project "
                          f"{record.project} (hpogrid status)\nexec {shlex.join(_driver_argv(record))}\n")
    log = record.log.replace("%", "%%")
    argv = [require("sbatch"), "--parsable", f"--job-name=hpogrid-driver-{record.project}", "--ntasks=1",
            "--cpus-per-task=1", f"--time={record.driver_time}", "--requeue", f"--signal=B:USR1@{WARN_S}",
            f"--output={log}", "--open-mode=append", f"--chdir={Path(record.path).parent}"]
    if after:
        argv.append(f"--dependency=afterany:{after}")
    try:
        return sbatch(argv + list(record.sbatch) + [str(script)], env=worker_environment())
    except SlurmError as exc:
        raise SlurmError(f"the driver job: {exc}") from None


def resubmit(path: Path, after: str) -> str:
    """The driver's successor job, recorded at once (this job may be killed seconds later)."""
    record = load(path)
    job = submit(record, after=after)
    update(path, job_id=job, jobs=[*record.jobs, job], state="resubmitted")
    return job
