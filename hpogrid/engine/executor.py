"""Backends that run trials outside Ray Tune: an :class:`Executor` plus one ask/tell loop.

An executor says only how a trial executes and stops (start it, report what changed, cancel
it); :class:`AskTellBackend` does the rest for every such backend: ask the searcher
(:mod:`hpogrid.search.asktell`), re-run a resumed study's trials first, keep at most
``capacity`` trials live, tell each result, obey the run control (stop, drain, abort) and
never leave a trial of its own behind.
"""
from __future__ import annotations

import secrets
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Union

from hpogrid.engine.backend import Backend
from hpogrid.engine.control import RunControl
from hpogrid.engine.early_stop import Judge
from hpogrid.engine.outcome import json_safe
from hpogrid.engine.retry import RetryPolicy
from hpogrid.engine.run import Run
from hpogrid.errors import BackendError
from hpogrid.search.define_by_run import DISTRIBUTIONS_ANNOTATION
from hpogrid.study.records import COMPLETED, FAILED, INTERRUPTED, STOPPED_EARLY, TrialState

if TYPE_CHECKING:
    from hpogrid.search.asktell import AskTell

#: seconds to wait for cancelled trials to end before recording them INTERRUPTED anyway
CANCEL_WAIT_S = 30.0


@dataclass(frozen=True)
class TrialRun:
    """One trial handed to an executor; its ``folder`` holds ``trial.json`` already."""

    uid: str
    number: int
    values: Dict[str, Any]
    folder: Path


@dataclass(frozen=True)
class Started:
    """The trial runs now (``fields``: store columns such as host)."""

    uid: str
    fields: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ended:
    uid: str
    state: TrialState
    metrics: Dict[str, Any] = field(default_factory=dict)
    history: Optional[List[Dict[str, Any]]] = None
    error: Optional[str] = None
    fields: Dict[str, Any] = field(default_factory=dict)
    #: define-by-run: the parameters the model actually used, and their distributions (the
    #: study records these instead of what the searcher pre-suggested)
    params: Optional[Dict[str, Any]] = None
    distributions: Optional[Dict[str, Any]] = None
    #: the infrastructure lost the attempt (not the trial's own doing): why, in a word Slurm or
    #: the OS would use ("NODE_FAIL", "PREEMPTED", "killed by SIGKILL", ...); the engine may run
    #: it again (hpo_config ``max_retries``), see :mod:`hpogrid.engine.retry`
    lost: Optional[str] = None
    #: where the attempt ran when it is not in ``fields["host"]``: a Slurm node
    node: Optional[str] = None
    #: the end of what the attempt printed (stdout and stderr) where the backend keeps it outside
    #: the trial folder (a pool worker's log), and its process's exit status where known: the
    #: failure rules match them (:mod:`hpogrid.engine.retry`)
    output: Optional[str] = None
    exit_code: Optional[int] = None


@dataclass(frozen=True)
class Queued:
    """The queued trial got where it will run (``fields``: e.g. the grid task that holds it)."""

    uid: str
    fields: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Requeued:
    """The backend runs the trial again by itself (Slurm requeued its job: preemption with
    requeue, ``scontrol requeue``): the attempt that ran was lost (``reason``, on ``node``); the
    trial stays live, under its uid, and goes on from its checkpoint."""

    uid: str
    reason: str
    node: Optional[str] = None
    error: Optional[str] = None


Event = Union[Queued, Started, Ended, Requeued]


def ended_from_result(uid: str, result: Optional[Dict[str, Any]]) -> Ended:
    """The end of a trial from the ``result.json`` its runner wrote (:mod:`hpogrid.objective.trial_folder`)."""
    result = result or {}
    ok = result.get("status") == "completed"
    used = result.get("params")
    return Ended(uid, COMPLETED if ok else FAILED, metrics=result.get("metrics") or {},
                 history=result.get("history"), error=None if ok else result.get("error"),
                 fields={"host": result["host"]} if result.get("host") else {},
                 params=used if isinstance(used, dict) else None,
                 distributions=result.get("distributions") if isinstance(used, dict) else None,
                 lost="terminated by SIGTERM" if result.get("terminated") and not ok else None)


