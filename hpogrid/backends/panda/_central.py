"""One search across the grid: ``hpogrid run PROJECT --search central``.

This process is the driver (run it in tmux/screen or as a batch job): it asks the project's
searcher for points and sends each wave of them (what it could ask for at once: ``n_jobs`` x
``trials_per_job`` points at the start, then those freed by the jobs that ended since) to the
grid as ONE PanDA task of one job per ``trials_per_job`` points. The points travel in the task's
sandbox, each with the index of its job (``grid_job --job %RNDM:0``: JEDI gives job k the
number k, and a retried job keeps it), so a retried job evaluates the same points and no job
contacts the driver. It keeps ``n_jobs`` jobs in flight and tells each result to the searcher as
its job ends, until ``trials`` trials are done. A poll costs the same three requests however
many tasks and jobs are open (the PandaIDs of the tasks, the records of the jobs not yet seen
ended, the tasks' states). The engine does the asking, telling and recording
(:class:`~hpogrid.engine.AskTellBackend`); :class:`PandaExecutor` only submits, follows and
kills tasks.

Every point is in the study before its task is submitted (PENDING, with the task name), so a
driver killed at any moment is taken over by ``--resume``: tasks PanDA has are followed (never
submitted again), finished ones recorded, points never submitted run anew.

What the points kept (:func:`hpogrid.trial.save_artifact`) comes home too: as a task ends, the
driver fetches its job's trial archive from Rucio into the points' trial folders (keeping a
file only if its SHA-256 is the one the job recorded, see :mod:`._artifacts`); Rucio out of
reach is a note, tried again while the search runs, and ``hpogrid report`` fetches the rest.
"""
from __future__ import annotations

import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

from hpogrid.backends.panda import _outcome
from hpogrid.backends.panda._outcome import TASK_JOB
from hpogrid.backends.panda._records import Submission, load_submissions, record_submission
from hpogrid.backends.panda._states import ENDED_JOB_STATES
from hpogrid.backends.panda.options import CentralOptions
from hpogrid.engine import (Adopted, AskTellBackend, Ended, Event, Executor, Queued, Run, RunControl,
                            TrialRun)
from hpogrid.errors import GridError, ValidationError
from hpogrid.study.records import INTERRUPTED

if TYPE_CHECKING:
    from hpogrid.grid.panda import PandaGateway
    from hpogrid.project import Project


#: seconds between the driver's tries to fetch the artifacts of an ended task while Rucio is out of reach
FETCH_RETRY_S = 60.0


@dataclass
class _Batch:
    """The points of one wave, the name of the task that carries them, and uid -> the index of
    the task's job that evaluates each."""

    name: str
    runs: List[TrialRun]
    jobs: Dict[str, int]


