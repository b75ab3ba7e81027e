"""What runs inside a grid job: ``hpogrid grid_job PROJECT --seed N`` (hidden; hpogrid 2.0's
``hpogrid run PROJECT --mode grid --seed N`` still works for tasks submitted with it).

PanDA unpacks the sandbox (see :mod:`._sandbox`) in the job's working directory and stages
the input dataset there too. The job runs the project's HPO with the local backend, then
hands every trial back through ``userJobMetadata.json`` (which the PanDA pilot attaches to
the job, so ``hpogrid report`` can fetch it) and writes its outputs for the outDS.
"""
from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from hpogrid.backends.panda import _checkpoints
from hpogrid.backends.panda._sandbox import CONFIG_FOLDER, GRID_FILE, POINTS_FILE
from hpogrid.errors import NotFoundError
from hpogrid.objectives import primary_mode

if TYPE_CHECKING:
    from hpogrid.project import Project

#: the pilot reads this file from the working directory as the job's metadata
METADATA_FILE = "userJobMetadata.json"
#: files a job leaves for the outDS
RESULT_FILE = "hpo_result.json"
TRIALS_ARCHIVE = "hpogrid_trials.tgz"
OUTPUTS = (RESULT_FILE, TRIALS_ARCHIVE)
#: where the job keeps its own store (inside the working directory, packed into TRIALS_ARCHIVE)
JOB_HOME = ".hpogrid-job"
_ERROR_CHARS = 2000
#: runGen attaches userJobMetadata.json only up to 1 MB; stay below with room to spare
METADATA_LIMIT = 900_000
#: the files trials kept (hpogrid.trial.save_artifact) travel in TRIALS_ARCHIVE up to this many
#: bytes per job (the outDS is for results, not data sets); those beyond are left out, with a note
ARTIFACTS_LIMIT = 50 * 2**20
#: in TRIALS_ARCHIVE: which job wrote it (the sync picks a job's archive from its output container)
JOB_MARKER = "hpogrid_job.json"


@dataclass
class GridJobResult:
    metadata: Dict[str, Any]
    completed: int
    failed: int
    #: a signal (the pilot's SIGTERM) stopped the run
    interrupted: bool = False


def _iso(value) -> Optional[str]:
    return value.isoformat() if value is not None else None


def trial_entry(t, curve: bool = False) -> Dict[str, Any]:
    """One trial as it travels in the job metadata (no per-iteration history, metadata is small,
    unless ``curve``: a wave of a multi-fidelity search, whose driver records each rung's curve)."""
    entry = {"uid": t.uid, "number": t.number, "state": t.state, "params": t.params, "metrics": t.metrics,
             "annotations": t.annotations or {},
             "value": t.value, "error": (t.error or None) and t.error[-_ERROR_CHARS:],
             "started_at": _iso(t.started_at), "finished_at": _iso(t.finished_at)}
    if curve:
        entry["curve"] = list(t.intermediate or [])
    return entry


def _sandbox_project(name: str, workdir: Path):
    """The project as unpacked in ``workdir``: scripts there, its own store next to them."""
    import shutil

    from hpogrid.project import Project, load_project

    config = workdir / CONFIG_FOLDER / "config.json"
    if not config.is_file():
        raise NotFoundError(f"no project sandbox in {workdir} ({CONFIG_FOLDER}/config.json is missing): "
                            "'hpogrid grid_job' is what a grid job runs; use 'hpogrid run PROJECT' "
                            "to submit, or 'hpogrid local_run PROJECT' to run here")
    folder = workdir / JOB_HOME / "projects" / name / "config"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(config, folder / "config.json")

    class SandboxProject(Project):
        @property
        def scripts_dir(self) -> Path:  # scripts and staged inputs share the working directory
            return workdir

    return SandboxProject(**vars(load_project(name)))


