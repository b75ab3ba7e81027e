"""``local_run --container IMAGE``: each trial is one container run on this machine.

For checking an image before sending it to a site: the trial runs in the image exactly as a
Slurm job runs it (:mod:`hpogrid.backends.container_run`: the same command line, the same setup
script), one ``apptainer exec`` / ``podman run`` per trial, ``--n_jobs`` at once. The trial's
``result.json`` ends it; a container run that ends without one is a failed trial whose error is
the last lines the runtime (or the payload) wrote to the trial's ``stderr.log``: podman's "image
not known", apptainer's "FATAL: ...". ASHA and median stopping apply as on Slurm. Stopping sends
SIGTERM to each run (podman passes it to the container), then SIGKILL after a grace period (at
once on a second Ctrl-C). Each run's container is named ``hpogrid-<study>-<trial uid>``; one whose
runtime was SIGKILLed is removed by name (:meth:`hpogrid.containers.Runtime.remove`): podman's
container is not in the killed process group and would go on computing after hpogrid exits.
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
from hpogrid.containers import container_name
from hpogrid.engine import AskTellBackend, Ended, Executor, Run, TrialRun, ended_from_result, worker_environment
from hpogrid.errors import BackendError
from hpogrid.fileio import last_lines
from hpogrid.objective import standalone
from hpogrid.study.records import FAILED, INTERRUPTED

#: seconds stopped container runs get to end after SIGTERM before SIGKILL
TERM_GRACE_S = 10.0
#: seconds a SIGKILLed container run gets to be gone before its container is removed
KILL_WAIT_S = 10.0


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
                 env: Dict[str, str], scripts_dir: Path, study: str):
        self.capacity, self.container, self.env, self.scripts_dir = capacity, container, env, scripts_dir
        self.study = study
        self.script = job_script(run_dir / "trial.sh", setup, "local_run --container, setup lines then a "
                                 "container run of one trial")
        self.live: Dict[str, Tuple[subprocess.Popen, Path]] = {}
        self._cancelled: Dict[str, str] = {}

    def start(self, run: TrialRun) -> Dict[str, Any]:
        argv = payload(self.container, self.scripts_dir, ["-m", standalone.__name__, str(run.folder)], run.folder,
                       name=self._name(run.uid))
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
        out, killed = [], []
        for uid in uids:
            if uid not in self.live:
                continue
            self._cancelled[uid] = why
            proc, _ = self.live[uid]
            sent = _signal(proc, signal.SIGKILL if hurry else signal.SIGTERM)
            if hurry:
                del self.live[uid]
                killed += [(uid, proc)] if sent else []
                out.append(Ended(uid, INTERRUPTED, error=why))
        self._remove(killed)
        return out

    def close(self) -> None:
        live = list(self.live.items())
        for _, (proc, _) in live:
            _signal(proc, signal.SIGTERM)
        deadline = time.monotonic() + TERM_GRACE_S
        killed = []
        for uid, (proc, _) in live:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                if _signal(proc, signal.SIGKILL):
                    killed.append((uid, proc))
        self._remove(killed)
        self.live = {}

    def _name(self, uid: str) -> str:
        return container_name(self.study, uid)

    def _remove(self, killed: List[Tuple[str, subprocess.Popen]]) -> None:
        """Remove the containers of the runs just SIGKILLed, once their runtime process is gone
        (a client killed while it creates its container could otherwise create it after)."""
        if not killed:
            return
        for _, proc in killed:
            try:
                proc.wait(timeout=KILL_WAIT_S)
            except subprocess.TimeoutExpired:
                pass  # (stuck in the kernel: its container is removed all the same)
        self.container.runtime.remove([self._name(uid) for uid, _ in killed])


def _signal(proc: subprocess.Popen, sig: int) -> bool:
    """Send ``sig`` to the run's process group; False: the run had ended already."""
    if proc.poll() is not None:
        return False
    try:
        os.killpg(proc.pid, sig)  # the script, the runtime and what it started in its session
    except (ProcessLookupError, PermissionError):
        pass
    return True


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
                                 worker_environment(run.project.scripts_dir), run.project.scripts_dir, run.study)

    def trials_root(self, run: Run, run_dir: Optional[Path] = None) -> Path:
        """Trial folders in the run's folder (bind-mounted into each container run)."""
        if run_dir is None:
            raise ValueError("a container run's trial folders are in its run folder: name it")
        return run_dir
