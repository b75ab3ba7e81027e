"""Slurm as an executor of the run engine: one job array task per trial, states read from Slurm.

:meth:`SlurmExecutor.start_many` submits the trials the engine starts together (a fill of the
in-flight places, the retries of one poll) as ONE ``sbatch --array=0-(n-1)%K`` (K: slurm_config
``workers``), so slurmctld sees one submission instead of n; even a single trial is an array of
one, so every trial's job id reads ``<array id>_<index>`` (``scancel 123_4`` cancels that trial
alone). Task N finds its trial through ``array-NNNN/N``, a link to the trial's folder written
before sbatch (``array-NNNN/trials.txt`` lists index, uid and folder for people), and runs
:mod:`hpogrid.objective.standalone` there; its stdout.log / stderr.log land in the trial folder
as before. :meth:`poll` reads every live job's state from Slurm (never from the payload
alone, so a job Slurm kills becomes a failed or interrupted trial with Slurm's reason instead
of a hang) and :meth:`cancel` scancels. A job seen queued again after it ran was requeued by
Slurm (preemption with requeue, ``scontrol requeue``): a lost attempt (:class:`Requeued`); the
same job goes on from the trial's checkpoint. A busy or restarting slurmctld is waited for up to
:data:`SLURM_DOWN_LIMIT_S`.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from hpogrid.backends.container_run import ContainerPlan
from hpogrid.backends.container_run import payload as job_payload
from hpogrid.backends.slurm._sbatch import JobState, SlurmClient, SlurmError, array_argv, cancel, submit
from hpogrid.engine import Ended, Executor, Requeued, Started, TrialRun
from hpogrid.fileio import last_lines
from hpogrid.objective import standalone
from hpogrid.study.records import COMPLETED, FAILED, INTERRUPTED, TrialState

#: Slurm end states that say nothing about the configuration (the trial was cut short)
_CUT_SHORT = frozenset({"CANCELLED", "PREEMPTED", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "REVOKED"})
#: Slurm end states in which Slurm lost the job (the engine may run the trial again: max_retries)
LOST_STATES = frozenset({"NODE_FAIL", "PREEMPTED", "BOOT_FAIL"})
#: states of a job that ran and waits to run again: Slurm requeued it (preemption with requeue,
#: ``scontrol requeue``, a node failure with ``--requeue``)
REQUEUED_STATES = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED"})
#: seconds to wait for result.json after Slurm says COMPLETED (shared file systems lag)
RESULT_GRACE_S = 30.0
#: seconds Slurm may fail to answer squeue before the run gives up (its jobs are then scancelled)
SLURM_DOWN_LIMIT_S = 300.0
#: tasks in one array at most (Slurm's default MaxArraySize is 1001: indices 0-1000)
ARRAY_LIMIT = 1000


def array_script(path: Path, setup: List[str]) -> Path:
    """The script every array task runs: in the trial folder that ``$1/N`` links to, the setup
    lines (slurm_config ``setup``: stopping at the first that fails), then the payload given as
    arguments with the folder's path last (a file, never ``sh -c``: arguments stay arguments)."""
    lines = ["#!/bin/sh", "# written by hpogrid slurm_run: array task N runs, after the setup lines, the payload",
             "# given as arguments in the trial folder that $1/N links to (its path is the last argument)",
             'folder=$(readlink "$1/$SLURM_ARRAY_TASK_ID") || exit 97', "shift", 'cd "$folder" || exit 97']
    if setup:
        lines += ["set -e", *setup, "set +e"]
    path.write_text("\n".join([*lines, 'exec "$@" "$folder"', ""]))
    path.chmod(0o755)
    return path


