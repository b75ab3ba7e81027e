"""The fake backend: the run engine's whole lifecycle in this process, without Ray or Slurm.

Trials run one per thread through :func:`hpogrid.objective.standalone.run_trial` (the one
trial runner, reporting to the trial folder, as in a Slurm job or a pool worker), at most ``--n_jobs`` at once (default 1: one after another, deterministic).
Trials keep the driver's working directory (``workdir=False``): the working directory is the
whole process's, so a thread cannot have its own; every other backend runs a trial in its
trial folder.
A cancelled trial is recorded INTERRUPTED at once; its thread is left to end on its own (a
thread cannot be killed), and whatever it writes afterwards is ignored. What a trial's thread
prints (``sys.stdout``, ``sys.stderr``) goes where the driver's output goes and also to
``output.log`` in its trial folder, where the failure rules read it as on every backend. Tests of behaviour
that does not depend on where trials run use it: it starts in milliseconds.
A trial's report that awaits the engine's decision, and a trial's end, wake the run's loop at
once (as the pool's pipes do): without that every report of an early-stopped run waited out
a poll interval.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import IO, Any, Dict, List, Optional

from hpogrid.engine import AskTellBackend, Ended, Executor, Run, TrialRun, ended_from_result
from hpogrid.study.records import INTERRUPTED


#: what a trial's thread printed, in its trial folder
OUTPUT_FILE = "output.log"


class _TrialStream:
    """``sys.stdout`` / ``sys.stderr`` while trials run in threads: writes go to the stream it
    replaced and, from a trial's thread, to that trial's output file too."""

    def __init__(self, stream: Any, files: Dict[int, IO[str]]):
        self._stream, self._files = stream, files

    def write(self, text: str) -> int:
        fh = self._files.get(threading.get_ident())
        if fh is not None:
            try:
                fh.write(text)
                fh.flush()
            except (OSError, ValueError):  # (closed: the trial ended)
                pass
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _run_trial(folder: Path, files: Dict[int, IO[str]], wake: threading.Event) -> None:
    """A trial's thread: its output also into its folder's log; its reports and its end wake the loop."""
    from hpogrid.objective.standalone import run_trial

    with open(folder / OUTPUT_FILE, "a") as fh:
        files[threading.get_ident()] = fh
        try:
            run_trial(folder, notify=wake.set, workdir=False)
        finally:
            files.pop(threading.get_ident(), None)
            wake.set()


class ThreadExecutor(Executor):
    poll_interval = 0.02

    def __init__(self, capacity: int, wake: Optional[threading.Event] = None):
        self.capacity = capacity
        #: set by a trial thread when it has news for the loop (the run control's ``wake``)
        self._wake = wake or threading.Event()
        self._threads: Dict[str, threading.Thread] = {}
        self._runs: Dict[str, TrialRun] = {}
        self._started: List[str] = []
        self._lock = threading.Lock()
        self._files: Dict[int, IO[str]] = {}
        self._streams = (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = _TrialStream(sys.stdout, self._files), _TrialStream(sys.stderr, self._files)

    def close(self) -> None:
        """The driver's own streams again (unless someone replaced ours meanwhile)."""
        if isinstance(sys.stdout, _TrialStream):
            sys.stdout = self._streams[0]
        if isinstance(sys.stderr, _TrialStream):
            sys.stderr = self._streams[1]

    def start(self, run: TrialRun) -> Dict[str, str]:
        thread = threading.Thread(target=_run_trial, args=(run.folder, self._files, self._wake),
                                  name=f"hpogrid-fake-{run.uid}", daemon=True)
        self._threads[run.uid], self._runs[run.uid] = thread, run
        thread.start()
        return {}

    def poll(self):
        from hpogrid.objective.trial_folder import read_result

        events = []
        for uid, thread in list(self._threads.items()):
            if thread.is_alive():
                continue
            del self._threads[uid]
            events.append(ended_from_result(uid, read_result(self._runs.pop(uid).folder)))
        return events

    def cancel(self, uids, why, hurry=False):
        for uid in uids:
            self._threads.pop(uid, None)
            self._runs.pop(uid, None)
        return [Ended(uid, INTERRUPTED, error=why) for uid in uids]


class FakeBackend(AskTellBackend):
    name = "fake"
    summary = "trials in threads of this process (for tests): no Ray, no Slurm"
    early_stopping = True

    def executor(self, run: Run, run_dir: Path) -> Executor:
        return ThreadExecutor(run.options.n_jobs or 1, wake=run.control.wake)
