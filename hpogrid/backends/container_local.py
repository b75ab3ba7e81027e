"""``local_run --container IMAGE``: each trial is one container run on this machine.

For checking an image before sending it to a site: the trial runs in the image exactly as a
Slurm job runs it (:mod:`hpogrid.backends.container_run`: the same command line, the same setup
script), one ``apptainer exec`` / ``podman run`` per trial, ``--n_jobs`` at once. The trial's
``result.json`` ends it; a container run that ends without one is a failed trial whose error is
the last lines the runtime (or the payload) wrote to the trial's ``stderr.log``: podman's "image
not known", apptainer's "FATAL: ...". ASHA and median stopping apply as on Slurm. Stopping sends SIGTERM to each run (podman passes it to
the container), then SIGKILL after a grace period.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from hpogrid.backends.container_run import ContainerPlan, job_script, payload, plan
from hpogrid.engine import AskTellBackend, Ended, Executor, Run, TrialRun, ended_from_result, worker_environment
from hpogrid.errors import BackendError
from hpogrid.fileio import last_lines
from hpogrid.objective import standalone
from hpogrid.study.records import FAILED, INTERRUPTED

#: seconds stopped container runs get to end after SIGTERM before SIGKILL
TERM_GRACE_S = 10.0


def container_settings(options: Any) -> Dict[str, Any]:
    """local_run's container options as slurm_config's fields (one ``--setup`` line, the
    ``--container_args`` split as a shell would, without running one)."""
    import shlex

    return {"container": options.container, "container_runtime": options.container_runtime,
            "container_args": shlex.split(options.container_args or ""),
            "setup": [options.setup] if options.setup else []}


class ContainerExecutor(Executor):
    program_subdir = True  # the container run's stdout.log / stderr.log are in the trial folder

    def __init__(self, capacity: int, container: ContainerPlan, setup: List[str], run_dir: Path,
                 env: Dict[str, str], scripts_dir: Path):
        self.capacity, self.container, self.env, self.scripts_dir = capacity, container, env, scripts_dir
        self.script = job_script(run_dir / "trial.sh", setup, "local_run --container, setup lines then a "
                                 "container run of one trial")
        self.live: Dict[str, Tuple[subprocess.Popen, Path]] = {}
        self._cancelled: Dict[str, str] = {}

    def start(self, run: TrialRun) -> Dict[str, Any]:
        argv = payload(self.container, self.scripts_dir, ["-m", standalone.__name__, str(run.folder)], run.folder)
        try:
            with open(run.folder / standalone.STDOUT_FILE, "ab") as out, \
                    open(run.folder / standalone.STDERR_FILE, "ab") as err:
                proc = subprocess.Popen([str(self.script), *argv], cwd=run.folder, stdout=out, stderr=err,
                                        stdin=subprocess.DEVNULL, env=self.env, start_new_session=True)
        except OSError as exc:
            raise BackendError(f"cannot start {argv[0]} for trial {run.uid}: {exc}") from None
        self.live[run.uid] = (proc, run.folder)
        return {}

    def poll(self) -> List:
        events: List = []
        for uid, (proc, folder) in list(self.live.items()):
            code = proc.poll()
            if code is None:
                continue
            del self.live[uid]
            result = standalone.read_result(folder)
            why = self._cancelled.pop(uid, None)
            if result is not None and not (why and result.get("terminated")):
                events.append(ended_from_result(uid, result))
            elif why is not None:
                events.append(Ended(uid, INTERRUPTED, error=why))
            else:
                tail = last_lines(folder / standalone.STDERR_FILE)
                events.append(Ended(uid, FAILED, fields={"host": socket.gethostname()},
                                    error=f"{self.container.runtime.name} exited with code {code} and the trial "
                                          f"left no result" + (f": {tail}" if tail else "")))
        return events

    def cancel(self, uids: List[str], why: str, hurry: bool = False) -> List[Ended]:
        out = []
        for uid in uids:
            if uid not in self.live:
                continue
            self._cancelled[uid] = why
            proc, _ = self.live[uid]
            _signal(proc, signal.SIGKILL if hurry else signal.SIGTERM)
            if hurry:
                del self.live[uid]
                out.append(Ended(uid, INTERRUPTED, error=why))
        return out

    def close(self) -> None:
        procs = [proc for proc, _ in self.live.values()]
        for proc in procs:
            _signal(proc, signal.SIGTERM)
        deadline = time.monotonic() + TERM_GRACE_S
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(proc, signal.SIGKILL)
                proc.wait()
        self.live = {}


def _signal(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)  # the script, the runtime and what it started in its session
        except (ProcessLookupError, PermissionError):
            pass


class ContainerBackend(AskTellBackend):
    name = "container"
    label = "local"
    summary = "this machine, each trial one container run (local_run --container)"
    #: ASHA and median stopping: the trial folder is bind-mounted, so the engine reads the trial's
    #: progress.jsonl and answers in its decision.json as for a Slurm job
    early_stopping = True

    def prepare(self, run: Run) -> None:
        self._plan(run, run.project.path)  # a container that cannot work: one line before any trial
        super().prepare(run)

    def _plan(self, run: Run, run_dir: Path) -> ContainerPlan:
        found = plan(container_settings(run.options), run.project.path, run_dir, run.target.url, "--",
                     installed=not run.options.setup)  # type: ignore[attr-defined]
        if found is None:
            raise BackendError("local_run ran the container backend without --container")
        return found

    def executor(self, run: Run, run_dir: Path) -> Executor:
        from hpogrid.backends.pool import workers

        return ContainerExecutor(workers(run.plan.spec, run.options), self._plan(run, run_dir),
                                 container_settings(run.options)["setup"], run_dir,
                                 worker_environment(run.project.scripts_dir), run.project.scripts_dir)

    def trials_root(self, run: Run, run_dir: Optional[Path] = None) -> Path:
        """Trial folders in the run's folder (bind-mounted into each container run)."""
        if run_dir is None:
            raise ValueError("a container run's trial folders are in its run folder: name it")
        return run_dir
