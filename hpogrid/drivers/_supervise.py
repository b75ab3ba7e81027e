"""The detached driver itself (``hpogrid detached_driver RECORD``): start, run, resubmit, end.

A start after the first continues the study (``--resume --no-backup``, and no ``--rerun``: a
trial that already ran again once is not run a third time). As a Slurm job the run is a child
process of this one, the batch script, which alone hears Slurm's warnings:

* SIGUSR1 (the time limit is a minute away) and SIGTERM (``scancel``, preemption, the limit):
  the successor job is submitted at once, to start when this job has ended
  (``--dependency=afterany``) - Slurm kills what is left of a job a few seconds after SIGTERM,
  so nothing waits for the run to stop first - then the run is stopped (its running trials
  end INTERRUPTED and run again, the same trials, in the successor);
* SIGUSR2 (``hpogrid stop``): the run drains or stops, as the record asks, and no successor
  is submitted.

The run ends: exit 0 (its trials are done) or an error ends the driver; a successor that was
submitted meanwhile is cancelled.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Set, Tuple

from hpogrid.drivers._record import DriverRecord, load, now, resume_args, this_host, update

#: exit code of a run that was interrupted (a signal): the one the driver resubmits after
INTERRUPTED_RC = 130
def begin(path: Path) -> Tuple[Optional[DriverRecord], List[str]]:
    """Mark the driver started; the record and the command line to run (None: nothing to run,
    the study is done or a stop was asked for before this start)."""
    import psutil

    record = load(path)
    if record.final:
        return None, []
    if record.stop:
        update(path, state="stopped", ended_at=now())
        return None, []
    job = os.environ.get("SLURM_JOB_ID")
    changes = dict(state="running", host=this_host(), pid=os.getpid(), starts=record.starts + 1,
                   pid_started=psutil.Process().create_time(), started_at=record.started_at or now())
    if job:
        changes.update(job_id=job, jobs=record.jobs if job in record.jobs else [*record.jobs, job])
    args = [record.command, *(record.args if record.starts == 0 else resume_args(record.args))]
    print(f"[hpogrid] detached driver {record.id} start {record.starts + 1} ({now()}): hpogrid {' '.join(args)}",
          flush=True)
    return update(path, **changes), args


def end(path: Path, rc: int) -> DriverRecord:
    """Record how the run ended; cancel a successor that is no longer needed."""
    record = load(path)
    if record.state == "resubmitted" and rc != 0 and not record.stop:
        print(f"[hpogrid] driver {record.id} ends here; job {record.job_id} continues it", flush=True)
        return record
    state = "stopped" if record.stop else "finished" if rc == 0 else \
        "interrupted" if rc == INTERRUPTED_RC else "failed"
    mine = os.environ.get("SLURM_JOB_ID")
    if record.state == "resubmitted" and record.job_id and record.job_id != mine:
        from hpogrid.backends.slurm import cancel

        cancel([record.job_id])  # the study ended before this job did: no successor needed
    print(f"[hpogrid] driver {record.id} {state} (exit code {rc}) at {now()}", flush=True)
    return update(path, state=state, exit_code=rc, ended_at=now())


def supervise(path: Path, args: List[str]) -> int:
    """Run ``hpogrid ARGS`` as a child of this Slurm job and handle Slurm's signals (module doc)."""
    from hpogrid.drivers._launch import resubmit

    me = os.environ.get("SLURM_JOB_ID", "")
    forwarded: Set[int] = set()
    successor: List[str] = []
    pending: List[int] = []  # (signals that came before the child was started)
    child: Optional[subprocess.Popen] = None

    def forward(sig: int) -> None:
        if child is None:
            pending.append(sig)
        elif sig not in forwarded and child.poll() is None:
            forwarded.add(sig)
            child.send_signal(sig)

    def on_signal(signum, frame=None) -> None:
        record = load(path)
        if signum == signal.SIGUSR2:
            forward(signal.SIGQUIT if record.stop == "drain" else signal.SIGTERM)
            print(f"[hpogrid] hpogrid stop: {'draining' if record.stop == 'drain' else 'stopping'} the run",
                  flush=True)
            return
        if not record.stop and not successor and me:
            try:
                successor.append(resubmit(path, after=me))
                print(f"[hpogrid] signal {signal.Signals(signum).name}: resubmitted as job {successor[0]}",
                      flush=True)
            except Exception as exc:  # noqa: BLE001 - still stop the run; status shows it dead
                print(f"[hpogrid] could not resubmit the driver: {exc}", file=sys.stderr, flush=True)
        forward(signal.SIGTERM)

    for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGQUIT, lambda signum, frame: forward(signal.SIGQUIT))
    child = subprocess.Popen([sys.executable, "-m", "hpogrid", *args], stdin=subprocess.DEVNULL)
    for early in pending:
        forward(early)
    return child.wait()
