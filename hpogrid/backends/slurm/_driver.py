"""``slurm_run``: one Slurm job per trial, the searcher's ask/tell in this (driver) process.

The driver asks the searcher for a configuration, writes it to a trial folder, submits a job
running :mod:`hpogrid.backends.slurm._exec` on it, and keeps at most ``workers`` jobs in Slurm.
Every ``poll_interval`` it reads the jobs' states from Slurm (never from the payload alone,
so a job Slurm kills becomes a failed or interrupted trial with Slurm's reason instead of a
hang), records finished trials in the same study store as ``local_run`` (backend ``slurm``,
the Slurm job id, the node) and tells the searcher. It stops after ``trials`` evaluations,
after ``max_failures`` failed trials, or on Ctrl-C / Ctrl-\\ / SIGTERM, and never leaves a job
of its own behind: whatever ends the loop, the jobs still in Slurm are scancelled and
recorded as INTERRUPTED. While it runs it refreshes the heartbeat of its trials, so a reader
can tell a dead driver's trials (see :mod:`hpogrid.study.liveness`).

A driver killed with -9 cannot cancel anything: ``--resume`` finds its jobs through the job
ids the study stores (:mod:`._resume`), scancels those still in Slurm, records those that
ended on their own, and re-runs the interrupted trials with their uid and values.

The hpo_config scheduler (ASHA, PBT, ...) is not applied: a trial runs in its job until its
``stop`` criteria, and its per-iteration history is recorded when the job ends.
"""
import os
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from hpogrid.backends.local import RunOptions, RunSummary, storage_path, open_study
from hpogrid.backends.slurm import _exec
from hpogrid.backends.slurm._sbatch import JobState, SlurmClient, SlurmError, cancel, require, sbatch_argv, submit
from hpogrid.project import Project
from hpogrid.space import SearchSpace
from hpogrid.study.records import COMPLETED, FAILED, INTERRUPTED, PENDING, RUNNING

#: Slurm end states that say nothing about the configuration (the trial was cut short)
_CUT_SHORT = frozenset({"CANCELLED", "PREEMPTED", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "REVOKED"})
#: seconds to wait for result.json after Slurm says COMPLETED (shared file systems lag)
RESULT_GRACE_S = 30.0
#: seconds to wait for scancelled jobs to leave Slurm before recording them
CANCEL_WAIT_S = 30.0
#: seconds Slurm may fail to answer squeue before the run gives up (its jobs are then scancelled)
SLURM_DOWN_LIMIT_S = 300.0
_JOB_SCRIPT = '#!/bin/sh\n# written by hpogrid slurm_run: runs the payload given as arguments\nexec "$@"\n'


@dataclass
class SlurmOptions(RunOptions):
    """``RunOptions`` plus command-line overrides of the project's slurm_config."""

    workers: Optional[int] = None
    max_failures: Optional[int] = None
    poll_interval: Optional[float] = None


@dataclass
class SlurmSummary(RunSummary):
    """``RunSummary`` plus why the run stopped early (``None``: it ran its trials)."""

    stop_reason: Optional[str] = None
    run_dir: Optional[str] = None


@dataclass
class _Plan:
    algorithm: str
    asktell: Any
    codec: Any
    hpo: Dict[str, Any]
    slurm: Dict[str, Any]
    total: int
    notes: List[str]


@dataclass
class _Live:
    """A trial whose job is in Slurm."""

    uid: str
    job_id: str
    dir: Path
    state: str = PENDING
    node: Optional[str] = None
    missing_since: Optional[float] = None
    history: List[Dict[str, Any]] = field(default_factory=list)