class SlurmExecutor(Executor):
    queues = True
    program_subdir = True  # the job's stdout.log / stderr.log are in the trial folder
    starts_together = True  # trials started together are one job array

    def __init__(self, slurm: Dict[str, Any], run_dir: Path, study: str, env: Dict[str, str],
                 judge_s: Optional[float] = None, container: Optional[ContainerPlan] = None,
                 scripts_dir: Optional[Path] = None):
        self.slurm, self.run_dir, self.study, self.env = slurm, run_dir, study, env
        self.capacity = slurm["workers"]
        self.throttle = SlurmThrottle(slurm["poll_interval"], judge_s)
        self.poll_interval = self.throttle.wake_s
        self.client = SlurmClient()
        self.jobs: Dict[str, str] = {}          # uid -> job id
        self.folders: Dict[str, Path] = {}
        self.nodes: Dict[str, Optional[str]] = {}
        self._running: set = set()
        self._missing_since: Dict[str, float] = {}
        self._down_since: Optional[float] = None
        self._cancelled: Dict[str, str] = {}   # uid -> why
        #: nodes later jobs of the run must avoid (a failure rule's ``exclude_node``)
        self.excluded: List[str] = []
        self.arrays = 0  # sbatch calls of this run (one per array)
        #: the image the trials run in (None: the driver's own Python on the shared file system)
        self.container, self.scripts_dir = container, scripts_dir
        self._script = array_script(run_dir / "job.sh", list(slurm.get("setup") or []))

    def start(self, run: TrialRun) -> Dict[str, Any]:
        return self.start_many([run])[0]

    def start_many(self, runs: List[TrialRun]) -> List[Dict[str, Any]]:
        """One array per :data:`ARRAY_LIMIT` trials; all or nothing (a refused array scancels
        the ones already submitted)."""
        out: List[Dict[str, Any]] = []
        submitted: List[str] = []
        try:
            for first in range(0, len(runs), ARRAY_LIMIT):
                chunk = runs[first:first + ARRAY_LIMIT]
                array_id = self._submit_array(chunk)
                submitted.append(array_id)
                out += [{"job_id": f"{array_id}_{index}"} for index in range(len(chunk))]
        except SlurmError:
            try:
                cancel(submitted)
            except SlurmError:
                pass
            raise
        for run, fields in zip(runs, out):
            self.jobs[run.uid], self.folders[run.uid] = fields["job_id"], run.folder
        return out

    def _submit_array(self, runs: List[TrialRun]) -> str:
        self.arrays += 1
        tasks = self.run_dir / f"array-{self.arrays:04d}"
        tasks.mkdir(exist_ok=True)
        lines = []
        for index, run in enumerate(runs):
            link = tasks / str(index)
            if link.is_symlink():
                link.unlink()
            link.symlink_to(run.folder.absolute())
            lines.append(f"{index}\t{run.uid}\t{run.folder}\n")
        (tasks / "trials.txt").write_text("".join(lines))
        argv = array_argv(self.slurm, job_name=f"hpogrid-{self.study}", tasks_dir=tasks, size=len(runs),
                          limit=self.capacity, script=self._script,
                          args=[str(tasks), *payload(self.slurm, self.container, self.scripts_dir,
                                                     ["-m", standalone.__name__], self.run_dir)],
                          exclude=self.excluded)
        return submit(argv, env=self.env)

    def poll(self) -> List:
        if not self.jobs or not self.throttle.due():
            return []
        try:
            states = self.client.states(list(self.jobs.values()))
        except SlurmError:
            now = time.monotonic()
            self._down_since = self._down_since or now
            if now - self._down_since > SLURM_DOWN_LIMIT_S:
                raise
            return []
        self._down_since = None
        events: List = []
        for uid, job_id in list(self.jobs.items()):
            info = states.get(job_id) or JobState(job_id, "UNKNOWN")
            if info.finished or info.state == "UNKNOWN":
                ended = self._end(uid, info)
                if ended is not None:
                    events.append(ended)
            elif uid in self._running and info.state in REQUEUED_STATES:
                # the attempt that ran is lost; the same job runs again, from the trial's checkpoint
                self._running.discard(uid)
                standalone.clear_result(self.folders[uid])  # (the lost attempt's, if it wrote one)
                why = f", reason {info.reason}" if info.reason and info.reason not in ("None", "(null)") else ""
                events.append(Requeued(uid, "REQUEUED", self.nodes.get(uid), f"Slurm requeued job {job_id}{why}"))
            elif info.running and uid not in self._running:
                self._running.add(uid)
                self.nodes[uid] = info.node
                events.append(Started(uid, {"host": info.node}))
        return events

    def _end(self, uid: str, info: JobState, hurry: bool = False) -> Optional[Ended]:
        folder = self.folders[uid]
        why = self._cancelled.get(uid)
        if standalone.read_result(folder) is None and info.state == "COMPLETED" and why is None and not hurry:
            # the job ended well but its result file is not visible yet: give the file system time
            now = time.monotonic()
            since = self._missing_since.setdefault(uid, now)
            if now - since < RESULT_GRACE_S:
                return None
        job_id = self.jobs.pop(uid)
        self._running.discard(uid)
        return trial_end(uid, job_id, folder, info, why, self.nodes.pop(uid, None))

    def exclude_node(self, node: str) -> None:
        if node not in self.excluded:
            self.excluded.append(node)

    def cancel(self, uids, why, hurry=False):
        for uid in uids:
            self._cancelled.setdefault(uid, why)
        ids = [self.jobs[uid] for uid in uids if uid in self.jobs]
        try:
            cancel(ids)
        except SlurmError:
            pass  # recorded as interrupted either way
        if not hurry:
            return []
        return [self._end(uid, JobState(self.jobs[uid], "UNKNOWN"), hurry=True) for uid in uids if uid in self.jobs]


