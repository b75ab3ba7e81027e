"""Ray Tune's hooks, translated to the engine: results into the trial sink, the run control
into Tune's stopper and scheduler.

Runs in the driver, so each run has exactly one writer per study.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Set

from ray.tune import Callback
from ray.tune.stopper import Stopper

from hpogrid.engine import RunControl, RunSpec, TrialSink
from hpogrid.study.records import COMPLETED, FAILED, INTERRUPTED, STOPPED_EARLY


class RunStopper(Stopper):
    """The hpo_config ``stop`` criteria plus the run control's stop-everything."""

    def __init__(self, spec: RunSpec, control: RunControl):
        self.spec, self.control = spec, control
        self.reached: Set[str] = set()

    def __call__(self, trial_id: str, result: Dict[str, Any]) -> bool:
        if self.spec.stop_reached(result):
            self.reached.add(trial_id)
            return True
        return False

    def stop_all(self) -> bool:
        return self.control.stopping


#: seconds a stopped trial gets before Tune kills its actor (the pool's grace after SIGTERM too)
STOP_GRACE_S = 5


class DrainingChoice:
    """Wraps a Tune scheduler's ``choose_trial_to_run``: once the run drains (SIGQUIT), the
    search is declared finished and trials Tune queued but never started are dropped, so
    only the running trials go on to their end.

    Tune's Callback and Stopper APIs can stop every trial or none; this hook is the one
    place that sees the controller each step before it starts queued trials (Ray is
    pinned, and tests/backends checks this path).
    """

    def __init__(self, scheduler, control: RunControl):
        self.choose, self.control = scheduler.choose_trial_to_run, control

    def __call__(self, tune_controller, *args, **kwargs):
        controller = getattr(tune_controller, "_tune_controller", tune_controller)
        if getattr(controller, "_actor_force_cleanup_timeout", 0) > STOP_GRACE_S:
            # a trial busy in its own code cannot take Tune's stop (its actor runs one call at a
            # time): Tune kills it after this long; its own 10 s made a Ctrl-C take 12 s
            controller._actor_force_cleanup_timeout = STOP_GRACE_S
        if not self.control.ending:
            return self.choose(tune_controller, *args, **kwargs)
        from ray.tune.experiment import Trial

        controller._search_alg.set_finished()
        for trial in list(controller.get_trials()):
            if trial.status == Trial.PENDING:
                if not trial.relative_logdir:  # never started: Tune's result grid needs its folder
                    trial.init_local_path()
                controller._schedule_trial_stop(trial)
        return None

    @classmethod
    def install(cls, scheduler, control: RunControl):
        """``scheduler`` (None: Tune's default FIFO) with the draining hook; returns it."""
        if scheduler is None:
            from ray.tune.schedulers import FIFOScheduler

            scheduler = FIFOScheduler()
        scheduler.choose_trial_to_run = cls(scheduler, control)
        return scheduler


def _without_annotations(result: Optional[Dict[str, Any]]):
    """(the result without the annotations a Ray worker sent along, those annotations)."""
    import json

    from hpogrid.objective import ANNOTATIONS_KEY
    from hpogrid.search.define_by_run import USED_KEY

    result = dict(result or {})
    result.pop(USED_KEY, None)  # what a define-by-run trial used: params, not a metric
    text = result.pop(ANNOTATIONS_KEY, None)
    try:
        notes = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        notes = {}
    return result, notes if isinstance(notes, dict) else {}


#: words of Ray's error for a trial whose worker process died (killed, out of memory)
_LOST_WORDS = ("ActorDiedError", "RayActorError", "WorkerCrashedError", "died unexpectedly", "OutOfMemoryError")


def _error_text(trial) -> Optional[str]:
    try:
        text = trial.get_error()
    except Exception:  # storage may be gone; the state still says FAILED
        text = None
    return str(text).strip()[-4000:] if text else None


def _local_error(trial) -> Optional[str]:
    """The latest failure in the trial's local error file (storage has no copy yet while Tune
    recovers the trial)."""
    try:
        text = Path(trial.error_file).read_text(errors="replace")
    except (OSError, TypeError, AttributeError):
        return None
    last = text.rsplit("Failure # ", 1)[-1]
    return last.split("\n", 1)[1].strip()[-4000:] if "\n" in last else None