def plan_slurm(project: Project, options: SlurmOptions) -> _Plan:
    """Resolve and check everything (searcher, space, model, Slurm options) before any job."""
    from hpogrid.backends.local import resolve_search
    from hpogrid.backends.slurm._asktell import AskTell
    from hpogrid.configs import get_kind

    slurm = get_kind("slurm_config").validate(dict(project.slurm_config or {}))
    overrides = {"workers": options.workers, "max_failures": options.max_failures,
                 "poll_interval": options.poll_interval}
    slurm = get_kind("slurm_config").validate({**slurm, **{k: v for k, v in overrides.items() if v is not None}})
    require("sbatch")
    # no Tune scheduler runs here, so 'auto' chooses as for fifo
    hpo, space, adapter, notes = resolve_search(project, options.trials, options.algorithm, "fifo")
    if hpo.get("scheduler", "fifo") != "fifo":
        notes.append(f"scheduler '{hpo['scheduler']}' is not applied by slurm_run: each trial runs in its "
                     "job until its stop criteria")
    searcher, codec = adapter.build(space, hpo["metric"], hpo["mode"], options.seed, hpo["algorithm_param"])
    num_samples = max(1, -(-hpo["trials"] // codec.grid_size))
    total = num_samples * codec.grid_size
    if total != hpo["trials"]:
        notes.append(f"grid search of {codec.grid_size} points: running {total} trials "
                     f"({num_samples} per grid point)")
    _check_model(project, space)
    asktell = AskTell(searcher, codec, hpo["metric"], hpo["mode"], num_samples, options.seed)
    return _Plan(adapter.name, asktell, codec, hpo, slurm, total, notes)


def _check_model(project: Project, space: SearchSpace) -> None:
    """Import the script (or parse the command) here: a broken model costs no job."""
    model = project.model_config
    if model.get("command"):
        from hpogrid.objective.program import check_placeholders, parse_command

        check_placeholders(parse_command(model["command"]), list(space))
        return
    from hpogrid.objective import load_model

    load_model(str(project.scripts_dir), model["script"], model["model"])


def run_slurm(project: Project, options: SlurmOptions) -> SlurmSummary:
    """Run the project's HPO as Slurm jobs; every trial lands in the study store."""
    from hpogrid.backends.local import mark_dead, study_name

    started = time.monotonic()
    study_name(project, options)
    plan = plan_slurm(project, options)
    store, study, url = open_study(project, options, plan.hpo)
    reruns: List[Tuple[str, Dict[str, Any]]] = []
    if options.resume:
        reruns = _prepare_resume(plan, store, study, options)
    else:
        plan.notes += mark_dead(store, study)
    driver = SlurmDriver(project, plan, store, study, progress=options.progress, reruns=reruns)
    driver.run()
    mine = [t for t in store.trials(study) if t.uid in driver.uids]
    counts = {state: sum(t.state == state for t in mine) for state in store.counts(study)}
    return SlurmSummary(study=study, store_url=url, algorithm=plan.algorithm, scheduler="fifo", counts=counts,
                        study_counts=store.counts(study), interrupted=driver.interrupted.is_set(),
                        notes=plan.notes + driver.notes, seconds=time.monotonic() - started,
                        stop_reason=driver.stop_reason,
                        run_dir=str(driver.run_dir))


def _prepare_resume(plan: _Plan, store, study: str, options: SlurmOptions) -> List[Tuple[str, Dict[str, Any]]]:
    """Settle the dead run's jobs, mark what did not finish, and size this run: re-runs
    first (their uid and values), then new trials up to ``trials``."""
    from hpogrid.backends._resume import prepare_resume
    from hpogrid.backends.slurm._asktell import BasicSampler
    from hpogrid.backends.slurm._resume import settle_orphans

    searcher = plan.asktell.searcher
    hpo = plan.hpo
    rp = prepare_resume(store, study, hpo["trials"], None if isinstance(searcher, BasicSampler) else searcher,
                        plan.codec, options.rerun_failed, options.backup, hpo["metric"], hpo["mode"],
                        settle=lambda: settle_orphans(store, study, SlurmClient(), hpo["metric"]))
    plan.notes += rp.notes
    plan.notes.append(f"resuming study {study!r}: {rp.finished} trials kept, {len(rp.reruns)} to re-run, "
                      f"{rp.new_trials} new" + (f"; backup in study {rp.backup!r}" if rp.backup else "")
                      + (f"; searcher told {rp.told} earlier trials" if rp.told else ""))
    plan.total = len(rp.reruns) + rp.new_trials
    return list(rp.reruns)


class SlurmDriver:
    """The ask / submit / poll / tell loop of one run (see the module docstring)."""

    def __init__(self, project: Project, plan: _Plan, store, study: str, progress: bool = True,
                 reruns: Optional[List[Tuple[str, Dict[str, Any]]]] = None):
        from hpogrid.backends.slurm._progress import Progress
        from hpogrid.study.liveness import heartbeat_period

        self.project, self.plan, self.store, self.study = project, plan, store, study
        #: (uid, stored values) of a resumed study's trials to run again, submitted first
        self.reruns = list(reruns or [])
        self._beat_every, self._last_beat = heartbeat_period(), time.monotonic()
        self.slurm = plan.slurm
        self.client = SlurmClient()
        self.live: Dict[str, _Live] = {}
        self.uids: set = set()
        self.asked = 0
        self.failed = 0
        self.exhausted = False
        self.stop_reason: Optional[str] = None
        self.interrupted = threading.Event()
        self._wake = threading.Event()
        self._hurry = False
        self._slurm_down_since: Optional[float] = None
        self.notes: List[str] = []
        self._tag = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        self.run_dir = Path(storage_path(project, plan.hpo.get("log_dir"))) / "slurm" / f"{study}-{self._tag}"
        self.progress = Progress(plan.hpo["metric"], plan.hpo["mode"], plan.total, enabled=progress)
        self._env = _job_environment()

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._script = self.run_dir / "job.sh"
        self._script.write_text(_JOB_SCRIPT)
        self._script.chmod(0o755)
        previous = self._install_signals()
        try:
            while not self.interrupted.is_set():
                self._poll()
                self._heartbeat()
                if self.stop_reason or self.interrupted.is_set():
                    break
                self._fill()
                self.progress.show(self.live)
                if not self.live and (self.asked >= self.plan.total or self.exhausted or self.stop_reason):
                    break
                self._wake.wait(self.slurm["poll_interval"])
        finally:
            self._restore_signals(previous)
            if self.live:
                why = ("interrupted by the user" if self.interrupted.is_set()
                       else f"study stopped: {self.stop_reason}" if self.stop_reason
                       else "slurm_run ended before the trial finished")
                self._cancel_all(why)
            self.progress.show(self.live, final=True)

    def _heartbeat(self) -> None:
        """Tell readers this run is alive: refresh its live trials' heartbeat now and then."""
        from hpogrid.errors import StudyError

        if not self.live or time.monotonic() - self._last_beat < self._beat_every:
            return
        self._last_beat = time.monotonic()
        try:
            self.store.heartbeat(self.study, list(self.live))
        except StudyError:
            pass  # retried at the next beat

    def _fill(self) -> None:
        from hpogrid.search._codec import RERUN_KEY

        while len(self.live) < self.slurm["workers"] and self.asked < self.plan.total and not self.exhausted:
            if self.reruns:  # the exact stored values, under the trial's own uid
                uid, values = self.reruns.pop(0)
                self._submit(uid, {RERUN_KEY: {"uid": uid, "values": values}})
                continue
            uid = f"slurm-{self._tag}-{self.asked:05d}"
            config = self.plan.asktell.ask(uid)
            if config is None:  # the searcher waits for results first
                if not self.live:
                    self.stop_reason = ("stopped: the search algorithm proposed no configuration while no "
                                        "trial was running")
                return
            if config == "FINISHED":
                self.exhausted = True
                self.notes.append(f"the search algorithm had no new configuration after {self.asked} trials")
                return
            self._submit(uid, config)

    def _submit(self, uid: str, config: Dict[str, Any]) -> None:
        from hpogrid.backends._recorder import json_safe
        from hpogrid.objective import trial_config

        codec, model, hpo = self.plan.codec, self.project.model_config, self.plan.hpo
        trial_dir = self.run_dir / uid
        trial_dir.mkdir(parents=True)
        values = json_safe(codec.decode(config))
        spec = {"uid": uid, "study": self.study, "scripts_dir": str(self.project.scripts_dir),
                "metric": hpo["metric"], "mode": hpo["mode"], "stop": hpo.get("stop") or {},
                "values": values, "order": list(codec.encodings)}
        if model.get("command"):
            spec.update(command=model["command"], timeout=model.get("timeout"),
                        result_prefix=model.get("result_prefix") or "RESULT")
        else:
            spec.update(script=model["script"], model=model["model"],
                        config=json_safe(trial_config(model.get("param") or {}, codec, config)))
        _exec.write_json(trial_dir / _exec.TRIAL_FILE, spec)
        argv = sbatch_argv(self.slurm, job_name=f"hpogrid-{self.study}-{self.asked}", workdir=trial_dir,
                           script=self._script, args=[sys.executable, "-m", _exec.__name__, str(trial_dir)])
        self.asked += 1
        try:
            job_id = submit(argv, env=self._env)
        except SlurmError as exc:
            self.plan.asktell.tell(uid, None, ok=False)
            if not self.uids:  # nothing ran yet: a configuration problem, say so at once
                raise
            self.stop_reason = f"stopped submitting: {exc}"
            return
        self.live[uid] = _Live(uid, job_id, trial_dir)
        self.uids.add(uid)
        self.store.upsert_trial(self.study, uid, state=PENDING, params=values, backend="slurm", job_id=job_id,
                                annotations={"trial_dir": str(trial_dir)})

    def _poll(self) -> None:
        if not self.live:
            return
        try:
            states = self.client.states([t.job_id for t in self.live.values()])
        except SlurmError:
            # a busy or restarting slurmctld must not end a long study: retry for a while
            now = time.monotonic()
            self._slurm_down_since = self._slurm_down_since or now
            if now - self._slurm_down_since > SLURM_DOWN_LIMIT_S:
                raise
            return
        self._slurm_down_since = None
        for trial in list(self.live.values()):
            info = states.get(trial.job_id) or JobState(trial.job_id, "UNKNOWN")
            if info.finished or info.state == "UNKNOWN":
                self._finish(trial, info)
            elif info.running and trial.state != RUNNING:
                trial.state, trial.node = RUNNING, info.node
                self.store.upsert_trial(self.study, trial.uid, state=RUNNING, host=info.node)

    # -- one trial ends ----------------------------------------------------------------------
    def _finish(self, trial: _Live, info: JobState, cancelled_because: Optional[str] = None) -> None:
        result = _exec.read_result(trial.dir)
        if result is None and info.state == "COMPLETED":
            # the job ended well but its result file is not visible yet: give the file system time
            now = time.monotonic()
            trial.missing_since = trial.missing_since or now
            if now - trial.missing_since < RESULT_GRACE_S and cancelled_because is None:
                return
        metric = self.plan.hpo["metric"]
        state, metrics, error = record_end(self.store, self.study, trial.uid, trial.job_id, trial.dir, info,
                                           metric, cancelled_because, trial.node)
        self.plan.asktell.tell(trial.uid, metrics, ok=state == COMPLETED)
        del self.live[trial.uid]
        self.progress.count(state, metrics.get(metric))
        if state == FAILED:
            self.failed += 1
            limit = self.slurm["max_failures"]
            if limit and self.failed >= limit and not self.stop_reason:
                from hpogrid.backends._recorder import error_summary

                self.stop_reason = (f"stopped after {self.failed} failed trials (max_failures={limit}); "
                                    f"last error: {error_summary(error)}")

    # -- stopping ----------------------------------------------------------------------------
    def _cancel_all(self, why: str) -> None:
        """scancel every job of this run still in Slurm and record its trial as INTERRUPTED."""
        ids = {t.job_id: t for t in self.live.values()}
        try:
            cancel(ids)
        except SlurmError:
            pass  # recorded below as interrupted either way
        deadline = time.monotonic() + CANCEL_WAIT_S
        while self.live:
            try:
                states = self.client.states([t.job_id for t in self.live.values()])
            except SlurmError:
                states = {}
            for trial in list(self.live.values()):
                info = states.get(trial.job_id) or JobState(trial.job_id, "UNKNOWN")
                if info.finished or info.state == "UNKNOWN" or self._hurry or time.monotonic() > deadline:
                    self._finish(trial, info if info.finished else JobState(trial.job_id, "UNKNOWN"),
                                 cancelled_because=why)
            if self.live:
                time.sleep(0.2)

    def _install_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum, frame):
            if self.interrupted.is_set():
                self._hurry = True  # a second Ctrl-C: record the cancelled jobs without waiting
            self.interrupted.set()
            self._wake.set()

        return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM)}

    @staticmethod
    def _restore_signals(previous) -> None:
        for sig, old in (previous or {}).items():
            signal.signal(sig, old)


