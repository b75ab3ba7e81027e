"""The one trial sink: every backend's trials pass through here on their way to the study.

It records (in order, on one background thread, so a backend's event loop never waits on the
database), refreshes the heartbeat of live trials, keeps the counts of the progress line,
cleans metrics, applies the rules every backend shares - a COMPLETED trial must have reported
the study metric as a finite number, ``max_failures`` aborts the run - and stores what the
trial annotated (:mod:`hpogrid.trial`). The rules themselves are :mod:`hpogrid.engine.outcome`;
the stop rules (timeout, max_cost, target, patience) are its :class:`~hpogrid.engine.budget.Budget`,
checked as trials end and on every :meth:`TrialSink.tick` of a backend's loop.
"""
from __future__ import annotations

import queue
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional

from hpogrid.engine.control import RunControl
from hpogrid.engine.options import RunSpec
from hpogrid.engine.outcome import clean_metrics, json_safe, metric_verdict, not_stored_note
from hpogrid.engine.progress import BestSoFar, Counts, ProgressLine
from hpogrid.engine.trial_output import cap_logs, clean_error
from hpogrid.study.records import COMPLETED, FAILED, INTERRUPTED, METRICS_NOT_STORED, PENDING, RUNNING, TrialState

if TYPE_CHECKING:
    from hpogrid.engine.budget import Budget

#: seconds (of the budget's clock) between writes of the stop rules' status into the study
STATUS_EVERY_S = 5.0

class OrderedWriter:
    """One thread applying store writes in submission order; errors surface on ``flush``."""

    def __init__(self):
        self._queue: "queue.Queue" = queue.Queue()
        self._errors: list = []
        self._thread = threading.Thread(target=self._work, name="hpogrid-study-writer", daemon=True)
        self._thread.start()

    def submit(self, fn, *args, **kwargs) -> None:
        self._queue.put((fn, args, kwargs))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                fn, args, kwargs = item
                fn(*args, **kwargs)
            except Exception as exc:  # kept for flush(): a lost write must not go unnoticed
                self._errors.append(exc)
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        self._queue.join()
        if self._errors:
            raise self._errors[0]

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=60)


class Heartbeat:
    """Refreshes ``heartbeat_at`` of the run's PENDING/RUNNING trials every ``period`` s, so
    readers can tell them from trials of a dead run (see :mod:`hpogrid.study.liveness`).

    Its own thread, calling the store directly: a trial that reports nothing for hours, or
    a backlog in the ordered writer, never delays it. A failed beat is retried next period.
    """

    def __init__(self, store, study: str, period: float):
        self.store, self.study, self.period = store, study, period
        self._uids: set = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def add(self, uid: str) -> None:
        with self._lock:
            self._uids.add(uid)
            if self._thread is None:
                self._thread = threading.Thread(target=self._beat, name="hpogrid-heartbeat", daemon=True)
                self._thread.start()

    def discard(self, uid: str) -> None:
        with self._lock:
            self._uids.discard(uid)

    def _beat(self) -> None:
        from hpogrid.errors import HpogridError

        while not self._stop.wait(self.period):
            with self._lock:
                uids = list(self._uids)
            if uids:
                try:
                    self.store.heartbeat(self.study, uids)
                except HpogridError:
                    continue

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