class SinkCallback(Callback):
    """Feeds Tune's trial events to the engine's sink."""

    def __init__(self, sink: TrialSink, codec, stopper: RunStopper, trials_root: Path, early: Any = None):
        self.sink, self.codec, self.stopper, self.trials_root = sink, codec, stopper, Path(trials_root)
        #: the engine's EarlyStopper where its rule decides (its ``stopped`` trials are annotated)
        self.early = early
        self._awaiting_error: Dict[str, Any] = {}

    def _uid(self, trial) -> str:
        """The study uid: Ray's trial id, or the uid a resumed re-run keeps."""
        return self.codec.trial_uid(trial.config, trial.trial_id)

    def on_trial_start(self, iteration, trials, trial, **info):
        self.sink.running(self._uid(trial), self.codec.decode(trial.config))

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.sink.reported(self._uid(trial), _without_annotations(result)[0])

    @staticmethod
    def _ended(last_result):
        """(metrics, the sink's extra fields) of a trial's last result: its annotations, and for
        a define-by-run model what it used as the trial's params (also when it failed)."""
        from hpogrid.search.define_by_run import DISTRIBUTIONS_ANNOTATION, used_from_result

        used = used_from_result(last_result)
        result, notes = _without_annotations(last_result)
        fields: Dict[str, Any] = {"annotations": notes} if notes else {}
        if used is not None:
            fields["params"] = used[0]
            fields["annotations"] = {**notes, DISTRIBUTIONS_ANNOTATION: used[1]}
        return result, fields

    def on_trial_complete(self, iteration, trials, trial, **info):
        result, fields = self._ended(trial.last_result)
        finished = result.get("done") or trial.trial_id in self.stopper.reached
        uid = self._uid(trial)
        if self.sink.control.stopping and not finished:
            why = self.sink.control.why_stopped
            self.sink.finished(uid, INTERRUPTED, result, why, folder=self.trials_root / uid, **fields)
        else:
            stopped = self.early.stopped.get(uid) if self.early is not None else None
            if stopped:  # COMPLETED, with where the engine's rule stopped it (as on the pool)
                fields["annotations"] = {**(fields.get("annotations") or {}), STOPPED_EARLY: stopped}
            self.sink.finished(uid, COMPLETED, result, folder=self.trials_root / uid, **fields)

    def on_trial_recover(self, iteration, trials, trial, **info):
        """Tune runs the trial again (hpo_config ``max_retries``: its FailureConfig), with the
        same id, so in the same trial folder, from its checkpoint: the attempt is recorded."""
        from hpogrid.study.records import ATTEMPTS

        uid = self._uid(trial)
        attempts = self._attempt(uid, trial)
        self.sink.queued(uid, annotations={ATTEMPTS: attempts})

    def _attempt(self, uid: str, trial) -> list:
        """Record the attempt of ``trial`` that did not finish in its folder's annotations."""
        from hpogrid.engine.outcome import error_summary
        from hpogrid.study.attempts import attempt_record
        from hpogrid.study.records import ATTEMPTS
        from hpogrid.trial import annotate_folder, read_annotations

        folder = self.trials_root / uid
        text = _error_text(trial) or _local_error(trial)
        lost = text is not None and any(word in text for word in _LOST_WORDS)
        earlier = read_annotations(folder).get(ATTEMPTS)
        host = (trial.last_result or {}).get("hostname") or self.sink.host
        record = attempt_record(len(earlier) + 1 if isinstance(earlier, list) else 1,
                                "worker died" if lost else "error", {"host": host}, error_summary(text) or None)
        annotate_folder(folder, ATTEMPTS, lambda old: (old if isinstance(old, list) else []) + [record])
        return read_annotations(folder).get(ATTEMPTS) or []

    def on_trial_error(self, iteration, trials, trial, **info):
        # Ray writes the error file only after this hook: the text is added on the next step
        uid = self._uid(trial)
        self._attempt(uid, trial)
        result, fields = self._ended(trial.last_result)
        self.sink.finished(uid, FAILED, result, "trial failed", folder=self.trials_root / uid, **fields)
        self._awaiting_error[uid] = trial

    def on_step_begin(self, iteration, trials, **info):
        self.sink.tick()  # the stop rules that read the clock, before Tune starts more trials

    def on_step_end(self, iteration, trials, **info):
        self._record_errors()

    def _record_errors(self, final: bool = False) -> None:
        for uid, trial in list(self._awaiting_error.items()):
            text = _error_text(trial)
            if text or final:
                self.sink.set_error(uid, text or "trial failed (Ray recorded no error text)")
                del self._awaiting_error[uid]

    def on_experiment_end(self, trials, **info):
        self._record_errors(final=True)
        self.sink.flush()

    def __getstate__(self):  # Tune pickles callbacks; a copy records nothing
        return {}

    def __setstate__(self, state):  # the copy holds no sink: Tune never calls it
        self.__dict__.update(state)