class CentralGridBackend(AskTellBackend):
    name = "grid"
    label = "panda"
    summary = "one search across PanDA grid jobs: this process asks, jobs evaluate points"
    interrupt_drains = True

    def prepare(self, run: Run) -> None:
        super().prepare(run)
        project = run.project
        per_job = CentralOptions.of(run.options).trials_per_job
        if per_job < 1:
            raise ValidationError("--trials_per_job", f"must be at least 1, got {per_job}")
        from hpogrid.grid.panda import PandaGateway

        task_base(project)  # RUCIO_ACCOUNT and the outDS, before the study is opened
        PandaGateway().check_configuration()

    def trial_resources(self, run: Run) -> Dict[str, float]:
        """A grid job holds grid_config ``extra.coreCount`` cores (default 1) and one GPU when its
        architecture asks for a GPU queue (the default); its points share them (each is charged
        the job's time divided by ``--trials_per_job``)."""
        from hpogrid.grid.panda import DEFAULT_ARCHITECTURE

        options = CentralOptions.of(run.options)
        extra = (run.project.grid_config or {}).get("extra") or {}
        cores = extra.get("coreCount")
        cores = float(cores) if isinstance(cores, (int, float)) and not isinstance(cores, bool) and cores > 0 else 1.0
        architecture = DEFAULT_ARCHITECTURE if options.architecture is None else options.architecture
        gpus = 1.0 if "&" in architecture else 0.0
        per_job = max(1, options.trials_per_job)
        return {"cpu": cores / per_job, "gpu": gpus / per_job}

    #: the budget of the wave running now (a multi-fidelity search): it goes with the points
    wave_stop: Optional[Dict[str, Any]] = None

    def executor(self, run: Run, run_dir: Path) -> Executor:
        # the engine names a run's folder <study>-<tag> and the points it asks <backend>-<tag>-NNNNN
        tag = run_dir.name[len(run.study) + 1:] if run_dir.name.startswith(f"{run.study}-") else ""
        return PandaExecutor(run, stop=self.wave_stop, fresh=f"{self.name}-{tag}-" if tag else None)

    def applies_scheduler(self, spec) -> bool:
        from hpogrid.backends.panda._waves import WavePlan

        return WavePlan.of(spec) is not None

    def execute(self, run: Run) -> Optional[str]:
        from hpogrid.backends.panda._waves import WavePlan

        waves = WavePlan.of(run.plan.spec)
        return super().execute(run) if waves is None else self._execute_waves(run, waves)

    def _execute_waves(self, run: Run, waves) -> Optional[str]:
        """Successive halving in waves (:mod:`._waves`): each wave is one ask/tell loop over grid
        tasks whose points carry the rung's budget; the next wave re-runs the promoted points."""
        from hpogrid.engine import Workload

        plan, store, study = run.plan, run.store, run.study
        first: Optional[str] = None
        try:
            for rung in range(len(waves.budgets)):
                curves: Dict[str, List[Dict[str, Any]]] = {}
                if rung:
                    if run.control.ending:
                        break
                    todo = waves.next_wave(store, study, rung)
                    if not todo:
                        continue
                    curves = {r.uid: list(r.intermediate or []) for r in todo}
                    run.workload = Workload(new_trials=0, reruns=[(r.uid, dict(r.params)) for r in todo],
                                            space_in_searcher=True)
                self.wave_stop = waves.stop(rung, plan.spec.stop)
                run.plan = replace(plan, spec=replace(plan.spec, stop=self.wave_stop))
                out = super().execute(run)
                first = first or out
                run.sink.flush()
                waves.ended(store, study, list(curves) if rung else list(run.sink.uids), rung, curves)
        finally:
            run.plan, self.wave_stop = plan, None
        plan.notes.append(waves.summary(store.trials(study)))
        return first

    def adopt_orphans(self, run: Run) -> Optional[Callable[[], List[Adopted]]]:
        from hpogrid.backends.panda._takeover import take_over

        store, study, objectives, path = run.store, run.study, run.plan.spec.objectives, run.project.path
        return lambda: take_over(store, study, objectives, path)


def task_base(project: Project) -> str:
    """The task names of this run, ``<outDS>.<token>.cNNNN``: the token of the run keeps them from
    repeating an earlier run's whatever the outDS template (resume looks tasks up by name)."""
    from hpogrid.backends.panda._submit import CONTAINER_LIMIT, output_containers, resolve_out_ds
    from hpogrid.configs import get_kind

    grid = project.configs.get("grid_config") or get_kind("grid_config").validate({})
    base = f"{resolve_out_ds(grid['outDS'], project.name, datetime.now(timezone.utc))}.{secrets.token_hex(3)}"
    longest = max(output_containers(f"{base}.c9999"), key=len)
    if len(longest) > CONTAINER_LIMIT:
        raise ValidationError("grid_config.outDS", f"too long for a central search: its tasks' output containers "
                              f"(e.g. {longest!r}) would exceed Rucio's {CONTAINER_LIMIT} characters; shorten it")
    return base


