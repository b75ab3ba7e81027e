"""What runs inside a grid job: ``hpogrid run PROJECT --mode grid --seed N``.

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
from typing import Any, Dict, List, Optional

from hpogrid.backends.panda._sandbox import CONFIG_FOLDER
from hpogrid.errors import NotFoundError

#: the pilot reads this file from the working directory as the job's metadata
METADATA_FILE = "userJobMetadata.json"
#: files a job leaves for the outDS
RESULT_FILE = "hpo_result.json"
TRIALS_ARCHIVE = "hpogrid_trials.tgz"
OUTPUTS = (RESULT_FILE, TRIALS_ARCHIVE)
#: where the job keeps its own store (inside the working directory, packed into TRIALS_ARCHIVE)
JOB_HOME = ".hpogrid-job"
_ERROR_CHARS = 2000


@dataclass
class GridJobResult:
    metadata: Dict[str, Any]
    completed: int
    failed: int


def _iso(value) -> Optional[str]:
    return value.isoformat() if value is not None else None


def trial_entry(t) -> Dict[str, Any]:
    """One trial as it travels in the job metadata (no per-iteration history: metadata is small)."""
    return {"uid": t.uid, "number": t.number, "state": t.state, "params": t.params, "metrics": t.metrics,
            "value": t.value, "error": (t.error or None) and t.error[-_ERROR_CHARS:],
            "started_at": _iso(t.started_at), "finished_at": _iso(t.finished_at)}


def _sandbox_project(name: str, workdir: Path):
    """The project as unpacked in ``workdir``: scripts there, its own store next to them."""
    import shutil

    from hpogrid.project import Project, load_project

    config = workdir / CONFIG_FOLDER / "config.json"
    if not config.is_file():
        raise NotFoundError(f"no project sandbox in {workdir} ({CONFIG_FOLDER}/config.json is missing): "
                            "'hpogrid run --mode grid' is what a grid job runs; use 'hpogrid run PROJECT' "
                            "to submit, or 'hpogrid local_run PROJECT' to run here")
    home = workdir / JOB_HOME
    folder = home / "projects" / name / "config"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(config, folder / "config.json")
    os.environ["HPOGRID_HOME"] = str(home)

    class SandboxProject(Project):
        @property
        def scripts_dir(self) -> Path:  # scripts and staged inputs share the working directory
            return workdir

    return SandboxProject(**vars(load_project(name)))


def _pack_trials(project, workdir: Path) -> None:
    with tarfile.open(workdir / TRIALS_ARCHIVE, "w:gz") as tar:
        tar.add(project.path, arcname=project.name)


def run_grid_job(name: str, seed: Optional[int], workdir: Optional[Path] = None,
                 trials: Optional[int] = None) -> GridJobResult:
    """Run the HPO of the sandboxed project ``name`` and write the job's metadata and outputs."""
    from hpogrid import __version__
    from hpogrid.backends.local import RunOptions, run_local
    from hpogrid.errors import HpogridError
    from hpogrid.fileio import dump_json, write_atomic
    from hpogrid.study import StudyStore, sqlite_url
    from hpogrid import paths

    workdir = Path(workdir or os.environ.get("HPOGRID_WORKDIR") or os.getcwd()).resolve()
    project = _sandbox_project(name, workdir)
    hpo = project.hpo_config
    error = None
    try:
        summary = run_local(project, RunOptions(seed=seed, trials=trials, progress=False))
        algorithm = summary.algorithm
    except HpogridError as exc:  # still hand back what ran, with the reason
        error, algorithm = str(exc), hpo.get("algorithm")
    db = paths.study_db(name)
    records: List = StudyStore(sqlite_url(db)).trials(name) if db.is_file() else []
    entries = [trial_entry(t) for t in records]
    done = [e for e in entries if e["state"] == "COMPLETED" and e["value"] is not None]
    best = (max if hpo["mode"] == "max" else min)(done, key=lambda e: e["value"]) if done else None
    metadata = {"hpogrid": __version__, "project": name, "seed": seed, "algorithm": algorithm,
                "metric": hpo["metric"], "mode": hpo["mode"], "error": error, "best": best, "trials": entries}
    text = dump_json(metadata)
    write_atomic(workdir / METADATA_FILE, text)
    write_atomic(workdir / RESULT_FILE, text)
    _pack_trials(project, workdir)
    failed = sum(e["state"] == "FAILED" for e in entries)
    return GridJobResult(metadata=metadata, completed=len(done), failed=failed)
