"""The pool backend: trials in long-lived worker processes on this machine, without Ray.

``local_run`` uses it whenever the run needs nothing of Ray's (no ``--address``, no PBT or
BOHB, no GPUs; see :func:`needs_ray`); ASHA and median stopping the engine applies itself: Ray's start-up (several
seconds) and its per-trial bookkeeping are then pure overhead. ``--n_jobs`` worker processes
(:mod:`hpogrid.objective.worker`) each import the user's script once and run trials one after
another; the engine asks and tells the searcher as for Slurm. A trial that takes its process
down (segfault, ``os._exit``, out of memory) is a FAILED trial with the exit status, the
worker is replaced and the run goes on; one killed by a signal (SIGKILL: the out-of-memory
killer) was lost, and runs again from its checkpoint when hpo_config ``max_retries`` allows. Workers run in their own session, so Ctrl-C at the
terminal reaches only the driver, which stops them as the engine says: every running worker
gets SIGTERM at once and all share one grace period (:data:`TERM_GRACE_S`) to end; then, or at
once on a second signal, their process groups (the user's child processes too) are killed.
"""
from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Dict, List, Optional

from hpogrid.engine import (AskTellBackend, Ended, Executor, Run, RunControl, RunOptions, RunSpec, RunSummary,
                            TrialRun, ended_from_result, worker_environment)
from hpogrid.errors import BackendError
from hpogrid.study.records import FAILED, INTERRUPTED

if TYPE_CHECKING:
    from hpogrid.project import Project

#: schedulers that act on intermediate results and need Ray Tune (asynchyperband, hyperband and
#: median the engine applies itself: :mod:`hpogrid.engine.early_stop`)
RAY_SCHEDULERS = frozenset({"bohbhyperband", "pbt"})
#: seconds the cancelled workers get, together, to end after SIGTERM before SIGKILL
TERM_GRACE_S = 5.0


def needs_ray(project: Project, options: RunOptions) -> Optional[str]:
    """Why this run needs Ray Tune (None: the pool can run it).

    ``asynchyperband``, ``hyperband`` and ``median`` run on the pool (the engine decides, see
    :mod:`hpogrid.engine.early_stop`); PBT and BOHB's HyperBand need Ray.
    """
    hpo = project.hpo_config
    if options.address or os.environ.get("RAY_ADDRESS"):
        return "a Ray cluster address"
    scheduler = hpo.get("scheduler") or "fifo"
    if scheduler == "pbt" or (options.algorithm or hpo.get("algorithm")) == "bohb":
        return f"scheduler '{scheduler}'" if scheduler == "pbt" else "algorithm 'bohb'"
    if scheduler in RAY_SCHEDULERS and (hpo.get("stop") or {}) != {"training_iteration": 1}:
        return f"scheduler '{scheduler}'"
    resource = hpo.get("resource") or {}
    if resource.get("gpu"):
        return "a GPU per trial (Ray assigns the devices)"
    if any(k not in ("cpu", "gpu") for k in resource):
        return "custom Ray resources"
    return None