class Executor(ABC):
    """How trials execute and stop on one backend."""

    #: trials live at once
    capacity: int = 1
    #: seconds between polls while nothing happens
    poll_interval: float = 0.1
    #: does :meth:`start` queue the trial (PENDING until a :class:`Started`) or run it at once?
    queues: bool = False
    #: a program objective runs in ``<trial folder>/program`` (the folder holds the executor's
    #: own logs of the trial, as a Slurm job's stdout.log) instead of the trial folder itself
    program_subdir: bool = False
    #: the study must hold every started trial before :meth:`flush` sends them off (a driver
    #: killed in between finds them on resume, with what is needed to look them up)
    records_before_flush: bool = False
    #: :meth:`start_many` starts the trials the loop starts together in one request (a Slurm job
    #: array); without it the loop calls :meth:`start` once per trial
    starts_together: bool = False

    @abstractmethod
    def start(self, run: TrialRun) -> Dict[str, Any]:
        """Start (or queue) ``run``; returns store columns to record (e.g. ``job_id``).
        Raises :class:`BackendError` when the trial cannot be started."""

    def start_many(self, runs: List[TrialRun]) -> List[Dict[str, Any]]:
        """Start ``runs`` together (only where :attr:`starts_together`); one dict of store columns per run,
        in order. All or nothing: raises :class:`BackendError` with none of them started."""
        raise NotImplementedError

    @abstractmethod
    def poll(self) -> Iterable[Event]:
        """What happened to the live trials since the last poll."""

    @abstractmethod
    def cancel(self, uids: List[str], why: str, hurry: bool = False) -> Iterable[Ended]:
        """Stop the live trials ``uids``; returns the :class:`Ended` of those that ended now
        (the rest end through :meth:`poll`). ``hurry``: do not wait, they end now."""

    def flush(self) -> Iterable[Event]:
        """The loop asked for all it can now: send off what :meth:`start` held back (trials
        that travel in batches); returns what happened (e.g. :class:`Queued`)."""
        return ()

    def adopt(self, run: TrialRun, fields: Dict[str, Any]) -> None:
        """Follow ``run``, started by a run that died (``fields``: see
        :class:`~hpogrid.engine.resume.Adopted`); only for backends whose ``adopt_orphans`` names any."""
        raise NotImplementedError

    def close(self) -> None:
        """The run is over (every trial ended)."""

    def exclude_node(self, node: str) -> None:
        """Later trials of the run must not run on ``node`` (a failure rule's ``exclude_node``);
        backends without nodes to choose ignore it."""

    def wait(self, control: RunControl) -> None:
        """Wait until something may have happened: at most :attr:`poll_interval`, less when the
        run control changes (executors that can be woken by their trials override this)."""
        control.wait(self.poll_interval)


class AskTellBackend(Backend):
    """A backend whose trials an :class:`Executor` runs (see the module docstring)."""

    native_search = True

    @abstractmethod
    def executor(self, run: Run, run_dir: Path) -> Executor:
        """This run's executor (``run_dir``: the run's own files)."""

    def run_dir(self, run: Run, tag: str) -> Path:
        """The run's own files (logs, job scripts): the hpo_config log_dir, ``<backend>/<study>-<tag>``."""
        return run.plan.spec.log_path(run.project.path) / self.name / f"{run.study}-{tag}"

    def execute(self, run: Run) -> Optional[str]:
        from hpogrid.search.asktell import AskTell

        plan, workload = run.plan, run.workload
        tag = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        run_dir = self.run_dir(run, tag)
        run_dir.mkdir(parents=True, exist_ok=True)
        asktell = AskTell(plan.searcher, plan.codec, plan.spec.metric, plan.spec.mode,
                          space_given=workload.space_in_searcher, objectives=plan.spec.objectives)
        asktell.told = workload.told + workload.warm_told  # learnt before the run (resume, warm start)
        loop = _Loop(run, asktell, self.executor(run, run_dir), self.trials_root(run, run_dir), f"{self.name}-{tag}")
        loop.judge = Judge.for_run(self, run.plan, run.sink)
        loop.run()
        return str(run_dir)


@dataclass(frozen=True)
class _Starting:
    """A trial prepared by the loop (its folder written), not yet handed to the executor."""

    run: TrialRun
    since: Any      # the sink's clock when it was prepared (its cost counts from there)
    told: Optional[int]
    retry: bool