def _pack_trials(project: Project, workdir: Path, left_out: List[Path]) -> None:
    """The job's project folder (study, trial folders with their artifacts) for the outDS, with
    a marker naming the job (``$PandaID``); the artifacts in ``left_out`` stay behind."""
    import io
    import json

    root = project.path.resolve()
    skip = {f"{project.name}/{p.resolve().relative_to(root).as_posix()}" for p in left_out
            if p.resolve().is_relative_to(root)}
    with tarfile.open(workdir / TRIALS_ARCHIVE, "w:gz") as tar:
        tar.add(project.path, arcname=project.name, filter=lambda info: None if info.name in skip else info)
        data = json.dumps({"pandaid": os.environ.get("PandaID"), "task_id": os.environ.get("PanDA_TaskID")}).encode()
        info = tarfile.TarInfo(JOB_MARKER)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def _artifacts_over_limit(entries: List[Dict[str, Any]], limit: int = ARTIFACTS_LIMIT) -> List[Path]:
    """The artifact files that do not fit in the job's ``limit`` (kept in trial order, first come
    first kept); their records in ``entries`` get ``"left_out"`` saying why."""
    from hpogrid.trial import ARTIFACTS_KEY, artifacts

    total, over = 0, []
    for entry in entries:
        listed = artifacts(entry["annotations"])
        for name, record in listed.items():
            size = int(record.get("size") or 0)
            if total + size > limit and isinstance(record.get("file"), str):
                over.append(Path(record["file"]))
                listed[name] = {**record, "left_out": f"over the grid job's artifact limit of "
                                                      f"{limit // 2**20} MB: not in the job's output"}
            else:
                total += size
        if listed:
            entry["annotations"] = {**entry["annotations"], ARTIFACTS_KEY: listed}
    return over


def fit_metadata(metadata: Dict[str, Any], limit: int = METADATA_LIMIT) -> str:
    """The metadata as JSON under ``limit`` bytes (runGen drops a larger file): error texts are
    cut first, then the worst trials are left out (all of them stay in TRIALS_ARCHIVE)."""
    from hpogrid.fileio import dump_json

    text = dump_json(metadata)
    if len(text.encode()) <= limit:
        return text
    trials = [{k: v for k, v in t.items() if k != "curve"} for t in metadata["trials"]]  # (the archive has them)
    trials = [{**t, "error": t["error"] and t["error"][-200:]} for t in trials]
    sign = -1 if primary_mode(metadata.get("mode")) == "max" else 1
    ranked = sorted(trials, key=lambda t: (t["value"] is None, sign * (t["value"] or 0)))
    keep = len(ranked)
    while keep:
        text = dump_json({**metadata, "trials": ranked[:keep], "left_out": len(ranked) - keep})
        if len(text.encode()) <= limit:
            return text
        keep = keep * 3 // 4
    return dump_json({**metadata, "trials": [], "left_out": len(ranked)})


def run_grid_job(name: str, seed: Optional[int], workdir: Optional[Path] = None,
                 trials: Optional[int] = None, job: Optional[int] = None) -> GridJobResult:
    """Run the HPO of the sandboxed project ``name`` and write the job's metadata and outputs.

    The metadata is written whatever ends the run: an error, or SIGTERM from the pilot at a
    kill or the wall-time limit (Ray turns it into SystemExit; running trials are recorded
    interrupted and finished ones are handed back). ``job``: this job's index in its task (a
    central search's task of N jobs): it evaluates the points of the sandbox meant for it.
    """
    from hpogrid.engine import scoped_environ

    from hpogrid.settings import Settings

    workdir = Path(workdir or Settings.from_env().workdir or os.getcwd()).resolve()
    # the job keeps its own store in its working directory, whatever the image's HPOGRID_HOME
    with scoped_environ({"HPOGRID_HOME": str(workdir / JOB_HOME)}):
        return _run_in_sandbox(name, seed, workdir, trials, job)