def payload(slurm: Dict[str, Any], container: Optional[ContainerPlan], scripts_dir: Optional[Path],
            python_args: List[str], workdir: Path) -> List[str]:
    """A job's payload (:func:`hpogrid.backends.container_run.payload`), the GPUs visible in the
    container when the job asks for some in ``gres``."""
    from hpogrid.budgets import gres_gpus

    return job_payload(container, scripts_dir, python_args, workdir, gpu=gres_gpus(slurm.get("gres")) > 0)


class SlurmThrottle:
    """Slurm is asked every ``poll_interval``; under an early-stopping scheduler the loop wakes
    every ``judge_s`` (less) to answer the trials' reports, without asking Slurm more often."""

    def __init__(self, poll_interval: float, judge_s: Optional[float] = None):
        self.poll_interval = poll_interval
        self.wake_s = min(poll_interval, judge_s) if judge_s else poll_interval
        self._last = -float("inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < self.poll_interval - 1e-3:
            return False
        self._last = now
        return True


def trial_end(uid: str, job_id: str, folder: Path, info: JobState, cancelled_because: Optional[str] = None,
              node: Optional[str] = None) -> Ended:
    """The end of trial ``uid`` from Slurm's word and the job's files."""
    result = standalone.read_result(folder)
    history = (result or {}).get("history") or standalone.read_progress(folder)
    state, error = verdict(job_id, folder, info, result, cancelled_because)
    fields: Dict[str, Any] = {"host": info.node or node or (result or {}).get("host")}
    if info.start is not None:
        fields["started_at"] = info.start
    if info.end is not None and info.end >= (info.start or info.end):
        fields["finished_at"] = info.end
    used = (result or {}).get("params")  # a define-by-run model's parameters, as it used them
    return Ended(uid, state, metrics=history[-1] if history else {}, history=history, error=error, fields=fields,
                 params=used if isinstance(used, dict) else None,
                 distributions=(result or {}).get("distributions") if isinstance(used, dict) else None,
                 lost=None if state == COMPLETED or cancelled_because is not None else lost_reason(info),
                 node=info.node or node, exit_code=exit_status(info))


def exit_status(info: JobState) -> Optional[int]:
    """The job's exit status as a shell says it (Slurm's ``code:signal``; killed by signal N:
    128 + N), None when Slurm gave none."""
    code, _, sig = (info.exit_code or "").partition(":")
    if sig.isdigit() and int(sig) > 0:
        return 128 + int(sig)
    return int(code) if code.isdigit() else None


def lost_reason(info: JobState) -> Optional[str]:
    """Why Slurm lost the job (NODE_FAIL, PREEMPTED, BOOT_FAIL, out of memory, its payload killed
    by a signal), None when the job ended by its payload's own doing (or its time limit)."""
    if info.state in LOST_STATES:
        return info.state
    if info.state == "OUT_OF_MEMORY":
        return "out of memory"
    code, _, sig = (info.exit_code or "").partition(":")
    if info.state == "FAILED" and sig.isdigit() and int(sig) > 0:
        import signal

        try:
            return f"killed by {signal.Signals(int(sig)).name}"
        except ValueError:
            return f"killed by signal {sig}"
    return None


def verdict(job_id: str, trial_dir: Path, info: JobState, result: Optional[Dict],
            cancelled_because: Optional[str] = None) -> Tuple[TrialState, Optional[str]]:
    """(trial state, error) from Slurm's end state and the payload's own ``result.json``.

    Slurm's word decides whether the job ran to its end: TIMEOUT (and any failure) is a
    FAILED trial, since the configuration did not finish within its resources; CANCELLED,
    PREEMPTED, NODE_FAIL... cut the trial short for reasons outside it: INTERRUPTED.
    """
    payload_error = (result or {}).get("error")
    if info.state == "COMPLETED" and result is not None and result.get("status") == "completed":
        return COMPLETED, None
    if cancelled_because is not None and (info.state in _CUT_SHORT or info.state == "UNKNOWN"):
        return INTERRUPTED, f"{cancelled_because} (Slurm job {job_id} cancelled)"
    after = f" after {info.run_time}" if info.run_time else ""
    if info.state == "TIMEOUT":
        limit = f" (time limit {info.time_limit})" if info.time_limit else ""
        return FAILED, f"Slurm: TIMEOUT{after}{limit}"
    if info.state in _CUT_SHORT:
        reason = f", reason {info.reason}" if info.reason and info.reason not in ("None", "(null)") else ""
        return INTERRUPTED, f"Slurm: {info.state}{after}{reason}"
    if info.state == "UNKNOWN":
        return FAILED, f"Slurm has no record of job {job_id} any more and it left no result"
    if payload_error:
        return FAILED, payload_error
    if info.state == "COMPLETED":
        return FAILED, f"job {job_id} completed but wrote no {standalone.RESULT_FILE}"
    code = f" with exit code {info.exit_code}" if info.exit_code else ""
    tail = last_lines(trial_dir / standalone.STDERR_FILE)
    return FAILED, f"Slurm: {info.state}{code}{after}" + (f": {tail}" if tail else "")