def record_end(store, study: str, uid: str, job_id: str, trial_dir: Path, info: JobState, metric: str,
               cancelled_because: Optional[str] = None, node: Optional[str] = None):
    """Record the end of trial ``uid`` from Slurm's word and the job's files; returns
    (state, metrics, error)."""
    from hpogrid.backends._recorder import clean_metrics

    result = _exec.read_result(trial_dir)
    history = (result or {}).get("history") or _exec.read_progress(trial_dir)
    state, error = verdict(job_id, trial_dir, info, result, cancelled_because)
    history = [clean_metrics(item) for item in history]
    metrics = history[-1] if history else {}
    if state == COMPLETED and not _has_number(metrics, metric):
        state = FAILED
        reported = ", ".join(sorted(metrics)) or "nothing"
        error = (f"the trial reported NaN or infinity for metric '{metric}'" if metric in metrics else
                 f"the trial did not report metric '{metric}' (reported: {reported})")
    fields: Dict[str, Any] = {"state": state, "metrics": metrics, "intermediate": history, "error": error,
                              "host": info.node or node or (result or {}).get("host")}
    if info.start is not None:
        fields["started_at"] = info.start
    if info.end is not None and info.end >= (info.start or info.end):
        fields["finished_at"] = info.end
    store.upsert_trial(study, uid, **fields)
    return state, metrics, error


