"""The run engine: one template method that every backend shares.

:meth:`Backend.run` owns the trial lifecycle of a run - resolve the search, locate and open
the study, settle it (mark dead runs, or resume from a backup), drive the trials through the
one :class:`~hpogrid.engine.sink.TrialSink` under one :class:`~hpogrid.engine.control.RunControl`
(signals, ``max_failures``), and summarise. A backend supplies only how trials execute and
stop (:meth:`Backend.execute`) and, where it needs them, checks before anything starts
(:meth:`Backend.prepare`) and what a dead run left behind (:meth:`Backend.settle_orphans`).
Each of those hooks is handed the one :class:`~hpogrid.engine.run.Run` of the run (project,
options, settings, study, search plan; store, workload, sink and control once they exist).
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ClassVar, Dict, List, Optional

from hpogrid.engine.budget import Budget
from hpogrid.engine.control import RunControl
from hpogrid.engine.options import RunOptions, RunSummary
from hpogrid.engine.outcome import error_summary
from hpogrid.engine.plan import SearchPlan, check_model, plan_search
from hpogrid.engine.resume import Adopted, Workload, continued_seed, prepare_resume
from hpogrid.engine.run import Run
from hpogrid.engine.sink import TrialSink
from hpogrid.errors import BackendError
from hpogrid.study import StudyTarget
from hpogrid.study.records import STATES

if TYPE_CHECKING:
    from hpogrid.project import Project


class Backend(ABC):
    """Where trials run. Subclasses set ``name`` and implement :meth:`execute`."""

    #: the name users choose it by (``workflow.json`` "backend", the registry)
    name: ClassVar[str]
    #: what the study's ``backend`` column says for its trials
    label: ClassVar[str] = ""
    #: one line for ``--help`` and the README
    summary: ClassVar[str] = ""
    #: drive searchers through their own ask/tell where hpogrid has one (never import Ray)
    native_search: ClassVar[bool] = False
    #: Ctrl-C drains (no new trial; running ones are followed to their end) and a second one
    #: stops them, for trials that run elsewhere on their own (grid tasks)
    interrupt_drains: ClassVar[bool] = False
    #: the engine's early-stopping schedulers (:mod:`hpogrid.engine.early_stop`) judge this
    #: backend's trials (each report reaches the engine and the trial awaits its decision)
    early_stopping: ClassVar[bool] = False

    # -- the template ------------------------------------------------------------------------
    def run(self, project: Project, options: Optional[RunOptions] = None) -> RunSummary:
        """Run the project's HPO; every trial lands in the study store."""
        options = options or RunOptions()
        started = time.monotonic()
        clock = options.clock or time.monotonic  # what the stop rules read (tests inject one)
        clock_started = clock()
        self.warm_up(project, options)
        settings = options.resolved_settings()
        target = StudyTarget.resolve(project, options.study, options.study_url, settings)
        options, seed_note = continued_seed(options, target)
        plan = plan_search(project, options, self.scheduler(project), native=self.native_search)
        plan.notes += seed_note
        run = Run(project, options, settings, target, plan)
        self.prepare(run)
        warm = None
        if options.warm_start and options.points is None:  # checked before the study is touched
            from hpogrid.engine.warm import WarmStart

            warm = WarmStart.load(options.warm_start, target, settings, plan)
        run.store = target.open_for_run(plan.spec.objectives,
                                        {"project": project.name, "content_hash": project.content_hash,
                                         "search_space": project.search_space})
        try:
            run.workload = workload = self.settle(run)
            if warm is not None:
                warm.tell(plan, workload)
            if options.points is None:
                self._take_enqueued(run)
            plan.notes += workload.notes
            run.control = control = RunControl(interrupt_drains=self.interrupt_drains)
            budget = self._budget(run, clock, clock_started)
            run.sink = sink = TrialSink(run.store, target.name, plan.spec, control, workload.total,
                                        backend=self.label_for(options), heartbeat_s=settings.heartbeat_s,
                                        progress=options.progress, budget=budget)
            sink.tick()  # a budget the study used up already starts nothing
            with control.signals():
                try:
                    run_dir = self.execute(run)
                finally:
                    sink.close()
            self._note_rejections(plan)
            if control.abort_reason:
                last = error_summary(sink.last_error)
                raise BackendError(f"{control.abort_reason}" + (f"; last error: {last}" if last else "")
                                   + f"; finished trials are kept in study {target.name!r}")
            return self._summary(run, time.monotonic() - started, run_dir)
        finally:
            run.store.close()

    def _summary(self, run: Run, seconds: float, run_dir: Optional[str]) -> RunSummary:
        """This run's trials and the whole study's, by state."""
        counts: Dict[str, int] = dict.fromkeys(STATES, 0)
        for t in run.store.trials(run.study, uids=run.sink.uids):  # this run's only, not the whole study
            counts[t.state] = counts.get(t.state, 0) + 1
        study_counts: Dict[str, int] = {**dict.fromkeys(STATES, 0), **run.store.counts(run.study)}
        return RunSummary(study=run.study, store_url=run.target.url, algorithm=run.plan.algorithm,
                          scheduler=self.scheduler_label(run), counts=counts, study_counts=study_counts,
                          backend=self.name, interrupted=run.control.interrupted, notes=run.plan.notes,
                          seconds=seconds, run_dir=run_dir, stopped_by=run.control.rule,
                          stop_reason=run.control.rule_reason)

    def _budget(self, run: Run, clock: Callable[[], float], started: float) -> Optional[Budget]:
        """The run's stop rules, starting from what the study holds (None: the run has none)."""
        rules = run.plan.spec.rules
        if not rules.active or run.options.points is not None:  # (a grid job of a central search: the driver's)
            return None
        budget = Budget(rules, run.plan.spec.objectives, run.control, self.trial_resources(run), clock, started)
        budget.load(run.store.trials(run.study))
        run.plan.notes.append("stop rules: " + "; ".join(rules.describe()))
        return budget

    @staticmethod
    def _note_rejections(plan: SearchPlan) -> None:
        """How many proposals the search_space constraints kept from running (they are never trials)."""
        if plan.space is None or not plan.space.constraints:
            return
        from hpogrid.search import rejected

        n = rejected(plan.searcher)
        if n:
            plan.notes.append(f"search_space constraints: {n} proposal(s) of the searcher broke one and were not run")

    def settle(self, run: Run) -> Workload:
        """What this run has to do, after settling what earlier runs left."""
        options, plan = run.options, run.plan
        if options.points is not None:  # given points, nothing asked (a central search's grid job)
            return Workload(new_trials=0, reruns=[(uid, dict(values)) for uid, values in options.points])
        if options.resume:
            return prepare_resume(run.store, run.study, plan, options.resume_request(),
                                  settle=self.settle_orphans(run), adopt=self.adopt_orphans(run))
        from hpogrid.study.liveness import mark_dead_runs

        n = mark_dead_runs(run.store, run.study, run.settings.stale_after_s)
        notes = [f"{n} trial(s) of a run that stopped sending heartbeats marked interrupted; "
                 "re-run them with --resume"] if n else []
        return Workload(new_trials=plan.total, notes=notes)

    def _take_enqueued(self, run: Run) -> None:
        """Points the user enqueued run first and count towards the trials. They are in the study
        (PENDING) before anything runs, so a run that dies leaves them for ``--resume``."""
        import secrets

        from hpogrid.project import take_enqueued

        points = take_enqueued(run.project.path)
        if not points:
            return
        tag = secrets.token_hex(3)
        first = [(f"enqueued-{tag}-{i:03d}", dict(values)) for i, values in enumerate(points)]
        for uid, values in first:
            run.store.upsert_trial(run.study, uid, state="PENDING", params=values,
                                   backend=self.label_for(run.options), annotations={"enqueued": True})
        workload = run.workload
        workload.reruns = first + workload.reruns
        workload.enqueued = [uid for uid, _ in first]
        workload.new_trials = max(0, workload.new_trials - len(first))
        workload.notes.append(f"{len(first)} enqueued point(s) run first")

    # -- what a backend supplies --------------------------------------------------------------
    def warm_up(self, project: Project, options: RunOptions) -> None:
        """Start what takes long to start (worker processes) while the run is planned."""

    def trials_root(self, run: Run, run_dir: Optional[Path] = None) -> Path:
        """Where trial folders go (``<root>/<uid>``): ``projects/NAME/trials/STUDY/``, so a resumed
        re-run finds its folder (and its checkpoints) again. ``run_dir``: the run's own files."""
        return run.project.path / "trials" / run.study

    def scheduler(self, project: Project) -> str:
        """The trial scheduler this backend runs ('auto' chooses with it)."""
        return "fifo"

    def scheduler_label(self, run: Run) -> str:
        return run.plan.spec.scheduler if self.applies_scheduler(run.plan.spec) else "fifo"

    def applies_scheduler(self, spec) -> bool:
        """Does this backend act on the scheduler of a run with ``spec`` (a ``RunSpec``)?"""
        from hpogrid.engine.early_stop import applies

        return self.early_stopping and applies(spec)

    def label_for(self, options: RunOptions) -> str:
        return self.label or self.name

    def trial_resources(self, run: Run) -> Dict[str, float]:
        """What one trial holds, for ``max_cost`` (``{"cpu": n, "gpu": m}``): the hpo_config
        ``resource`` (a backend whose trials get something else says so)."""
        resource = run.plan.spec.resource
        return {"cpu": float(resource.get("cpu") or 1.0), "gpu": float(resource.get("gpu") or 0.0)}

    def prepare(self, run: Run) -> None:
        """Checks before the study is opened (default: the model imports)."""
        plan = run.plan
        check_model(run.project, plan.space)
        scheduler = plan.spec.scheduler
        one_result = dict(plan.spec.stop) == {"training_iteration": 1}  # a scheduler would have nothing to act on
        if scheduler not in ("fifo", self.scheduler(run.project)) and not one_result \
                and not self.applies_scheduler(plan.spec):
            plan.notes.append(f"scheduler '{scheduler}' is not applied by the {self.name} backend: each trial "
                              "runs until its stop criteria")

    def settle_orphans(self, run: Run) -> Optional[Callable[[], List[str]]]:
        """On --resume: a callable recording what a dead run's trials did meanwhile (None: nothing)."""
        return None

    def adopt_orphans(self, run: Run) -> Optional[Callable[[], List[Adopted]]]:
        """On --resume, after :meth:`settle_orphans`: a callable naming the dead run's trials that
        still run where this backend can follow them (a grid task), so this run takes them over
        instead of running them again (None: a backend that cannot)."""
        return None

    @abstractmethod
    def execute(self, run: Run) -> Optional[str]:
        """Run ``run.workload`` (re-runs first, then new trials from ``run.plan.searcher``),
        reporting every trial to ``run.sink`` and obeying ``run.control``; returns the folder
        of this run's files, if any."""