class PandaExecutor(Executor):
    queues = True
    records_before_flush = True

    def __init__(self, run: Run, gateway: Optional[PandaGateway] = None, stop: Optional[Dict[str, Any]] = None,
                 fresh: Optional[str] = None):
        """Grid jobs of ``run`` (its options and study); ``gateway``: PanDA (tests give a fake one);
        ``stop``: the budget of every point (a wave of a multi-fidelity search); ``fresh``: the
        prefix of the uids of points this run asks (new: no history to look up)."""
        from hpogrid.configs import get_kind
        from hpogrid.grid.panda import PandaGateway

        project = run.project
        self.project, self.options, self.study = project, CentralOptions.of(run.options), run.study
        self.poll_interval = run.settings.grid_poll_s
        self.per_job = self.options.trials_per_job
        self.capacity = (self.options.n_jobs or 1) * self.per_job
        self.gateway = gateway or PandaGateway()
        self.stop = stop
        self.grid = project.configs.get("grid_config") or get_kind("grid_config").validate({})
        self.base = task_base(project)
        self.batches = 0
        self.open: Optional[_Batch] = None              # started trials waiting for the next flush
        #: task id -> job index (None: unknown, a task of one job) -> the uids that job evaluates
        self.tasks: Dict[int, Dict[Optional[int], List[str]]] = {}
        #: PandaID -> the record of an ended job of an open task (not asked from PanDA again)
        self.ended_jobs: Dict[int, dict] = {}
        self.since: Dict[int, datetime] = {}            # task id -> submitted (bounds PanDA's listing)
        self.running: Set[str] = set()
        self.subs: Dict[int, Submission] = {}          # task id -> its record (where its outputs are)
        #: (task id, PandaID) -> an ended job whose artifacts are not fetched yet
        self.unfetched: Dict[Tuple[int, int], dict] = {}
        self.last_fetch = 0.0
        self.last_poll = 0.0
        self.told_drain = False
        self.notes: List[str] = []
        self.store = getattr(run, "store", None)  # (set once the study is open)
        #: uid -> the trials container of the earlier task that ran the point (its checkpoint)
        self.earlier: Dict[str, str] = {}
        #: uid -> (the name of a dead driver's task meant to carry the point that PanDA did not have
        #: at take-over, the index of its job there): its submission may still have been under way,
        #: so it is looked up again before submitting
        self.intents: Dict[str, Tuple[str, Optional[int]]] = {}
        self.fresh = fresh
        self.sent: Dict[str, str] = {}  # uid -> the name of the task this driver sent it in

    # -- starting ---------------------------------------------------------------------------
    def _name(self, batch: int) -> str:
        return f"{self.base}.c{batch:04d}"

    def start(self, run: TrialRun) -> Dict[str, Any]:
        self._history(run.uid)
        if self.open is None:
            self.batches += 1
            self.open = _Batch(self._name(self.batches), [], {})
        index = len(self.open.runs) // self.per_job + 1
        self.open.runs.append(run)
        self.open.jobs[run.uid] = index
        return {"annotations": {"taskname": self.open.name, TASK_JOB: index}}

    def _history(self, uid: str) -> None:
        """Where point ``uid`` was sent before: the trials container of the task that ran it (a
        promoted point, a resumed one, a retry: where its checkpoint is) into :attr:`earlier`, or
        the task name (and job index) a dead driver gave it without a task id (take-over did not
        find the task) into :attr:`intents`. A point asked in this run has no history: the study
        is not asked about it (a lookup per point was most of the driver's time per trial)."""
        from hpogrid.backends.panda._job import TRIALS_ARCHIVE
        from hpogrid.errors import NotFoundError

        if uid in self.sent:  # (an engine retry of a point this driver submitted)
            self.earlier[uid] = f"{self.sent[uid]}_{TRIALS_ARCHIVE}/"
            return
        if self.store is None or (self.fresh is not None and uid.startswith(self.fresh)):
            return
        try:
            row = self.store.trial(self.study, uid)
        except NotFoundError:
            return
        notes = row.annotations or {}
        name, index = notes.get("taskname"), notes.get(TASK_JOB)
        if not isinstance(name, str) or not name:
            return
        if row.task_id:
            self.earlier[uid] = f"{name}_{TRIALS_ARCHIVE}/"
        else:
            self.intents[uid] = (name, index if isinstance(index, int) else None)

    def _late_tasks(self, batch: _Batch) -> List[Queued]:
        """Follow, instead of submitting them again, the points of ``batch`` whose dead driver's task
        PanDA created after take-over looked for it (the driver was killed with the request in
        flight); they leave the batch."""
        from hpogrid.backends.panda._submit import _site
        from hpogrid.backends.panda._takeover import find_task

        intents = {r.uid: self.intents.pop(r.uid, None) for r in batch.runs}
        names = {intent[0] for intent in intents.values() if intent}
        if not names:
            return []
        try:
            found = {name: find_task(self.gateway, name) for name in sorted(names)}
        except GridError:  # PanDA out of reach: the submission below fails the same way
            return []
        events: List[Queued] = []
        for name, task_id in found.items():
            if task_id is None:
                continue
            uids = [r.uid for r in batch.runs if (intents[r.uid] or ("",))[0] == name]
            index_of = {uid: intents[uid][1] for uid in uids}  # type: ignore[index]
            known = self.subs.get(task_id)
            jobs = {**(known.extra.get("jobs") or {} if known else {}),
                    **{u: i for u, i in index_of.items() if i is not None}}
            sub = Submission(task_id=task_id, taskname=name, out_ds=name, n_jobs=max(jobs.values(), default=1),
                             submitted_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                             site=_site(self.grid, self.options.site), container=self.grid.get("container"),
                             in_ds=self.grid.get("inDS"), extra={"central": True, "study": self.study,
                                                                 "uids": (known.extra["uids"] if known else []) + uids,
                                                                 "jobs": jobs})
            record_submission(self.project.path, sub)
            self.subs[task_id] = sub
            groups = self.tasks.setdefault(task_id, {})
            for uid in uids:
                groups.setdefault(index_of[uid], []).append(uid)
            self.since[task_id] = datetime.now(timezone.utc) - timedelta(days=1)
            self.sent.update({uid: name for uid in uids})
            batch.runs = [r for r in batch.runs if r.uid not in uids]
            events += [Queued(uid, {"task_id": str(task_id), "annotations": {"taskname": name,
                                                                             TASK_JOB: index_of[uid]}})
                       for uid in uids]
        if events:  # the points left keep their jobs in order, without a job of none
            batch.jobs = {r.uid: i // self.per_job + 1 for i, r in enumerate(batch.runs)}
        return events

    def flush(self) -> Iterable[Queued]:
        """Submit the wave started since the last flush as one task (the loop cannot ask more now)."""
        batch, self.open = self.open, None
        if batch is None:
            return []
        events: List[Queued] = self._late_tasks(batch)
        if batch.runs:
            events += self._submit(batch)
        return events

    def _submit(self, batch: _Batch) -> List[Queued]:
        from hpogrid.backends.panda._job import OUTPUTS
        from hpogrid.backends.panda._sandbox import job_command, pack_project
        from hpogrid.backends.panda._submit import RETRY_ATTEMPTS, _site, _submission
        from hpogrid.grid.panda import TaskSpec

        with tempfile.TemporaryDirectory(prefix="hpogrid-sandbox-") as tmp:
            sandbox = pack_project(self.project, Path(tmp), points=[(r.uid, r.values) for r in batch.runs],
                                   stop=self.stop, out_ds=batch.name, jobs=batch.jobs,
                                   checkpoints={r.uid: self.earlier[r.uid] for r in batch.runs if r.uid in self.earlier})
            # job k of the task (JEDI's serial number k, kept by a retry) evaluates the points of index k
            command = job_command(self.grid.get("container"), "grid_job", self.project.name, "--job", "%RNDM:0")
            spec = TaskSpec(taskname=batch.name, exec_args=command, sandbox=sandbox,
                            n_jobs=max(batch.jobs.values()), out_ds=batch.name, outputs=OUTPUTS,
                            container=self.grid.get("container"),
                            site=_site(self.grid, self.options.site),
                            in_ds=self.grid.get("inDS"), max_attempt=RETRY_ATTEMPTS if self.grid.get("retry") else 1,
                            architecture=self.options.architecture,
                            extra=tuple((self.grid.get("extra") or {}).items()))
            task_id = int(self.gateway.submit(spec))
        uids = [r.uid for r in batch.runs]
        self.sent.update({uid: batch.name for uid in uids})
        sub = _submission(spec, task_id)
        sub = replace(sub, extra={"central": True, "study": self.study, "uids": uids, "jobs": dict(batch.jobs)})
        record_submission(self.project.path, sub)
        self.subs[task_id] = sub
        self.tasks[task_id] = _outcome.group_uids(uids, dict(batch.jobs))
        self.since[task_id] = datetime.now(timezone.utc) - timedelta(minutes=5)
        return [Queued(uid, {"task_id": str(task_id), "annotations": {TASK_JOB: batch.jobs[uid]}}) for uid in uids]

    # -- following --------------------------------------------------------------------------
    def adopt(self, run: TrialRun, fields: Dict[str, Any]) -> None:
        task_id = int(fields["task_id"])
        self.tasks.setdefault(task_id, {}).setdefault(fields.get("job"), []).append(run.uid)
        self.since[task_id] = fields.get("since") or datetime.now(timezone.utc) - timedelta(days=30)

    def poll(self) -> Iterable[Event]:
        if not self.tasks or time.monotonic() - self.last_poll < self.poll_interval:
            return []
        self.last_poll = time.monotonic()
        try:
            jobs = self.gateway.jobs_of_tasks(list(self.tasks), min(self.since[t] for t in self.tasks),
                                              known=self.ended_jobs)
            statuses = {int(t["jeditaskid"]): str(t.get("status", "")).lower() for t in self.gateway.list_tasks(
                id_range=(min(self.tasks), max(self.tasks)), days=None, limit=max(1000, 2 * len(self.tasks)))}
        except GridError as exc:  # PanDA unreachable for a while: the tasks run on; ask again later
            self._note(f"PanDA did not answer ({exc}); asking again in {self.poll_interval:g} s")
            return []
        events: List[Event] = []
        trials_root = self.project.path / "trials" / self.study
        archives: Dict[int, List[Path]] = {}  # task id -> its trial archives, downloaded once per poll
        # (after PanDA's answer: a job it shows ended has its outputs in Rucio by then)
        retry = list(self.unfetched.items()) if time.monotonic() - self.last_fetch >= FETCH_RETRY_S else []
        for (task_id, _), over_job in retry:
            self._fetch(task_id, over_job, archives)
        for task_id, groups in list(self.tasks.items()):
            task_jobs = jobs.get(task_id, [])
            for record in task_jobs:
                if str(record.get("jobstatus", "")).lower() in ENDED_JOB_STATES:
                    self.ended_jobs[int(record["pandaid"])] = record
            for index, last, over in _outcome.task_ended(task_jobs, groups, statuses.get(task_id, ""), trials_root):
                events += over
                self.running.difference_update(groups.pop(index))
                if last is not None:
                    self._fetch(task_id, last, archives)
            if not groups:
                del self.tasks[task_id]
                for record in task_jobs:
                    self.ended_jobs.pop(int(record["pandaid"]), None)
                continue
            grouped = _outcome.by_job(task_jobs)
            for index, uids in groups.items():
                latest = _outcome.latest_job(_outcome.jobs_of(grouped, index))
                for event in _outcome.started(latest, [u for u in uids if u not in self.running]):
                    self.running.add(event.uid)
                    events.append(event)
        return events

    def _fetch(self, task_id: int, job: dict, archives: Optional[Dict[int, List[Path]]] = None) -> None:
        """Bring the artifacts of the ended ``job`` of ``task_id`` into its points' folders (once
        per job; again at a later poll while Rucio is out of reach); ``archives``: the task's
        trial archives already downloaded in this poll."""
        from hpogrid.backends.panda._artifacts import fetch_artifacts

        self.last_fetch = time.monotonic()
        sub = self.subs.get(task_id) or next((s for s in load_submissions(self.project.path)
                                              if s.task_id == task_id), None)
        key = (task_id, int(job.get("pandaid") or 0))
        if sub is None:  # (a driver killed between submitting and recording: 'report' has no record either)
            self.unfetched.pop(key, None)
            return
        self.subs[task_id] = sub
        notes: List[str] = []
        if fetch_artifacts(sub, job, self.project.path, self.study, notes, cache=archives):
            self.unfetched.pop(key, None)
        else:
            self.unfetched[key] = job
        for line in notes:
            self._note(line)

    def close(self) -> None:
        if self.unfetched:
            ids = ", ".join(str(t) for t in sorted({task for task, _ in self.unfetched}))
            self._note(f"the artifacts of grid task(s) {ids} are not here yet: 'hpogrid report {self.project.name}' "
                       "fetches them")

    def wait(self, control: RunControl) -> None:
        if control.draining and not control.stopping and not self.told_drain and self.tasks:
            self.told_drain = True
            ids = " ".join(str(t) for t in sorted(self.tasks))
            sys.stderr.write(f"\n[hpogrid] no new grid tasks; following the {len(self.tasks)} running ones to their "
                             f"end. Ctrl-C again kills them (as 'hpogrid tasks kill {ids}' would); or stop this "
                             f"driver (kill it) and take them over later with 'hpogrid run {self.project.name} "
                             "--search central --resume'.\n")
        control.wait(min(self.poll_interval, 1.0))

    def cancel(self, uids: List[str], why: str, hurry: bool = False) -> Iterable[Ended]:
        """Kill the tasks holding ``uids`` (a second Ctrl-C, max_failures, an error)."""
        doomed = set(uids)
        out: List[Ended] = []
        for task_id, groups in list(self.tasks.items()):
            members = [uid for uids in groups.values() for uid in uids]
            if doomed & set(members):
                try:
                    self.gateway.kill(task_id)
                    killed = f"{why}; grid task {task_id} killed"
                except GridError as exc:
                    killed = f"{why}; killing grid task {task_id} failed ({exc}): 'hpogrid tasks kill {task_id}'"
                out += [Ended(uid, INTERRUPTED, error=killed) for uid in members]
                del self.tasks[task_id]
        held = [r.uid for r in self.open.runs] if self.open else []
        out += [Ended(uid, INTERRUPTED, error=f"{why} (never submitted)") for uid in held if uid in doomed]
        self.open = None
        return out

    def _note(self, line: str) -> None:
        if line not in self.notes:
            self.notes.append(line)
            sys.stderr.write(f"\n[hpogrid] {line}\n")