class _Loop:
    """One run of an :class:`AskTellBackend`: ``asktell`` asks and tells ``run.plan.searcher``,
    ``executor`` runs the trials, in folders ``trials_root/<uid>``; new trials are named
    ``<prefix>-NNNNN``."""

    def __init__(self, run: Run, asktell: AskTell, executor: Executor, trials_root: Path, prefix: str):
        self.project, self.plan, self.sink, self.control = run.project, run.plan, run.sink, run.control
        self.target, self.asktell, self.executor, self.prefix = run.target, asktell, executor, prefix
        self.trials_root = trials_root
        workload = run.workload
        self.reruns = list(workload.reruns)
        self.total = workload.total
        self.new_left = workload.new_trials
        self.asked = 0
        self.exhausted = False
        self.live: Dict[str, TrialRun] = {}
        for adopted in workload.adopted:  # a dead run's trials still running where we can follow them
            trial = TrialRun(adopted.uid, self.asked, adopted.values, self.trials_root / adopted.uid)
            self.executor.adopt(trial, adopted.fields)
            self.live[trial.uid] = trial
            self.sink.adopt(trial.uid, adopted.state)
            self.asktell.adopt(trial.uid, self.plan.codec.encode(adopted.values))
            self.asked += 1
        values_of = dict(workload.reruns)
        for uid in workload.enqueued:  # points the user enqueued: the searcher learns their results
            self.asktell.adopt(uid, self.plan.codec.encode(values_of[uid]))
        #: early stopping (set by the backend: :meth:`AskTellBackend.execute`)
        self.judge: Optional[Judge] = None
        self.retry = RetryPolicy.of(self.plan.spec)
        self.retries: Dict[str, int] = {}  # uid -> retries this run started
        #: uid -> bytes of its progress.jsonl when its attempt started (what follows: that attempt's reports)
        self.progress_at: Dict[str, int] = {}
        #: a trial retried in this run: uid -> (its curve so far, the running attempt's number)
        self.curves: Dict[str, tuple] = {}
        self._closing = False
        #: trials whose folder is written, waiting for :meth:`_launch` (together, where the executor batches)
        self._starting: List[_Starting] = []

    def run(self) -> None:
        try:
            while True:
                self._handle(self.executor.poll())
                if self.judge is not None:
                    self.judge.step(self.live)
                self.sink.tick()  # the stop rules that read the clock (timeout, max_cost)
                if self.control.stopping:
                    break
                if not self.control.ending:
                    self._fill()
                    if self.executor.records_before_flush:
                        self.sink.flush()
                    self._handle(self.executor.flush())
                if not self.live and (self.asked >= self.total or self.exhausted or self.control.ending):
                    break
                self.sink.show()
                self.executor.wait(self.control)
        finally:
            self._closing = True  # what ends from now on was cut short by the run: never retried
            try:
                if self.live and self.judge is not None:
                    self.judge.release(self.live)
                if self.live:
                    self._cancel_live()
            finally:
                self.executor.close()

    # -- asking and starting -------------------------------------------------------------
    def _fill(self) -> None:
        from hpogrid.search.asktell import FINISHED, Suggestion

        try:
            while len(self.live) + len(self._starting) < self.executor.capacity and self.asked < self.total \
                    and not self.exhausted and not self.control.ending:
                if self.reruns:  # the exact stored values, under the trial's own uid
                    uid, values = self.reruns.pop(0)
                    self._start(uid, values, None)
                    continue
                uid = f"{self.prefix}-{self.asked:05d}"
                answer = self.asktell.ask(uid)
                if answer is FINISHED:
                    self.exhausted = True
                    self.plan.notes.append(f"the search algorithm had no new configuration after {self.asked} trials")
                    return
                if not isinstance(answer, Suggestion):  # NOT_NOW: the searcher waits for results first
                    if not self.live and not self._starting:
                        self.control.abort("the search algorithm proposed no configuration while no trial was "
                                           "running")
                    return
                self._start(uid, json_safe(self.plan.codec.decode(answer.config)), answer.config,
                            told=self.asktell.told)
        finally:
            self._launch()  # what this fill started, together where the executor batches

    def _start(self, uid: str, values: Dict[str, Any], config: Optional[Dict[str, Any]],
               told: Optional[int] = None, retry: bool = False) -> None:
        from hpogrid.objective import Model, TrialSpec
        from hpogrid.objective.trial_folder import progress_size, write_spec

        spec = self.plan.spec
        # config None: a re-run of stored values (the searcher's latent config is not kept)
        trial = TrialSpec.build(
            Model.of(self.project), self.plan.codec, uid=uid, folder=self.trials_root / uid, latent=config,
            values=values, metric=spec.metric, metrics=spec.objectives.metrics, mode=spec.mode, stop=dict(spec.stop),
            study=self.target.name, program_subdir=self.executor.program_subdir)
        if self.judge is not None:
            trial = self.judge.starts(trial)
        folder = write_spec(trial)
        self.progress_at[uid] = progress_size(folder)
        run = TrialRun(uid, self.asked, values, folder)
        if not retry:  # a retry is the same trial: no new number
            self.asked += 1
        # (the clock is read before the trial can run: its cost counts from here)
        self._starting.append(_Starting(run, self.sink.now(), told, retry))

    def _launch(self) -> None:
        """Hand the trials :meth:`_start` prepared to the executor: all in one :meth:`Executor.start_many`
        where it batches (one Slurm job array), else one by one."""
        starting, self._starting = self._starting, []
        if self.executor.starts_together:
            groups = [starting] if starting else []
        else:
            groups = [[one] for one in starting]
        for group in groups:
            if self.control.ending:  # an earlier start failed and the run stops starting trials
                self._not_started(group, None)
                continue
            try:
                if self.executor.starts_together:
                    answers = self.executor.start_many([s.run for s in group])
                else:
                    answers = [self.executor.start(group[0].run)]
            except BackendError as exc:
                self._not_started(group, exc)
                continue
            for item, fields in zip(group, answers):
                self._started(item, fields)

    def _not_started(self, group: List[_Starting], exc: Optional[BackendError]) -> None:
        why = exc or "the run stopped starting trials"
        for item in group:
            uid = item.run.uid
            if item.retry:
                self.sink.finished(uid, FAILED, error=f"could not start the retry: {why}", folder=item.run.folder)
            self.asktell.tell(uid, None, ok=False)
        if exc is None or all(item.retry for item in group):
            return
        if not self.sink.uids:  # nothing ran yet: a configuration problem, say so at once
            raise exc
        self.control.abort(f"stopped starting trials: {exc}")

    def _started(self, item: _Starting, fields: Dict[str, Any]) -> None:
        run, uid, told = item.run, item.run.uid, item.told
        self.live[uid] = run
        # searcher_told: how many results the searcher had learnt from when it proposed this trial
        notes = {"trial_dir": str(run.folder), **({"searcher_told": told} if told is not None else {})}
        fields = {**fields, "annotations": {**notes, **(fields.get("annotations") or {})}}
        if self.executor.queues:
            self.sink.pending(uid, run.values, **fields)
        else:
            self.sink.running(uid, run.values, since=item.since, **fields)

    # -- what happened -------------------------------------------------------------------
    def _handle(self, events: Iterable[Event]) -> None:
        try:
            self._handle_each(events)
        finally:
            self._launch()  # the retries these events started

    def _handle_each(self, events: Iterable[Event]) -> None:
        for event in events:
            run = self.live.get(event.uid)
            if run is None:
                continue
            if isinstance(event, Started):
                self.sink.running(event.uid, **event.fields)
                continue
            if isinstance(event, Queued):
                self.sink.queued(event.uid, **event.fields)
                continue
            if isinstance(event, Requeued):
                self._requeued(run, event)
                continue
            if not self._closing and not self.control.ending and self._retried(run, event):
                continue
            del self.live[event.uid]
            fields = dict(event.fields)
            stopped = self.judge.ended(event.uid) if self.judge is not None else None
            if stopped:  # COMPLETED, with the rung or step it was stopped at
                fields["annotations"] = {**(fields.get("annotations") or {}), STOPPED_EARLY: stopped}
            if event.params is not None:  # define-by-run: what the model used (and how it asked)
                fields["params"] = json_safe(event.params)
                fields["annotations"] = {**(fields.get("annotations") or {}),
                                         DISTRIBUTIONS_ANNOTATION: event.distributions or {}}
            history = event.history
            if event.uid in self.curves:  # a retried trial: its earlier attempts' steps, then this one's
                from hpogrid.study.attempts import continued

                curve, number = self.curves.pop(event.uid)
                history = continued(curve, self._attempt_steps(run, event), number)
            state = self.sink.finished(event.uid, event.state, event.metrics, event.error, history=history,
                                       folder=run.folder, **fields)
            self.asktell.tell(event.uid, event.metrics, ok=state == COMPLETED, used=event.params,
                              distributions=event.distributions)

    def _retried(self, run: TrialRun, event: Ended) -> bool:
        """Record the attempt that ended as ``event`` (not COMPLETED) in the trial's annotations and
        run the trial again when the retry policy says so; True when it runs again."""
        from hpogrid.engine.outcome import error_summary
        from hpogrid.engine.retry import where_of
        from hpogrid.objective.trial_folder import clear_result
        from hpogrid.study.attempts import attempt_record
        from hpogrid.study.records import ATTEMPTS
        from hpogrid.trial import annotate_folder, read_annotations

        if event.state == COMPLETED:
            return False
        node = event.node or event.fields.get("host")
        decision = self.retry.decide(event, self.retries.get(run.uid, 0), run.folder, node)
        earlier = read_annotations(run.folder).get(ATTEMPTS)
        number = len(earlier) + 1 if isinstance(earlier, list) else 1
        reason = decision.reason if decision is not None else (
            event.lost or ("error" if event.state == FAILED else "interrupted"))
        record = attempt_record(number, reason, where_of(event, event.node), error_summary(event.error) or None,
                                final=decision is None)
        if decision is None:  # the trial ends with this attempt (recorded as every attempt that did not finish)
            annotate_folder(run.folder, ATTEMPTS, lambda old: (old if isinstance(old, list) else []) + [record])
            return False
        curve = self._lost_steps(run, event, record)
        annotate_folder(run.folder, ATTEMPTS, lambda old: (old if isinstance(old, list) else []) + [record])
        self.retries[run.uid] = self.retries.get(run.uid, 0) + 1
        if decision.exclude:
            self.executor.exclude_node(decision.exclude)
        self.sink.queued(run.uid, annotations={ATTEMPTS: read_annotations(run.folder).get(ATTEMPTS)})
        self.sink.continues(run.uid, curve, number + 1)
        if self.judge is not None:
            self.judge.ended(run.uid)
        del self.live[run.uid]
        clear_result(run.folder)
        self._start(run.uid, run.values, None, retry=True)
        return True

    def _requeued(self, run: TrialRun, event: Requeued) -> None:
        """The backend runs the trial again by itself: record the lost attempt (its steps too)
        as a retry would, and follow the new attempt from its first report on. It counts
        towards ``max_retries`` for the retries the engine decides later (the backend's own
        requeue is not the engine's to refuse)."""
        from hpogrid.objective.trial_folder import progress_size
        from hpogrid.study.attempts import attempt_record
        from hpogrid.study.records import ATTEMPTS, PENDING
        from hpogrid.trial import annotate_folder, read_annotations

        earlier = read_annotations(run.folder).get(ATTEMPTS)
        number = len(earlier) + 1 if isinstance(earlier, list) else 1
        lost = Ended(run.uid, INTERRUPTED, error=event.error, lost=event.reason, node=event.node)
        record = attempt_record(number, event.reason, {"node": event.node} if event.node else {}, event.error)
        curve = self._lost_steps(run, lost, record)
        # (what the new attempt reports follows; one that ran before this poll saw the job queued
        # again would have its first lines counted as the lost attempt's)
        self.progress_at[run.uid] = progress_size(run.folder)
        annotate_folder(run.folder, ATTEMPTS, lambda old: (old if isinstance(old, list) else []) + [record])
        self.retries[run.uid] = self.retries.get(run.uid, 0) + 1
        self.sink.queued(run.uid, state=PENDING, annotations={ATTEMPTS: read_annotations(run.folder).get(ATTEMPTS)})
        self.sink.continues(run.uid, curve, number + 1)
        if self.judge is not None:
            self.judge.restarted(run.uid, run.folder)

    def _lost_steps(self, run: TrialRun, event: Ended, record: Dict[str, Any]) -> List[Dict[str, Any]]:
        """The lost attempt ``record`` (its number: ``record["attempt"]``) keeps what it reported,
        also the steps the next attempt does again; returns the trial's curve so far, which the
        next attempt continues (:func:`~hpogrid.study.attempts.continued`)."""
        from hpogrid.study.attempts import continued

        steps = self._attempt_steps(run, event)
        if steps:
            record["intermediate"] = steps
        number = record["attempt"]
        curve = continued(self.curves.get(run.uid, ([], number))[0], steps, number)
        self.curves[run.uid] = (curve, number + 1)
        return curve

    def _attempt_steps(self, run: TrialRun, event: Ended) -> List[Dict[str, Any]]:
        """What the attempt that ended as ``event`` reported: its lines of progress.jsonl (a
        process that died wrote no result), else the history it ended with."""
        from hpogrid.objective.trial_folder import read_progress

        return read_progress(run.folder, self.progress_at.get(run.uid, 0)) or list(event.history or [])

    def _cancel_live(self) -> None:
        why = self.control.why_stopped
        self._handle(self.executor.cancel(list(self.live), why, hurry=self.control.hurry))
        deadline = time.monotonic() + CANCEL_WAIT_S
        while self.live and not self.control.hurry and time.monotonic() < deadline:
            self._handle(self.executor.poll())
            if self.live:
                time.sleep(0.1)
        if self.live:  # gave up waiting: they were cut short all the same
            self._handle(self.executor.cancel(list(self.live), why, hurry=True))
        for uid in list(self.live):
            self._handle([Ended(uid, INTERRUPTED, error=why)])