class TrialSink:
    """Where a backend reports what its trials do (see the module docstring).

    Thread-safe for one writer thread at a time per trial (backends call it from their event
    loop). ``uids`` are the trials of this run.
    """

    def __init__(self, store, study: str, spec: RunSpec, control: RunControl, total: int,
                 backend: str, heartbeat_s: float, progress: bool = True, budget: Optional["Budget"] = None):
        self.store, self.study, self.spec, self.control = store, study, spec, control
        #: the stop rules (None: the run has none)
        self.budget = budget
        self._status_at: Optional[float] = None
        self._rule_written = False
        self.backend, self.host = backend, socket.gethostname()
        self.uids: List[str] = []
        self.counts = Counts()
        #: the best value of the (primary) objective among feasible trials so far
        self.best: Optional[float] = None
        self._best = BestSoFar(spec.objectives)
        self.last_error: Optional[str] = None
        self._states: Dict[str, TrialState] = {}
        self._history: Dict[str, list] = {}
        #: a trial retried in this run: uid -> (its earlier attempts' curve, the running attempt's number)
        self._continued: Dict[str, tuple] = {}
        self._progress = ProgressLine(spec.metric, total, enabled=progress)
        self._writer = OrderedWriter()
        self._heartbeat = Heartbeat(store, study, heartbeat_s)

    @property
    def total(self) -> int:
        return self._progress.total

    # -- a trial's life ------------------------------------------------------------------
    def pending(self, uid: str, params: Dict[str, Any], **fields: Any) -> None:
        """The trial was handed to the backend (a Slurm job queued, a grid job submitted)."""
        self._enter(uid, PENDING, params=json_safe(params), backend=self.backend, **fields)

    def queued(self, uid: str, **fields: Any) -> None:
        """A pending trial got where it will run (the grid task holding it): more columns; with
        ``state`` PENDING, a trial whose worker died is queued again."""
        if fields.get("state") is not None:
            if fields["state"] == PENDING and self.budget is not None:  # its worker died: that attempt's hours
                notes = self.budget.ended(uid, PENDING, None)
                fields["annotations"] = {**(fields.get("annotations") or {}), **notes}
            self._move(uid, fields["state"])
        self._writer.submit(self.store.upsert_trial, self.study, uid, **fields)
        self.show()

    def adopt(self, uid: str, state: TrialState) -> None:
        """A dead run's trial that this run follows from now on (already in the store as ``state``)."""
        self._move(uid, state)
        self._heartbeat.add(uid)
        if self.budget is not None and state == RUNNING:
            self.budget.running(uid)
        self.show()

    def running(self, uid: str, params: Optional[Dict[str, Any]] = None, **fields: Any) -> None:
        """The trial started; ``fields`` are store columns (host, job_id, ...)."""
        if params is not None:
            fields["params"] = json_safe(params)
        fields.setdefault("backend", self.backend)
        fields.setdefault("host", self.host)
        since = fields.pop("since", None)
        if self.budget is not None:
            notes = self.budget.running(uid, fields.pop("resources", None), since)
            fields["annotations"] = {**(fields.get("annotations") or {}), **notes}
        fields.pop("resources", None)
        self._enter(uid, RUNNING, **fields)

    def continues(self, uid: str, curve: List[Dict[str, Any]], attempt: int) -> None:
        """Trial ``uid`` runs again as attempt number ``attempt``, after the earlier attempts'
        ``curve`` (:func:`~hpogrid.study.attempts.continued`): the study shows that curve now, and
        the new attempt's reports go on from it."""
        self._continued[uid] = (curve, attempt)
        self._history[uid] = []
        self._writer.submit(self.store.upsert_trial, self.study, uid, intermediate=[clean_metrics(i) for i in curve])

    def reported(self, uid: str, result: Dict[str, Any]) -> None:
        """One intermediate result (an iteration)."""
        metrics = clean_metrics(result)
        if uid in self._continued:  # a retry: the whole curve again (only retried trials pay for it)
            from hpogrid.study.attempts import continued

            history = self._history.setdefault(uid, [])
            history.append(metrics)
            curve, attempt = self._continued[uid]
            merged = continued(curve, history, attempt)
            self._writer.submit(self.store.upsert_trial, self.study, uid, intermediate=merged,
                                metrics=merged[-1])
            return
        history = self._history.setdefault(uid, [])
        step = metrics.get("training_iteration")
        if history and isinstance(step, int) and step <= (history[-1].get("training_iteration") or 0):
            # a paused trial without a checkpoint restarts from scratch: so does its history
            del history[max(0, step - 1):]
            history.append(metrics)
            self._writer.submit(self.store.upsert_trial, self.study, uid, intermediate=list(history),
                                metrics=metrics)
            return
        history.append(metrics)
        self._writer.submit(self.store.append_intermediate, self.study, uid, metrics)

    def finished(self, uid: str, state: TrialState, metrics: Optional[Dict[str, Any]] = None,
                 error: Optional[str] = None, history: Optional[Iterable[Dict[str, Any]]] = None,
                 folder: Optional[Path] = None, **fields: Any) -> TrialState:
        """The trial ended in ``state``; returns the state recorded (a COMPLETED trial without
        the study metric is FAILED, saying which metrics it did report)."""
        dropped: Dict[str, str] = {}
        metrics = clean_metrics(metrics, dropped)
        self._continued.pop(uid, None)
        if history is not None:
            fields["intermediate"] = [clean_metrics(item) for item in history]
        if folder is not None:
            from hpogrid.trial import read_annotations

            cap_logs(folder)

            notes = read_annotations(folder)
            if notes:
                fields["annotations"] = {**(fields.get("annotations") or {}), **notes}
                told = notes.get(METRICS_NOT_STORED)  # what the trial itself stored empty
                dropped = {**(told if isinstance(told, dict) else {}), **dropped}
        state, why = metric_verdict(state, metrics, self.spec.objectives, dropped)
        if dropped:
            fields["annotations"] = {**(fields.get("annotations") or {}), **not_stored_note(dropped)}
        error = why or clean_error(error)
        if self.budget is not None:  # its hours; a completed trial may reach the target or use up the patience
            notes = self.budget.ended(uid, state, metrics)
            if notes:
                fields["annotations"] = {**(fields.get("annotations") or {}), **notes}
        self._move(uid, state)
        self._heartbeat.discard(uid)
        self._writer.submit(self.store.upsert_trial, self.study, uid, state=state, metrics=metrics,
                            error=error, **fields)
        if state == COMPLETED:
            self._best.add(metrics)
            self.best = self._best.value
        elif state == FAILED:
            self.last_error = error
            if self.spec.failures_exceeded(self.counts.failed):
                self.control.abort(f"stopped after {self.counts.failed} failed trials "
                                   f"(hpo_config max_failures = {self.spec.max_failures})")
        self.show()
        return state

    def set_error(self, uid: str, error: str) -> None:
        """A failed trial's error text that arrived after its end (Ray writes it later)."""
        cleaned = clean_error(error)
        self.last_error = cleaned
        self._writer.submit(self.store.upsert_trial, self.study, uid, error=cleaned)

    def now(self) -> Optional[float]:
        """The stop rules' clock now (None: the run has no rules)."""
        return self.budget.clock() if self.budget is not None else None

    def tick(self) -> None:
        """The stop rules that read the clock (timeout, max_cost with running trials' time so
        far), and now and then their status into the study (the dashboard shows it)."""
        if self.budget is None:
            return
        self.budget.check()
        now = self.budget.clock()
        if self._status_at is None or now - self._status_at >= STATUS_EVERY_S \
                or (self.control.rule and not self._rule_written):
            self._rule_written = bool(self.control.rule)
            self.write_status()

    def write_status(self) -> None:
        """The stop rules, the budget used and left, and the rule that ended the run, as the
        study's ``stop_rules`` attribute."""
        if self.budget is None:
            return
        from hpogrid.budgets import ATTRS_KEY

        self._status_at = self.budget.clock()
        self._writer.submit(self.store.update_attrs, self.study, {ATTRS_KEY: self.budget.status()})

    # -- helpers -------------------------------------------------------------------------
    def _move(self, uid: str, state: TrialState) -> None:
        """Trial ``uid`` (of this run from now on) enters ``state``: the counts follow."""
        if uid not in self._states:
            self.uids.append(uid)
        self._count(self._states.get(uid), -1)
        self._states[uid] = state
        self._count(state, +1)

    def _enter(self, uid: str, state: TrialState, **fields: Any) -> None:
        self._move(uid, state)
        self._heartbeat.add(uid)
        self._writer.submit(self.store.upsert_trial, self.study, uid, state=state, **fields)
        self.show()

    def _count(self, state: Optional[TrialState], step: int) -> None:
        if state is None:
            return
        name = {PENDING: "pending", RUNNING: "running", COMPLETED: "done", FAILED: "failed",
                INTERRUPTED: "interrupted"}.get(state)
        if name:
            setattr(self.counts, name, getattr(self.counts, name) + step)

    def live(self) -> List[str]:
        """This run's trials still PENDING or RUNNING."""
        return [uid for uid, s in self._states.items() if s in (PENDING, RUNNING)]

    def show(self, final: bool = False) -> None:
        plain = not (self.spec.objectives.is_multi or self.spec.objectives.constraints)
        self._progress.show(self.counts, self.best if plain else self._best, final=final)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        """Wait for every queued write (raises the first write error, if any); then mark
        whatever of this run is still live INTERRUPTED (the run ended before it did)."""
        self._heartbeat.stop()
        try:
            self._writer.flush()
            for uid in self.live():
                notes = self.budget.ended(uid, INTERRUPTED, None) if self.budget is not None else {}
                self.store.upsert_trial(self.study, uid, state=INTERRUPTED,
                                        error="run ended before the trial finished",
                                        **({"annotations": notes} if notes else {}))
                self._move(uid, INTERRUPTED)
            if self.budget is not None:
                from hpogrid.budgets import ATTRS_KEY

                self.store.update_attrs(self.study, {ATTRS_KEY: self.budget.status()})
        finally:
            self._writer.close()
            self.show(final=True)