def _run_in_sandbox(name: str, seed: Optional[int], workdir: Path, trials: Optional[int],
                    job: Optional[int]) -> GridJobResult:
    from hpogrid.backends import RunOptions, get_backend
    from hpogrid.errors import HpogridError
    from hpogrid.settings import Settings

    project = _sandbox_project(name, workdir)
    budget = _budget(workdir, job)
    restored = _checkpoints.Restored()
    if budget is not None:  # a wave of a multi-fidelity central search: its budget, judged by the driver
        hpo = project.hpo_config
        kept = {k: v for k, v in (hpo.get("scheduler_param") or {}).items() if k == "max_concurrent"}
        project.configs["hpo_config"] = {**hpo, "stop": budget, "scheduler": "fifo", "scheduler_param": kept}
    state = {"algorithm": project.hpo_config.get("algorithm"), "error": None, "curves": budget is not None}
    interrupted = False
    try:
        points = _points(workdir, job)
        restored = _restore(project, workdir, name, seed, points, job)
        if points is not None:  # a point whose checkpoint could not be restored fails without running
            points = [p for p in points if p[0] not in restored.failed]
        options = RunOptions(seed=seed, trials=trials, progress=False, points=points,
                             resume=restored.earlier is not None and points is None, backup=False,
                             settings=Settings(home=workdir / JOB_HOME, study_url=None))
        summary = get_backend("local").run(project, options)
        state["algorithm"] = summary.algorithm
        interrupted = summary.interrupted
        if summary.interrupted:
            state["error"] = ("interrupted (SIGTERM from the pilot at a kill or the wall-time limit, or a signal): "
                              "finished trials are kept")
    except HpogridError as exc:  # still hand back what ran, with the reason
        state["error"] = str(exc)
    except SystemExit as exc:  # a SIGTERM before the engine's handlers were in place
        state["error"] = (f"stopped (exit {exc.code}, e.g. SIGTERM from the pilot at a kill or the wall-time "
                          "limit): finished trials are kept")
        raise
    except BaseException as exc:
        state["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        result = _hand_back(project, workdir, name, seed, restored=restored, job=job, **state)
    result.interrupted = interrupted
    return result


def _restore(project: Project, workdir: Path, name: str, seed: Optional[int],
             points: Optional[List[tuple]], job: Optional[int] = None) -> "_checkpoints.Restored":
    """Take back what earlier jobs left of this job's trials (:mod:`._checkpoints`): a retry's
    earlier attempt, the checkpoints of a central search's points run before."""
    import json

    from hpogrid.study import StudyStore, sqlite_url

    out = _checkpoints.Restored()
    home = workdir / JOB_HOME
    _checkpoints.write_marker(home, name, seed, job)
    grid = workdir / CONFIG_FOLDER / GRID_FILE
    out_ds = json.loads(grid.read_text(encoding="utf-8")).get("out_ds") if grid.is_file() else None
    out.earlier = _checkpoints.restore_attempt(workdir, home, name, seed, out_ds, notes=out.notes, job=job)
    db = project.path / "study.db"
    if out.earlier is not None and db.is_file():
        store = StudyStore(sqlite_url(db))
        try:
            trials = store.trials(name) if name in {s.name for s in store.list_studies()} else []
        finally:
            store.close()
        out.rerun = [t.uid for t in trials if not t.is_finished or t.state == "INTERRUPTED"]
        out.kept = [t.uid for t in trials if t.uid not in out.rerun]
    sources = _checkpoint_sources(workdir, job)
    if points is not None and sources:
        out.failed = _checkpoints.restore_points(project.path, name, sources, workdir, notes=out.notes)
    return out


def _point_entries(workdir: Path, job: Optional[int]) -> Optional[List[Dict[str, Any]]]:
    """The points of the sandbox this job evaluates (those naming its index ``job``, or without
    one); None when the sandbox has no points (search as usual)."""
    import json

    path = workdir / CONFIG_FOLDER / POINTS_FILE
    if not path.is_file():
        return None
    return [p for p in json.loads(path.read_text(encoding="utf-8")) if p.get("job") in (None, job)]


def _checkpoint_sources(workdir: Path, job: Optional[int] = None) -> Dict[str, str]:
    """uid -> the trials container of the earlier task that ran this point (a central search)."""
    return {p["uid"]: p["checkpoint"] for p in _point_entries(workdir, job) or [] if isinstance(p.get("checkpoint"), str)}


def _budget(workdir: Path, job: Optional[int] = None) -> Optional[Dict[str, Any]]:
    """The stop criteria a multi-fidelity central search sent with this job's points (None: the hpo_config's)."""
    stops = [p.get("stop") for p in _point_entries(workdir, job) or [] if isinstance(p.get("stop"), dict)]
    return stops[0] if stops else None


def _points(workdir: Path, job: Optional[int] = None) -> Optional[List[tuple]]:
    """The (uid, values) a central search sent for this job; None: search as usual."""
    entries = _point_entries(workdir, job)
    return None if entries is None else [(p["uid"], p["values"]) for p in entries]


def _hand_back(project: Project, workdir: Path, name: str, seed: Optional[int], algorithm, error,
               curves: bool = False, restored: Optional["_checkpoints.Restored"] = None,
               job: Optional[int] = None) -> GridJobResult:
    """Write userJobMetadata.json, hpo_result.json and the trials archive from the job's study."""
    from hpogrid import __version__
    from hpogrid.fileio import dump_json, write_atomic
    from hpogrid.study import StudyStore, sqlite_url

    hpo = project.hpo_config
    db = project.path / "study.db"
    records: List = []
    if db.is_file():
        store = StudyStore(sqlite_url(db))
        try:
            records = store.trials(name)
        finally:
            store.close()
    from hpogrid.objectives import Objectives

    objectives = Objectives.parse(hpo["metric"], hpo["mode"], hpo.get("constraints"))
    entries = [trial_entry(t, curve=curves) for t in records]
    restored = restored or _checkpoints.Restored()
    entries += [_not_restored(uid, values, why) for uid, values in (_points(workdir, job) or [])
                if (why := restored.failed.get(uid)) is not None]
    left_out = _artifacts_over_limit(entries)
    grid = (getattr(project, "configs", None) or {}).get("grid_config") or {}
    limit = grid.get("checkpoint_limit_mb")
    over = _checkpoints.over_limit(project.path, entries, _checkpoints.DEFAULT_LIMIT_MB if limit is None
                                   else float(limit))
    left_out += over
    if restored.earlier is not None:  # a retry: trials finished before it belong to the earlier attempt
        for e in entries:
            if e["uid"] in restored.kept:
                e["job"] = restored.earlier.get("pandaid")
    done = [e for e in entries if e["state"] == "COMPLETED" and e["value"] is not None]
    # the best by the primary objective among the feasible trials (several objectives: see "pareto")
    feasible = [e for e in done if objectives.feasible(e["metrics"])]
    best = (max if objectives.mode == "max" else min)(feasible, key=lambda e: e["value"]) if feasible else None
    metadata = {"hpogrid": __version__, "project": name, "seed": seed, "algorithm": algorithm,
                "metric": hpo["metric"], "mode": hpo["mode"], "error": error, "best": best, "trials": entries}
    if job is not None:  # which of its task's jobs this is (the driver's key for the job's points)
        metadata["job"] = job
    if objectives.is_multi:
        metadata["pareto"] = _front_uids(objectives, feasible)
    if restored.earlier is not None:
        metadata["restored"] = {"pandaid": restored.earlier.get("pandaid"), "attempt": restored.earlier.get("attempt"),
                                "trials": restored.rerun}
    notes = list(restored.notes)
    if len(left_out) > len(over):
        notes.append(f"{len(left_out) - len(over)} artifact(s) left out of the job's output: more than "
                     f"{ARTIFACTS_LIMIT // 2**20} MB in all")
    if over:
        notes.append(f"{len(over)} checkpoint(s) left out of the job's output: over grid_config checkpoint_limit_mb")
    if notes:
        metadata["notes"] = notes
    write_atomic(workdir / METADATA_FILE, fit_metadata(metadata))
    write_atomic(workdir / RESULT_FILE, dump_json(metadata))
    _pack_trials(project, workdir, left_out)
    failed = sum(e["state"] == "FAILED" for e in entries)
    return GridJobResult(metadata=metadata, completed=len(done), failed=failed)


def _not_restored(uid: str, values: Dict[str, Any], why: str) -> Dict[str, Any]:
    """A point that did not run: its checkpoint could not be restored."""
    return {"uid": uid, "number": None, "state": "FAILED", "params": values, "metrics": {}, "annotations": {},
            "value": None, "error": why, "started_at": None, "finished_at": None}


def _front_uids(objectives, entries: List[Dict[str, Any]]) -> List[str]:
    """uids of the job's Pareto-optimal trials (feasible, completed, every objective known)."""
    from hpogrid.pareto import front_mask

    known = [(e["uid"], objectives.values(e["metrics"])) for e in entries]
    known = [(uid, v) for uid, v in known if v is not None]
    mask = front_mask([v for _, v in known], objectives.modes) if known else []
    return [uid for (uid, _), on in zip(known, mask) if on]
