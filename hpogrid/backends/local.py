"""Run a project's HPO on this machine (or an existing Ray cluster) with Ray Tune.

Everything that can be wrong with the project (algorithm vs. space, scheduler, script,
algorithm_param) is checked before Ray starts, so a bad config costs no trial.
"""
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from hpogrid.errors import BackendError, ValidationError
from hpogrid.project import Project
from hpogrid.space import SearchSpace

_QUIET_ENV = {"RAY_AIR_NEW_OUTPUT": "0", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
              "RAY_DEDUP_LOGS": "0", "TUNE_DISABLE_SIGINT_HANDLER": "1"}


@dataclass
class RunOptions:
    """Command-line overrides of the project's hpo_config."""

    trials: Optional[int] = None
    algorithm: Optional[str] = None
    n_jobs: Optional[int] = None
    seed: Optional[int] = None
    address: Optional[str] = None
    study_url: Optional[str] = None
    study: Optional[str] = None
    progress: bool = True
    resume: bool = False
    rerun_failed: bool = False
    backup: bool = True


@dataclass
class RunSummary:
    study: str
    store_url: str
    algorithm: str
    scheduler: str
    counts: Dict[str, int]        # this run's trials by state
    study_counts: Dict[str, int]  # the whole study's (earlier runs included)
    interrupted: bool = False
    notes: List[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class _Plan:
    """Everything resolved from project + options before Ray is touched."""

    algorithm: str
    scheduler_name: str
    searcher: Any
    make_scheduler: Any  # () -> a fresh Ray scheduler (one per Tune run)
    codec: Any
    trainable: Any
    num_samples: int
    limit: Optional[int]       # trials at once, as asked
    tune_limit: Optional[int]  # what Tune must enforce (None where the searcher does)
    hpo: Dict[str, Any]
    notes: List[str]


def resolve_search(project: Project, trials: Optional[int], algorithm: Optional[str], scheduler: str):
    """(hpo_config with command-line overrides, search space, algorithm adapter, notes).

    Shared by every backend; ``scheduler`` is the one the backend will run ('auto' uses it).
    """
    from hpogrid.search import get_adapter
    from hpogrid.search._adapters import AutoAdapter

    hpo = dict(project.hpo_config)
    if trials is not None:
        if trials < 1:
            raise ValidationError("--trials", f"must be at least 1 (got {trials})")
        hpo["trials"] = trials
    if algorithm is not None:
        hpo["algorithm"] = algorithm
    space = SearchSpace.from_dict(project.search_space)
    notes = []
    adapter = get_adapter(hpo["algorithm"])
    if isinstance(adapter, AutoAdapter):
        adapter = AutoAdapter.choose(space, hpo["trials"], scheduler or hpo["scheduler"])
        notes.append(f"algorithm 'auto' chose '{adapter.name}'")
    return hpo, space, adapter, notes


def study_name(project: Project, options: RunOptions) -> str:
    """The study of this run (``--study``, else the project's name); it names folders
    (trials/<study>, <study>_backup-N), so it must be a safe name."""
    from hpogrid.names import check_name

    return check_name(options.study or project.name, "study")


def plan_run(project: Project, options: RunOptions) -> _Plan:
    from hpogrid.search import scheduler_for

    hpo, space, adapter, notes = resolve_search(project, options.trials, options.algorithm,
                                                project.hpo_config["scheduler"])
    scheduler_adapter, note = scheduler_for(adapter.name, hpo["scheduler"])
    if note:
        notes.append(note)
    searcher, codec = adapter.build(space, hpo["metric"], hpo["mode"], options.seed, hpo["algorithm_param"])
    def make_scheduler():
        return scheduler_adapter.build(hpo["metric"], hpo["mode"], dict(hpo["scheduler_param"]), codec)

    make_scheduler()  # bad scheduler_param fails here, before Ray starts
    num_samples = hpo["trials"]
    if codec.grid_size > 1:
        num_samples = max(1, -(-hpo["trials"] // codec.grid_size))
        if num_samples * codec.grid_size != hpo["trials"]:
            notes.append(f"grid search of {codec.grid_size} points: running {num_samples * codec.grid_size} "
                         f"trials ({num_samples} per grid point)")
    limit = options.n_jobs or hpo["scheduler_param"].get("max_concurrent")
    tune_limit = None if limit and adapter.limit_concurrency(searcher, limit) else limit
    trainable = _objective(project, codec, hpo["metric"], study_name(project, options))
    return _Plan(adapter.name, scheduler_adapter.name, searcher, make_scheduler, codec, trainable,
                 num_samples, limit, tune_limit, hpo, notes)


def _objective(project: Project, codec, metric: str, study: str):
    """The Ray trainable for the project's model (Python function/class, or a program)."""
    from hpogrid.objective import check_paths, make_program_trainable, make_trainable

    model = project.model_config
    check_paths(model.get("param") or {}, codec.space)
    trials_root = str(project.path / "trials" / study)
    if model.get("command"):
        return make_program_trainable(str(project.scripts_dir), model, codec, metric, trials_root)
    return make_trainable(str(project.scripts_dir), model["script"], model["model"],
                          model.get("param", {}), codec, metric, trials_root)



def storage_path(project: Project, log_dir: Optional[str]) -> str:
    """Ray's result folder: log_dir, relative paths taken inside the project folder."""
    path = Path(log_dir or "log").expanduser()
    if not path.is_absolute():
        path = project.path / path
    return str(path.resolve())


def _init_ray(project: Project, options: RunOptions, verbose: bool, n_jobs: Optional[int]) -> None:
    import logging

    import ray

    if not verbose:  # failed trials are reported by hpogrid's summary, not Tune's tracebacks
        for name in ("ray.tune", "ray.train", "ray.air"):
            logging.getLogger(name).setLevel(logging.CRITICAL)

    os.environ.update({k: v for k, v in _QUIET_ENV.items() if k not in os.environ})
    # workers import the user's script by name, like the driver does
    scripts = str(project.scripts_dir)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if scripts not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([scripts] + paths)
    address = options.address or os.environ.get("RAY_ADDRESS")
    kwargs: Dict[str, Any] = {"log_to_driver": verbose, "logging_level": "INFO" if verbose else "ERROR",
                              "configure_logging": True}
    if address:
        ray.init(address=address, runtime_env={"working_dir": scripts}, **kwargs)
    else:
        cpus = max(os.cpu_count() or 1, n_jobs or 0)
        ray.init(num_cpus=cpus, include_dashboard=False, _temp_dir=_ray_temp_dir(), **kwargs)


def open_study(project: Project, options: RunOptions, hpo: Dict[str, Any]):
    """The study this run records into: its store, name and URL."""
    from hpogrid import paths
    from hpogrid.errors import NotFoundError
    from hpogrid.study import StudyStore, sqlite_url

    name = study_name(project, options)  # before the store is opened (and maybe created)
    url = options.study_url or os.environ.get("HPOGRID_STUDY_URL") or sqlite_url(paths.study_db(project.name))
    store = StudyStore(url)
    try:
        info = store.get_study(name)
    except NotFoundError:
        info = store.get_or_create_study(name, metric=hpo["metric"], mode=hpo["mode"],
                                         attrs={"project": project.name, "content_hash": project.content_hash})
    if (info.metric, info.mode) != (hpo["metric"], hpo["mode"]):
        raise ValidationError("--study", f"study {name!r} optimises {info.metric} ({info.mode}) but the "
                              f"project now asks for {hpo['metric']} ({hpo['mode']}); record this run in "
                              "another study with --study NAME")
    return store, name, url


def run_local(project: Project, options: RunOptions) -> RunSummary:
    """Run the project's HPO with Ray Tune; every trial lands in the study store."""
    started = time.monotonic()
    study_name(project, options)
    plan = plan_run(project, options)
    hpo = plan.hpo
    store, study, url = open_study(project, options, hpo)
    if not options.resume:  # resume marks every unfinished trial itself
        plan.notes += mark_dead(store, study)
    # one Tune run per phase: resumed re-runs (exact stored values) first, then new trials
    phases = [(plan.codec.param_space(), plan.searcher, plan.num_samples, plan.tune_limit)]
    total = plan.num_samples * plan.codec.grid_size
    if options.resume:
        from hpogrid.backends._resume import prepare_resume, rerun_space

        rp = prepare_resume(store, study, hpo["trials"], plan.searcher, plan.codec, options.rerun_failed,
                            options.backup, hpo["metric"], hpo["mode"])
        plan.notes += rp.notes
        plan.notes.append(f"resuming study {study!r}: {rp.finished} trials kept, {len(rp.reruns)} to re-run, "
                          f"{rp.new_trials} new" + (f"; backup in study {rp.backup!r}" if rp.backup else "")
                          + (f"; searcher told {rp.told} earlier trials" if rp.told else ""))
        phases = [(rerun_space(rp.reruns), None, 1, plan.limit)] if rp.reruns else []
        if rp.new_trials:
            samples = max(1, -(-rp.new_trials // plan.codec.grid_size))
            space = {} if rp.space_in_searcher else plan.codec.param_space()
            phases.append((space, plan.searcher, samples, plan.tune_limit))
        total = len(rp.reruns) + rp.new_trials

    import ray
    from ray import tune

    from hpogrid.backends._recorder import DrainingChoice, RunStopper, StudyRecorder
    from hpogrid.workflow._context import ANNOTATIONS_DIR

    stopper = RunStopper(hpo["stop"])
    notes_dir = project.path / "trials" / study / "annotations"
    notes_dir.mkdir(parents=True, exist_ok=True)
    os.environ[ANNOTATIONS_DIR] = str(notes_dir)  # Ray workers inherit it (annotate())
    recorder = StudyRecorder(store, study, plan.codec, hpo["metric"], hpo["mode"], stopper, total,
                             backend="ray" if options.address else "local", progress=options.progress,
                             max_failures=hpo.get("max_failures"), annotations_dir=str(notes_dir))
    resources = hpo.get("resource") or {"cpu": 1}
    trainable = tune.with_resources(plan.trainable, {k: v for k, v in resources.items() if v})
    _reap_orphans(project)
    _note_ray_run(project)
    _init_ray(project, options, hpo["verbose"], plan.limit)
    previous = _install_interrupt(stopper)
    try:
        for space, searcher, samples, limit in phases:
            if stopper.ending:
                break
            scheduler = DrainingChoice.install(plan.make_scheduler(), stopper)
            tuner = tune.Tuner(
                trainable, param_space=space,
                tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler,
                                            num_samples=samples, reuse_actors=True, max_concurrent_trials=limit),
                run_config=tune.RunConfig(
                    name=f"{study}-{time.strftime('%Y%m%d-%H%M%S')}",
                    storage_path=storage_path(project, hpo.get("log_dir")),
                    stop=stopper, callbacks=[recorder], verbose=2 if hpo["verbose"] else 0,
                    failure_config=tune.FailureConfig(max_failures=0)),
            )
            try:
                tuner.fit()
            except Exception as exc:
                raise BackendError(f"Ray Tune failed: {type(exc).__name__}: {exc}") from exc
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        try:
            recorder.close()
        finally:
            _close_running(store, study, recorder.uids)
            ray.shutdown()
            _forget_ray_run(project)
    from hpogrid.study.records import STATES

    every = store.trials(study)
    mine = [t for t in every if t.uid in recorder.uids]
    if stopper.abort_reason:
        from hpogrid.backends._recorder import error_summary

        last = next((t.error for t in reversed(mine) if t.state == "FAILED"), "")
        raise BackendError(f"{stopper.abort_reason}; last error: {error_summary(last)}; "
                           f"finished trials are kept in study {study!r}")
    counts = {state: sum(t.state == state for t in mine) for state in STATES}
    return RunSummary(study=study, store_url=url, algorithm=plan.algorithm, scheduler=plan.scheduler_name,
                      counts=counts, study_counts={state: sum(t.state == state for t in every) for state in STATES},
                      interrupted=stopper.interrupted.is_set() or stopper.draining.is_set(),
                      notes=plan.notes, seconds=time.monotonic() - started)


def _install_interrupt(stopper) -> Dict[int, Any]:
    """Ctrl-\\ (SIGQUIT) first: start no new trial, let the running ones finish (drain).
    Ctrl-C (SIGINT), or a second signal while draining: stop now, the running trials are
    recorded as interrupted. Any signal after that aborts at once. Returns the previous
    handlers."""
    def handler(signum, frame):
        if stopper.interrupted.is_set():
            raise KeyboardInterrupt
        if signum == signal.SIGQUIT and not stopper.draining.is_set():
            stopper.draining.set()
        else:
            stopper.interrupted.set()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGQUIT)}


def mark_dead(store, study: str) -> List[str]:
    """Mark the trials of dead runs of ``study`` interrupted (live runs sharing it keep
    theirs); a note when there were any."""
    from hpogrid.study.liveness import mark_dead_runs

    n = mark_dead_runs(store, study)
    return [f"{n} trial(s) of a run that stopped sending heartbeats marked interrupted; "
            "re-run them with --resume"] if n else []


def _ray_run_record(project: Project) -> Path:
    return project.path / f".ray-run-{os.getpid()}.json"


def _ray_temp_dir() -> str:
    # short (Ray's socket paths must stay under ~107 chars) and unique per driver process
    return f"/tmp/hpogrid-ray-{os.getpid()}"


def _note_ray_run(project: Project) -> None:
    """Before Ray starts: which driver runs which Ray folder, for :func:`_reap_orphans`."""
    import json

    _ray_run_record(project).write_text(json.dumps({"driver": os.getpid(), "temp_dir": _ray_temp_dir()}))


def _forget_ray_run(project: Project) -> None:
    import shutil

    _ray_run_record(project).unlink(missing_ok=True)
    shutil.rmtree(_ray_temp_dir(), ignore_errors=True)


def _alive(pid: int) -> bool:
    """Is ``pid`` still a Python process (not a pid the kernel reused for something else)?"""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"python" in fh.read()
    except OSError:
        return False


def _reap_orphans(project: Project) -> None:
    """Stop the Ray processes of earlier runs of this project whose driver was killed (-9).

    Every Ray process of a run carries the run's own temp folder on its command line; runs
    whose driver is still alive (concurrent runs on one study) are left alone.
    """
    import json
    import shutil

    for record in project.path.glob(".ray-run-*.json"):
        try:
            info = json.loads(record.read_text())
            driver, temp_dir = int(info["driver"]), str(info["temp_dir"])
        except (OSError, ValueError, KeyError, TypeError):
            record.unlink(missing_ok=True)
            continue
        if driver == os.getpid() or _alive(driver):
            continue
        needle = temp_dir.encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if needle in (proc / "cmdline").read_bytes():
                    os.kill(int(proc.name), signal.SIGKILL)
            except OSError:
                continue
        shutil.rmtree(temp_dir, ignore_errors=True)
        record.unlink(missing_ok=True)


def _close_running(store, study: str, uids) -> None:
    """Trials of this run still RUNNING after Tune returned were cut short: say so."""
    from hpogrid.study.records import INTERRUPTED, RUNNING

    for trial in store.trials(study, states=[RUNNING]):
        if trial.uid in uids:
            store.upsert_trial(study, trial.uid, state=INTERRUPTED, error="run ended before the trial finished")
