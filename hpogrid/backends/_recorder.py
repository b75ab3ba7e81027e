"""Ray Tune callback that writes every trial into the study store as it happens.

Runs in the driver, so each run has exactly one writer per study. Writes go through one
background thread, in order, so Tune's event loop never waits on the database; a crash
loses at most the trials that were running plus the last few milliseconds of events. It
also keeps the counts for the progress line.
"""
import json
import math
import queue
import socket
import sys
import threading
import time
from typing import Any, Dict, Optional

from ray.tune import Callback
from ray.tune.stopper import Stopper

from hpogrid.search import Codec
from hpogrid.study.records import COMPLETED, FAILED, INTERRUPTED, RUNNING

#: keys Ray adds to every result that are bookkeeping, not metrics
_RAY_KEYS = frozenset({
    "config", "trial_id", "date", "timestamp", "pid", "hostname", "node_ip", "experiment_tag",
    "done", "checkpoint_dir_name", "should_checkpoint", "time_this_iter_s", "time_since_restore",
    "iterations_since_restore", "timesteps_total", "episodes_total", "timesteps_since_restore",
    "experiment_id", "episodes_this_iter", "timesteps_this_iter",
})


def clean_metrics(result: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The user's metrics (plus training_iteration and time_total_s) as JSON-safe values."""
    out = {}
    for key, value in (result or {}).items():
        if key in _RAY_KEYS or not isinstance(key, str):
            continue
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = None  # JSON has no NaN/inf; the store's value column treats None as missing
        if isinstance(value, (bool, int, float, str)) or value is None:
            out[key] = value
    return out


class RunStopper(Stopper):
    """The hpo_config ``stop`` criteria (Ray's dict semantics) plus a stop-everything flag."""

    def __init__(self, criteria: Dict[str, Any]):
        self.criteria = dict(criteria)
        self.interrupted = threading.Event()
        #: Ctrl-\ (SIGQUIT): start no new trial, let the running ones finish
        self.draining = threading.Event()
        self.reached = set()
        #: why the run was aborted (max_failures exceeded), None while it goes on
        self.abort_reason: Optional[str] = None

    def __call__(self, trial_id: str, result: Dict[str, Any]) -> bool:
        for key, bound in self.criteria.items():
            value = result.get(key)
            if isinstance(value, (int, float)) and value >= bound:
                self.reached.add(trial_id)
                return True
        return False

    def stop_all(self) -> bool:
        return self.stopping

    @property
    def stopping(self) -> bool:
        """Running trials are being stopped (they end INTERRUPTED)."""
        return self.interrupted.is_set() or self.abort_reason is not None

    @property
    def ending(self) -> bool:
        """No new trial may start (stopping, or draining after SIGQUIT)."""
        return self.stopping or self.draining.is_set()

    # Tune pickles its run config (with this stopper) into the experiment folder
    def __getstate__(self):
        return {**self.__dict__, "interrupted": self.interrupted.is_set(), "draining": self.draining.is_set()}

    def __setstate__(self, state):
        flags = {name: state.pop(name) for name in ("interrupted", "draining")}
        self.__dict__.update(state)
        for name, flag in flags.items():
            event = threading.Event()
            if flag:
                event.set()
            setattr(self, name, event)


class DrainingChoice:
    """Wraps a Tune scheduler's ``choose_trial_to_run``: once the run drains (SIGQUIT), the
    search is declared finished and trials Tune queued but never started are dropped, so
    only the running trials go on to their end.

    Tune's Callback and Stopper APIs can stop every trial or none; this hook is the one
    place that sees the controller each step before it starts queued trials (Ray is
    pinned, and tests/backends checks this path).
    """

    def __init__(self, scheduler, stopper: RunStopper):
        self.choose, self.stopper = scheduler.choose_trial_to_run, stopper

    def __call__(self, tune_controller, *args, **kwargs):
        if not self.stopper.draining.is_set():
            return self.choose(tune_controller, *args, **kwargs)
        from ray.tune.experiment import Trial

        controller = getattr(tune_controller, "_tune_controller", tune_controller)
        controller._search_alg.set_finished()
        for trial in list(controller.get_trials()):
            if trial.status == Trial.PENDING:
                controller._schedule_trial_stop(trial)
        return None

    @classmethod
    def install(cls, scheduler, stopper: RunStopper):
        """``scheduler`` (None: Tune's default FIFO) with the draining hook; returns it."""
        if scheduler is None:
            from ray.tune.schedulers import FIFOScheduler

            scheduler = FIFOScheduler()
        scheduler.choose_trial_to_run = cls(scheduler, stopper)
        return scheduler


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

    def __getstate__(self):  # Tune pickles callbacks; a copy beats nothing
        return {"period": self.period}

    def __setstate__(self, state):
        self.__init__(None, "", state["period"])
        self._stop.set()


def _error_text(trial) -> Optional[str]:
    try:
        text = trial.get_error()
    except Exception:  # storage may be gone; the state still says FAILED
        text = None
    return str(text).strip()[-4000:] if text else None


def error_summary(text: Optional[str]) -> str:
    """The last line of a traceback: ``ValueError: ...``."""
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


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

    def __getstate__(self):  # Tune pickles callbacks; a copy writes nothing
        return {}

    def __setstate__(self, state):
        self.__init__()


class StudyRecorder(Callback):
    def __init__(self, store, study: str, codec: Codec, metric: str, mode: str, stopper: RunStopper,
                 total: int, backend: str = "local", progress: bool = True, max_failures: Optional[int] = None,
                 annotations_dir: Optional[str] = None):
        self.store, self.study, self.codec = store, study, codec
        self.metric, self.mode, self.stopper, self.total = metric, mode, stopper, total
        self.backend, self.host = backend, socket.gethostname()
        self.progress = progress
        self.max_failures = max_failures
        self.annotations_dir = annotations_dir
        self.counts = {"done": 0, "failed": 0, "interrupted": 0, "running": 0}
        self.best: Optional[float] = None
        self._last_print = 0.0
        self.uids = set()
        self._awaiting_error = {}
        self._history: Dict[str, list] = {}
        self.writer = OrderedWriter()
        from hpogrid.study.liveness import heartbeat_period

        self.heartbeat = Heartbeat(store, study, heartbeat_period())

    # -- Ray hooks ---------------------------------------------------------------------------
    def on_trial_start(self, iteration, trials, trial, **info):
        self.uids.add(self._uid(trial))
        self.heartbeat.add(self._uid(trial))
        self.writer.submit(self.store.upsert_trial, self.study, self._uid(trial), state=RUNNING,
                                params=json_safe(self.codec.decode(trial.config)),
                                backend=self.backend, host=self.host)
        self.counts["running"] += 1
        self._show()

    def on_trial_result(self, iteration, trials, trial, result, **info):
        metrics = clean_metrics(result)
        uid = self._uid(trial)
        history = self._history.setdefault(uid, [])
        step = metrics.get("training_iteration")
        if history and isinstance(step, int) and step <= (history[-1].get("training_iteration") or 0):
            # a paused trial without a checkpoint restarts from scratch: so does its history
            del history[max(0, step - 1):]
            history.append(metrics)
            self.writer.submit(self.store.upsert_trial, self.study, uid, intermediate=list(history),
                               metrics=metrics)
            return
        history.append(metrics)
        self.writer.submit(self.store.append_intermediate, self.study, uid, metrics)

    def on_trial_complete(self, iteration, trials, trial, **info):
        metrics = clean_metrics(trial.last_result)
        finished = trial.last_result.get("done") or trial.trial_id in self.stopper.reached
        if self.stopper.stopping and not finished:
            why = self.stopper.abort_reason or "interrupted by the user"
            self._finish(trial, INTERRUPTED, metrics=metrics, error=why)
            self.counts["interrupted"] += 1
        else:
            self._finish(trial, COMPLETED, metrics=metrics)
            self.counts["done"] += 1
            self._update_best(metrics.get(self.metric))

    def on_trial_error(self, iteration, trials, trial, **info):
        # Ray writes the error file only after this hook: the text is added on the next step
        self._finish(trial, FAILED, metrics=clean_metrics(trial.last_result), error="trial failed")
        self._awaiting_error[self._uid(trial)] = trial
        self.counts["failed"] += 1
        if self.max_failures is not None and self.counts["failed"] > self.max_failures \
                and self.stopper.abort_reason is None:
            self.stopper.abort_reason = (f"stopped after {self.counts['failed']} failed trials "
                                         f"(hpo_config max_failures = {self.max_failures})")

    def on_step_end(self, iteration, trials, **info):
        self._record_errors()

    def _record_errors(self, final: bool = False) -> None:
        for uid, trial in list(self._awaiting_error.items()):
            text = _error_text(trial)
            if text or final:
                self.writer.submit(self.store.upsert_trial, self.study, uid,
                                   error=text or "trial failed (Ray recorded no error text)")
                del self._awaiting_error[uid]

    # -- helpers -------------------------------------------------------------------------------
    def _uid(self, trial) -> str:
        """The study uid: Ray's trial id, or the uid a resumed re-run keeps."""
        return self.codec.trial_uid(trial.config, trial.trial_id)

    def _finish(self, trial, state: str, **fields):
        if self.annotations_dir:
            from hpogrid.workflow._context import read_annotations

            notes = read_annotations(self.annotations_dir, trial.trial_id)
            if notes:
                fields["annotations"] = notes
        self.writer.submit(self.store.upsert_trial, self.study, self._uid(trial), state=state, **fields)
        self.heartbeat.discard(self._uid(trial))
        self.counts["running"] = max(0, self.counts["running"] - 1)
        self._show()

    def _update_best(self, value: Any) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            return
        if self.best is None or (value < self.best if self.mode == "min" else value > self.best):
            self.best = float(value)

    def line(self) -> str:
        c = self.counts
        best = "-" if self.best is None else f"{self.best:.6g}"
        return (f"[hpogrid] {c['done'] + c['failed'] + c['interrupted']}/{self.total} trials: "
                f"{c['done']} done, {c['failed']} failed, {c['running']} running | "
                f"best {self.metric}={best}")

    def _show(self, final: bool = False) -> None:
        if not self.progress:
            return
        now = time.monotonic()
        tty = sys.stderr.isatty()
        if not final and now - self._last_print < (0.2 if tty else 10.0):
            return
        self._last_print = now
        sys.stderr.write(("\r" + self.line() + "\x1b[K") if tty else self.line() + "\n")
        if final and tty:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def on_experiment_end(self, trials, **info):
        self._record_errors(final=True)
        self.writer.flush()
        self._show(final=True)

    def close(self) -> None:
        """Wait for every queued write (raises the first write error, if any)."""
        self.heartbeat.stop()
        try:
            self.writer.flush()
        finally:
            self.writer.close()


def json_safe(values: Dict[str, Any]) -> Dict[str, Any]:
    """Round-trip through JSON so numpy scalars become plain numbers before storing."""
    return json.loads(json.dumps(values, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
