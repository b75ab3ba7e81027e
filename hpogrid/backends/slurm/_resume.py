"""The jobs a dead ``slurm_run`` driver left behind, found through the study store.

Every Slurm trial stores its job id (``<array id>_<index>``, its task of the array it was
submitted in; and its folder, in ``annotations.trial_dir``) the moment ``sbatch`` accepts it. On ``--resume`` each unfinished trial's job is looked up:

* still queued or running: scancelled (not adopted: the dead driver's searcher state is
  gone, and one driver must own each job so it is recorded exactly once), then recorded
  INTERRUPTED and re-run with its uid and values by the resumed run;
* ended on its own after the driver died: recorded from Slurm's end state and the job's
  ``result.json``, exactly as the driver would have - a job that completed is kept, not
  re-run.

Trials a reader marked INTERRUPTED for lack of heartbeat are looked at too: their job may
still run (or have completed) although their driver is gone.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Union

from hpogrid.backends.slurm._sbatch import JobState, SlurmClient, SlurmError, job_order, cancel
from hpogrid.study.records import INTERRUPTED, PENDING, RUNNING

if TYPE_CHECKING:
    from hpogrid.objectives import Objectives

#: what ``mark_stale`` writes into the error of a trial it marks
_STALE_PREFIX = "no heartbeat for"
#: seconds to wait for scancelled jobs to leave Slurm
CANCEL_WAIT_S = 30.0
WHY = "its slurm_run driver ended before the trial finished"


def orphans(store, study: str) -> list:
    """Slurm trials of ``study`` whose job may outlive their driver."""
    out = []
    for t in store.trials(study, states=[PENDING, RUNNING, INTERRUPTED]):
        if t.backend != "slurm" or not t.job_id:
            continue
        if t.state == INTERRUPTED and not (t.error or "").startswith(_STALE_PREFIX):
            continue  # interrupted by its own driver, which cancelled the job
        out.append(t)
    return out


def record_end(store, study: str, uid: str, job_id: str, trial_dir: Path, info: JobState,
               metric: Union[str, Objectives],
               cancelled_because=None, node=None):
    """Record an orphan's end as the run's engine would have; returns its state."""
    from hpogrid.backends.slurm._executor import trial_end
    from hpogrid.engine import record_ended

    end = trial_end(uid, job_id, trial_dir, info, cancelled_because, node)
    return record_ended(store, study, end, metric, intermediate=[])  # [] when the job left no history


def settle_orphans(store, study: str, client: SlurmClient, metric: Union[str, Objectives]) -> List[str]:
    """scancel the dead run's jobs still in Slurm and record every orphan's end; notes."""
    found = orphans(store, study)
    if not found:
        return []
    states = client.states([t.job_id for t in found])
    alive = {jid for jid, info in states.items() if not info.finished and info.state != "UNKNOWN"}
    if alive:
        try:
            cancel(sorted(alive))
        except SlurmError:
            pass  # waited for below; a job still alive afterwards is recorded interrupted anyway
        states.update(_wait_gone(client, alive))
    kept = 0
    for t in found:
        info = states.get(t.job_id) or JobState(t.job_id, "UNKNOWN")
        trial_dir = Path((t.annotations or {}).get("trial_dir") or "/nonexistent")
        if t.job_id in alive:
            record_end(store, study, t.uid, t.job_id, trial_dir,
                       info if info.finished else JobState(t.job_id, "UNKNOWN"), metric,
                       cancelled_because=f"{WHY}; cancelled on resume", node=t.host)
        else:
            state, _, _ = record_end(store, study, t.uid, t.job_id, trial_dir, info, metric, node=t.host)
            kept += state != INTERRUPTED
    notes = []
    if alive:
        notes.append(f"scancelled {len(alive)} job(s) of the earlier slurm_run still in Slurm: "
                     f"{', '.join(sorted(alive, key=job_order))}")
    if kept:
        notes.append(f"recorded {kept} trial(s) whose job ended after the earlier slurm_run stopped")
    return notes


def _wait_gone(client: SlurmClient, job_ids: set) -> Dict[str, JobState]:
    """Final states of the cancelled jobs, waiting at most :data:`CANCEL_WAIT_S`."""
    deadline = time.monotonic() + CANCEL_WAIT_S
    states: Dict[str, JobState] = {}
    while True:
        try:
            states = client.states(sorted(job_ids))
        except SlurmError:
            states = {}
        if all(s.finished or s.state == "UNKNOWN" for s in states.values()) and states:
            return states
        if time.monotonic() > deadline:
            return states
        time.sleep(0.5)