def verdict(job_id: str, trial_dir: Path, info: JobState, result: Optional[Dict],
            cancelled_because: Optional[str] = None):
    """(trial state, error) from Slurm's end state and the payload's own ``result.json``.

    Slurm's word decides whether the job ran to its end: TIMEOUT (and any failure) is a
    FAILED trial, since the configuration did not finish within its resources; CANCELLED,
    PREEMPTED, NODE_FAIL... cut the trial short for reasons outside it: INTERRUPTED.
    """
    payload_error = (result or {}).get("error")
    if info.state == "COMPLETED" and result is not None and result.get("status") == "completed":
        return COMPLETED, None
    if cancelled_because is not None and (info.state in _CUT_SHORT or info.state == "UNKNOWN"):
        return INTERRUPTED, f"{cancelled_because} (Slurm job {job_id} cancelled)"
    after = f" after {info.run_time}" if info.run_time else ""
    if info.state == "TIMEOUT":
        limit = f" (time limit {info.time_limit})" if info.time_limit else ""
        return FAILED, f"Slurm: TIMEOUT{after}{limit}"
    if info.state in _CUT_SHORT:
        reason = f", reason {info.reason}" if info.reason and info.reason not in ("None", "(null)") else ""
        return INTERRUPTED, f"Slurm: {info.state}{after}{reason}"
    if info.state == "UNKNOWN":
        return FAILED, f"Slurm has no record of job {job_id} any more and it left no result"
    if payload_error:
        return FAILED, payload_error
    if info.state == "COMPLETED":
        return FAILED, f"job {job_id} completed but wrote no {_exec.RESULT_FILE}"
    code = f" with exit code {info.exit_code}" if info.exit_code else ""
    tail = _tail(trial_dir / _exec.STDERR_FILE)
    return FAILED, f"Slurm: {info.state}{code}{after}" + (f": {tail}" if tail else "")


def _has_number(metrics: Dict[str, Any], metric: str) -> bool:
    value = metrics.get(metric)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(ln.strip() for ln in text[-lines:] if ln.strip())[-500:]


def _job_environment() -> Dict[str, str]:
    """sbatch's environment (jobs inherit it): hpogrid importable even from a source checkout."""
    import hpogrid

    env = dict(os.environ)
    root = str(Path(hpogrid.__file__).resolve().parents[1])
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        env["PYTHONPATH"] = os.pathsep.join([root] + paths)
    return env
