"""The fake backend: the run engine's whole lifecycle in this process, without Ray or Slurm.

Trials run one per thread through :func:`hpogrid.objective.standalone.run_trial` (the one
trial runner, reporting to the trial folder, as in a Slurm job or a pool worker), at most ``--n_jobs`` at once (default 1: one after another, deterministic).
Trials keep the driver's working directory (``workdir=False``): the working directory is the
whole process's, so a thread cannot have its own; every other backend runs a trial in its
trial folder.
A cancelled trial is recorded INTERRUPTED at once; its thread is left to end on its own (a
thread cannot be killed), and whatever it writes afterwards is ignored. Tests of behaviour
that does not depend on where trials run use it: it starts in milliseconds.
A trial's report that awaits the engine's decision, and a trial's end, wake the run's loop at
once (as the pool's pipes do): without that every report of an early-stopped run waited out
a poll interval.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Dict, List, Optional

from hpogrid.engine import AskTellBackend, Ended, Executor, Run, TrialRun, ended_from_result
from hpogrid.study.records import INTERRUPTED


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

    def start(self, run: TrialRun) -> Dict[str, str]:
        from hpogrid.objective.standalone import run_trial

        wake = self._wake

        def trial() -> None:
            try:
                run_trial(run.folder, notify=wake.set, workdir=False)
            finally:
                wake.set()

        thread = threading.Thread(target=trial, name=f"hpogrid-fake-{run.uid}", daemon=True)
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