class _Worker:
    """One worker process; it writes nothing anywhere until :meth:`log_to` names its log."""

    def __init__(self, env: Dict[str, str]):
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hpogrid.objective.worker", str(write)], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, pass_fds=(write,),
            start_new_session=True, text=True, bufsize=1)
        os.close(write)
        if self.proc.stdin is None:  # (stdin=PIPE: it has one)
            raise BackendError("a pool worker started without its standard input")
        self.stdin: IO[str] = self.proc.stdin
        self.replies = os.fdopen(read, "rb", buffering=0)
        self._partial = b""
        self.run: Optional[TrialRun] = None
        self.logging = False
        #: the worker's log and its size when it was given its trial (what the trial printed follows)
        self.log: Optional[Path] = None
        self.log_at = 0

    def answers(self) -> List[str]:
        """The whole lines the worker wrote since the last call (read when select says so).
        Read unbuffered: a line left in a reader's buffer would never wake select again (a
        trial's ``step`` and ``done`` lines may arrive together)."""
        try:
            data = os.read(self.replies.fileno(), 65536)
        except OSError:
            return []
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [line.decode(errors="replace") for line in lines]

    def log_to(self, path: Path) -> None:
        """The worker's stdout and stderr (what the user's code prints) go to ``path``."""
        self.stdin.write(f"log {path}\n")
        self.stdin.flush()
        self.logging, self.log = True, path

    def give(self, run: TrialRun) -> None:
        self.run = run
        try:
            self.log_at = self.log.stat().st_size if self.log is not None else 0
        except OSError:  # (the worker has not opened it yet: its trial's output starts it)
            self.log_at = 0
        self.stdin.write(f"{run.folder}\n")
        self.stdin.flush()

    @property
    def folder(self) -> Path:
        """The folder of the trial it was given last."""
        if self.run is None:
            raise BackendError("a pool worker that was given no trial has no trial folder")
        return self.run.folder

    def output(self) -> Optional[str]:
        """The end of what its trial printed (stdout and stderr), for the failure rules."""
        from hpogrid.engine.retry import tail

        return tail(self.log, self.log_at) if self.log is not None else None

    def stop(self, kill: bool = False) -> None:
        """SIGTERM to the worker (the trial unwinds and says so); ``kill``: SIGKILL to its whole
        process group, the user's child processes too (the worker leads its own session). Only
        while the worker has not been reaped: its process id then still names our group."""
        if self.proc.poll() is not None:
            return
        try:
            if kill:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                self.proc.send_signal(signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass

    def end_input(self) -> None:
        """No more trials: the worker's loop ends once its trial has unwound."""
        try:
            self.stdin.close()
        except OSError:
            pass

    def close(self) -> None:
        for stream in (self.stdin, self.replies):
            try:
                stream.close()
            except OSError:
                pass


class PoolExecutor(Executor):
    poll_interval = 0.1

    def __init__(self, capacity: int, env: Dict[str, str], run_dir: Path, started: Optional[List[_Worker]] = None,
                 control: Optional[RunControl] = None):
        self.capacity, self.env, self.run_dir = capacity, env, run_dir
        #: the run's control: a second signal while the workers end kills them at once
        self.control = control
        self.idle: List[_Worker] = list(started or [])
        self.busy: Dict[str, _Worker] = {}
        self._cancelled: Dict[str, _Worker] = {}

    def _worker(self) -> _Worker:
        while self.idle:
            worker = self.idle.pop()
            if worker.proc.poll() is None:
                break
            worker.close()
        else:
            worker = _Worker(self.env)
        if not worker.logging:
            worker.log_to(self.run_dir / f"worker-{worker.proc.pid}.log")
        return worker

    def start(self, run: TrialRun) -> Dict[str, str]:
        try:
            worker = self._worker()
            worker.give(run)
        except OSError as exc:
            raise BackendError(f"cannot start a trial process: {exc}") from None
        self.busy[run.uid] = worker
        return {}

    def poll(self):
        from hpogrid.objective.standalone import read_result

        events = []
        if self.busy:
            ready, _, _ = select.select([w.replies for w in self.busy.values()], [], [], 0)
        else:
            ready = []
        for uid, worker in list(self.busy.items()):
            # "step <folder>" (a report awaits the engine's decision) only wakes the loop
            if worker.replies in ready and any(line.startswith("done ") for line in worker.answers()):
                del self.busy[uid]
                self.idle.append(worker)
                ended = ended_from_result(uid, read_result(worker.folder))
                events.append(replace(ended, output=worker.output()) if ended.state == FAILED else ended)
                continue
            code = worker.proc.poll()
            if code is not None:  # the trial took its process down
                del self.busy[uid]
                worker.close()
                status = code if code >= 0 else 128 - code  # (as a shell says it: 137 = killed by SIGKILL)
                result = read_result(worker.folder)
                if result is not None:  # it ended cleanly after all (exit in the user's atexit)
                    ended = ended_from_result(uid, result)
                    events.append(replace(ended, output=worker.output(), exit_code=status)
                                  if ended.state == FAILED else ended)
                    continue
                how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
                # killed by a signal (SIGKILL: the out-of-memory killer, or someone): lost, not its own error
                lost = f"killed by {signal.Signals(-code).name}" if code < 0 else None
                events.append(Ended(uid, FAILED, error=f"the trial's process died ({how}) before it finished",
                                    lost=lost, fields={"host": socket.gethostname()}, output=worker.output(),
                                    exit_code=status))
        for uid, worker in list(self._cancelled.items()):
            if worker.proc.poll() is not None:
                del self._cancelled[uid]
                worker.close()
        return events

    def wait(self, control) -> None:
        """Until a worker answers (a trial ended: the next one starts at once) or a short while
        passes (a worker that died, a signal), whichever comes first."""
        if control.wake.is_set() or not self.busy:
            control.wait(0 if control.wake.is_set() else self.poll_interval)
            return
        select.select([w.replies for w in self.busy.values()], [], [], self.poll_interval)

    def cancel(self, uids, why, hurry=False):
        out = []
        for uid in uids:
            worker = self.busy.pop(uid, None)
            if worker is None:
                continue
            worker.end_input()
            worker.stop(kill=hurry)
            self._cancelled[uid] = worker
            out.append(Ended(uid, INTERRUPTED, error=why))
        return out

    def close(self) -> None:
        """Every worker ends: idle ones when their input closes, cancelled ones when their trial
        has unwound; all share one grace period, which a second signal (the control's
        ``hurry``) cuts short; then whatever is left is killed with its process group."""
        workers = self.idle + list(self._cancelled.values()) + list(self.busy.values())
        for worker in workers:
            worker.end_input()
        deadline = time.monotonic() + TERM_GRACE_S
        try:
            while any(w.proc.poll() is None for w in workers) and time.monotonic() < deadline \
                    and not (self.control is not None and self.control.hurry):
                if self.control is not None:
                    self.control.wait(0.05)  # a signal wakes it at once
                else:
                    time.sleep(0.05)
        finally:  # (also when a third signal raises KeyboardInterrupt here)
            for worker in workers:
                worker.stop(kill=True)  # those still running, with their trial's child processes
            for worker in workers:
                try:
                    worker.proc.wait(timeout=TERM_GRACE_S)
                except subprocess.TimeoutExpired:  # (SIGKILLed: only an uninterruptible sleep holds it)
                    pass
                worker.close()
            self.idle, self.busy, self._cancelled = [], {}, {}


class PoolBackend(AskTellBackend):
    name = "pool"
    label = "local"
    summary = "worker processes on this machine, without Ray (local_run chooses it when nothing needs Ray)"
    early_stopping = True

    def __init__(self):
        self._early: List[_Worker] = []

    def warm_up(self, project: Project, options: RunOptions) -> None:
        """The first worker starts now: its Python and hpogrid imports overlap the planning."""
        try:
            self._early = [_Worker(worker_environment(project.scripts_dir))]
        except OSError:
            self._early = []

    def executor(self, run: Run, run_dir: Path) -> Executor:
        early, self._early = self._early, []
        return PoolExecutor(workers(run.plan.spec, run.options), worker_environment(run.project.scripts_dir), run_dir,
                            early, control=run.control)

    def run(self, project: Project, options: Optional[RunOptions] = None) -> RunSummary:
        try:
            return super().run(project, options)
        finally:  # a run that failed before its executor existed: stop the early worker
            for worker in self._early:
                worker.close()
                worker.stop()
            self._early = []


def workers(spec: RunSpec, options: RunOptions) -> int:
    """``--n_jobs``; else as many as Ray Tune would run here: ``max_concurrent``, at most the
    CPUs divided by the CPUs a trial asks for (hpo_config ``resource``)."""
    if options.n_jobs:
        return options.n_jobs
    per_trial = float(spec.resource.get("cpu") or 1)
    fit = max(1, int((os.cpu_count() or 1) // per_trial))
    return max(1, min(spec.max_concurrent or fit, fit))
