"""Pack a project as the PanDA sandbox the grid job unpacks in its working directory.

Layout (the README's container notes: scripts and input files share the working directory,
``/hpogrid/project`` by default)::

    <scripts of the project>          training scripts at the top level
    .hpogrid-project/config.json      the project's config snapshot
    .hpogrid-project/bootstrap.py     what the job starts with (._bootstrap): the image's hpogrid
    .hpogrid-project/lib/hpogrid/     when it is at least this one's version, else this copy

Study files, Ray logs and caches stay home: the job records into its own store and hands
its trials back through the job metadata.
"""
from __future__ import annotations

import tarfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from hpogrid.errors import ValidationError
from hpogrid.project import SANDBOX_LIMIT

if TYPE_CHECKING:
    from hpogrid.project import Project

#: folder of the sandbox holding the project config (hidden so it cannot clash with a script)
CONFIG_FOLDER = ".hpogrid-project"
#: in CONFIG_FOLDER: the points a central search's jobs evaluate instead of searching (each
#: point names its job's index in the task; the job is told its index by ``--job``)
POINTS_FILE = "points.json"
#: in CONFIG_FOLDER: the task's outDS (a retried job finds its earlier attempt's log by it)
GRID_FILE = "grid.json"
_SKIP_DIRS = {"__pycache__", ".git", ".ipynb_checkpoints"}
BOOTSTRAP = "bootstrap.py"


def job_command(container: Optional[str], *args: str) -> Tuple[str, ...]:
    """The exec string of a grid job running ``hpogrid ARGS`` through the sandbox's bootstrap."""
    from hpogrid import __version__

    return ("python3", f"{CONFIG_FOLDER}/{BOOTSTRAP}", container or "(none)", __version__, *args)


def _own_package():
    """This hpogrid's files (sources and package data), as the bootstrap's copy in the sandbox."""
    import hpogrid

    root = Path(hpogrid.__file__).resolve().parent
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and path.suffix in (".py", ".json") and "__pycache__" not in rel.parts:
            yield path, f"{CONFIG_FOLDER}/lib/hpogrid/{rel.as_posix()}"


def _members(scripts: Path):
    for path in sorted(scripts.rglob("*")):
        rel = path.relative_to(scripts)
        if any(part in _SKIP_DIRS for part in rel.parts) or path.suffix == ".pyc":
            continue
        if path.is_file() and not path.is_symlink():
            yield path, rel.as_posix()


def pack_project(project: Project, dest_dir: Path, points: Optional[List[Tuple[str, Dict[str, Any]]]] = None,
                 stop: Optional[Dict[str, Any]] = None, out_ds: Optional[str] = None,
                 checkpoints: Optional[Dict[str, str]] = None, jobs: Optional[Dict[str, int]] = None) -> Path:
    """Write the sandbox of ``project`` into ``dest_dir``; refuses sizes PanDA would reject.

    ``points`` (uid, values): the trials a job of a central search evaluates (``points.json``),
    so they travel with the task and a retried job evaluates the same ones. ``stop``: their
    budget (a wave of a multi-fidelity search, :mod:`._waves`), instead of the hpo_config's.
    ``out_ds``: the task's (``grid.json``). ``checkpoints``: uid -> the trials container of the
    earlier task that ran the point, whose checkpoint the job restores (:mod:`._checkpoints`).
    ``jobs``: uid -> the index (1..N) of the task's job that evaluates the point (``"job"`` in
    ``points.json``): the N jobs of a task share one sandbox and each takes its own points.
    """
    import io
    import json

    from hpogrid.project import config_file

    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / f"jobO.hpogrid.{project.name}.{uuid.uuid4().hex[:12]}.tar.gz"
    with tarfile.open(out, "w:gz", compresslevel=6) as tar:  # (zlib's default: 9 costs twice the CPU per wave)
        for path, arcname in _members(project.scripts_dir):
            tar.add(path, arcname=arcname, recursive=False)
        tar.add(config_file(project.path), arcname=f"{CONFIG_FOLDER}/config.json", recursive=False)
        from hpogrid.backends.panda import _bootstrap

        tar.add(_bootstrap.__file__, arcname=f"{CONFIG_FOLDER}/{BOOTSTRAP}", recursive=False)
        for path, arcname in _own_package():
            tar.add(path, arcname=arcname, recursive=False)
        extra: Dict[str, bytes] = {}
        if points is not None:
            extra[POINTS_FILE] = json.dumps([
                {"uid": uid, "values": values, **({"stop": stop} if stop else {}),
                 **({"job": jobs[uid]} if jobs and uid in jobs else {}),
                 **({"checkpoint": checkpoints[uid]} if checkpoints and uid in checkpoints else {})}
                for uid, values in points]).encode()
        if out_ds is not None:
            extra[GRID_FILE] = json.dumps({"out_ds": out_ds}).encode()
        for name, data in extra.items():
            info = tarfile.TarInfo(f"{CONFIG_FOLDER}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    size = out.stat().st_size
    if size > SANDBOX_LIMIT:
        out.unlink()
        raise ValidationError("scripts_path", f"the project sandbox is {size / 2**20:.1f} MB but PanDA takes at "
                              f"most {SANDBOX_LIMIT // 2**20} MB: keep data out of the scripts folder and upload "
                              "it as the input dataset (hpogrid dataset upload)")
    return out
