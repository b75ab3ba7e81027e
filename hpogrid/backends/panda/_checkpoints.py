"""Trial checkpoints across grid jobs: what a job leaves, and what a later job takes back.

A trial writes its checkpoint into ``<trial folder>/checkpoint/`` (``$HPOGRID_CHECKPOINT_DIR``).
A grid job's trial folders travel in its ``hpogrid_trials.tgz`` output (:mod:`._job`), each
trial's checkpoint up to grid_config ``checkpoint_limit_mb`` (a larger one stays out, with a
warning in the job's log and the annotation ``checkpoint``). A later job evaluating the same
trial gets it back before the trial starts:

* **a PanDA retry** (attempt > 1: the job failed, the pilot killed it). PanDA stages out only the
  log of a failed job: its working directory less the declared outputs, so the job's own store
  and trial folders (``.hpogrid-job/``). The retry downloads the task's log container, takes the
  log of its own job's latest earlier attempt (the marker ``job.json`` names task, seed, the
  job's index in a central search's task and attempt), puts that store and those folders back and resumes: finished trials are kept,
  interrupted ones run again under their uid, in their folder, from their checkpoint.
* **a point of a central search run again in a later task** (a promoted point of a
  multi-fidelity search, a ``--resume``): the driver names the earlier task's trials container
  with the point; the job fetches that trial's ``checkpoint/`` from it.

A checkpoint that cannot be restored fails that attempt with the reason: a retry whose earlier
attempt cannot be fetched raises (the job hands back the error), a point whose checkpoint
cannot be fetched or read ends FAILED without running (one the earlier task left none of starts
afresh).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from hpogrid.errors import GridError, HpogridError, NotFoundError
from hpogrid.study.records import ATTEMPTS
from hpogrid.trial import CHECKPOINT_DIR

#: the annotation of a trial whose checkpoint was left out of the job's output, or restored
CHECKPOINT_NOTE = "checkpoint"
#: grid_config ``checkpoint_limit_mb``'s default
DEFAULT_LIMIT_MB = 50.0
#: in the job's home: which job this is (travels in the job's log to a retry)
JOB_FILE = "job.json"
#: the pilot's attempt number of this job (pilot 3), and the loopback test server's name for it
ATTEMPT_ENVS = ("PanDA_AttemptNr", "PANDA_ATTEMPT_NR")


def attempt_nr() -> int:
    for name in ATTEMPT_ENVS:
        try:
            return max(1, int(os.environ.get(name) or ""))
        except ValueError:
            continue
    return 1


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def over_limit(project_path: Path, entries: List[Dict[str, Any]], limit_mb: float) -> List[Path]:
    """The checkpoint folders bigger than ``limit_mb``: left out of the job's output, each with a
    warning in the job's log and the trial's annotation ``checkpoint`` saying why."""
    out = []
    for entry in entries:
        for folder in sorted((project_path / "trials").glob(f"*/{entry['uid']}/{CHECKPOINT_DIR}")):
            size = folder_bytes(folder)
            if size <= limit_mb * 2**20:
                continue
            why = (f"the checkpoint of trial {entry['uid']} is {size / 2**20:.1f} MB, over grid_config "
                   f"checkpoint_limit_mb ({limit_mb:g} MB): not in the job's output, a later job starts it afresh")
            sys.stderr.write(f"[hpogrid] warning: {why}\n")
            entry["annotations"] = {**entry["annotations"], CHECKPOINT_NOTE: {"left_out": why, "bytes": size}}
            out.append(folder)
    return out


def write_marker(home: Path, name: str, seed: Optional[int], job: Optional[int] = None) -> None:
    """Name this job in its home, for a retry to find its log (see the module docstring)."""
    from hpogrid.fileio import dump_json, write_atomic

    home.mkdir(parents=True, exist_ok=True)
    write_atomic(home / JOB_FILE, dump_json({"project": name, "seed": seed, "job": job, "attempt": attempt_nr(),
                                             "pandaid": os.environ.get("PandaID"),
                                             "task_id": os.environ.get("PanDA_TaskID")}))


@dataclass
class Restored:
    """What a job took back before its run: the earlier attempt it continues (a retry), and the
    points whose checkpoint could not be restored (uid -> why)."""

    earlier: Optional[Dict[str, Any]] = None
    rerun: List[str] = field(default_factory=list)
    kept: List[str] = field(default_factory=list)
    failed: Dict[str, str] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)


def _download(container: str, dest: Path) -> List[Path]:
    from hpogrid.grid import rucio

    return rucio.download(container, str(dest))


def _unconfigured(fetch) -> Optional[str]:
    """Why this job cannot look anything up in Rucio (no client configuration), else None: a job
    without Rucio starts its trials afresh, as before checkpoints travelled, and says so."""
    if fetch is not _download:
        return None
    from hpogrid.errors import CredentialsError
    from hpogrid.grid import rucio

    try:
        rucio.config_file()
    except CredentialsError as exc:
        return str(exc)
    return None


def _warn(notes: Optional[List[str]], line: str) -> None:
    sys.stderr.write(f"[hpogrid] warning: {line}\n")
    if notes is not None:
        notes.append(line)


def _members(tar: tarfile.TarFile, marker: str) -> Tuple[Optional[str], List[tarfile.TarInfo]]:
    """(the folder holding ``marker`` in ``tar``, its members), or (None, [])."""
    names = tar.getmembers()
    hit = next((m.name for m in names if m.name == marker or m.name.endswith("/" + marker)), None)
    if hit is None:
        return None, []
    prefix = hit[: -len(marker)]
    return prefix, [m for m in names if m.name.startswith(prefix)]


def _extract(tar: tarfile.TarFile, members: Iterable[tarfile.TarInfo], strip: str, dest: Path) -> int:
    """Extract the regular files and folders of ``members`` less ``strip`` into ``dest``."""
    n = 0
    for m in members:
        rel = m.name[len(strip):].lstrip("/")
        if not rel or ".." in Path(rel).parts or not (m.isfile() or m.isdir()):
            continue
        target = dest / rel
        if m.isdir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        source = tar.extractfile(m)
        if source is None:
            continue
        with open(target, "wb") as out:
            shutil.copyfileobj(source, out)
        n += 1
    return n


def restore_attempt(workdir: Path, home: Path, name: str, seed: Optional[int], out_ds: Optional[str],
                    fetch=_download, notes: Optional[List[str]] = None,
                    job: Optional[int] = None) -> Optional[Dict[str, Any]]:
    """A retried job (attempt > 1): its earlier attempt's store and trial folders back from the
    task's log container; the earlier attempt's marker, or None on a first attempt or when no
    earlier attempt left a log (the job then starts afresh). Raises GridError when the log
    cannot be fetched or read (the attempt fails with the reason)."""
    mine = attempt_nr()
    if mine <= 1 or not out_ds:
        return None
    task = os.environ.get("PanDA_TaskID")
    container = f"{out_ds.rstrip('/')}.log/"
    if (why := _unconfigured(fetch)) is not None:
        _warn(notes, f"attempt {mine} starts afresh: the earlier attempt's checkpoints in {container} cannot "
                     f"be looked up ({why})")
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="hpogrid-retry-", dir=workdir) as tmp:
            found = None
            try:
                logs = fetch(container, Path(tmp))
            except NotFoundError:  # no earlier attempt left a log
                logs = []
            for path in logs:
                with tarfile.open(path) as tar:
                    prefix, members = _members(tar, f"{home.name}/{JOB_FILE}")
                    if prefix is None:
                        continue
                    raw = tar.extractfile(prefix + f"{home.name}/{JOB_FILE}")
                    marker = json.load(raw) if raw is not None else {}
                if (str(marker.get("task_id")) == str(task) and marker.get("seed") == seed
                        and marker.get("job") == job
                        and marker.get("project") == name and int(marker.get("attempt") or 0) < mine
                        and (found is None or int(marker["attempt"]) > int(found[0]["attempt"]))):
                    found = (marker, path, prefix)
            if found is None:
                return None
            marker, path, prefix = found
            with tarfile.open(path) as tar:
                _, members = _members(tar, f"{home.name}/{JOB_FILE}")
                project = f"{prefix}{home.name}/projects/{name}/"
                _extract(tar, [m for m in members if m.name.startswith(project)
                               and not m.name.startswith(project + "config/")], project, home / "projects" / name)
    except HpogridError as exc:
        raise GridError(f"attempt {mine}: the checkpoints of the earlier attempt could not be restored from "
                        f"{container} ({exc})") from None
    except (OSError, tarfile.TarError, ValueError) as exc:
        raise GridError(f"attempt {mine}: the earlier attempt's log in {container} could not be read "
                        f"({type(exc).__name__}: {exc})") from None
    return marker


def restore_points(project_path: Path, study: str, sources: Dict[str, str], workdir: Path,
                   fetch=_download, notes: Optional[List[str]] = None) -> Dict[str, str]:
    """Each point's checkpoint from the earlier task's trials container (uid -> container) into
    its trial folder; returns uid -> why for those that could not be restored."""
    failed: Dict[str, str] = {}
    if (why := _unconfigured(fetch)) is not None:
        _warn(notes, f"{len(sources)} point(s) start afresh: their checkpoints cannot be looked up ({why})")
        return failed
    by_container: Dict[str, List[str]] = {}
    for uid, container in sources.items():
        by_container.setdefault(container, []).append(uid)
    for container, uids in by_container.items():
        try:
            with tempfile.TemporaryDirectory(prefix="hpogrid-ckpt-", dir=workdir) as tmp:
                try:
                    archives = fetch(container, Path(tmp))
                except NotFoundError:  # the earlier task left no output: nothing to restore
                    archives = []
                for uid in uids:  # a point the earlier task left no checkpoint of starts afresh
                    _restore_one(archives, uid, project_path / "trials" / study / uid / CHECKPOINT_DIR)
        except HpogridError as exc:
            failed.update({uid: f"its checkpoint could not be fetched from {container} ({exc})" for uid in uids})
        except (OSError, tarfile.TarError) as exc:
            failed.update({uid: f"its checkpoint in {container} could not be read ({exc})" for uid in uids})
    return {uid: f"checkpoint not restored: {why}" for uid, why in failed.items()}


def _restore_one(archives: List[Path], uid: str, dest: Path) -> bool:
    """The newest archive's ``*/trials/*/<uid>/checkpoint/`` into ``dest``; False if none has it."""
    for path in sorted(archives, key=lambda p: p.stat().st_mtime, reverse=True):
        with tarfile.open(path) as tar:
            members = [m for m in tar.getmembers() if _in_checkpoint(m.name, uid)]
            if not members:
                continue
            strip = members[0].name.split(f"/{uid}/{CHECKPOINT_DIR}")[0] + f"/{uid}/{CHECKPOINT_DIR}"
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            _extract(tar, members, strip, dest)
            return True
    return False


def _in_checkpoint(name: str, uid: str) -> bool:
    parts = name.split("/")
    return any(parts[i] == "trials" and parts[i + 2] == uid and parts[i + 3] == CHECKPOINT_DIR
               for i in range(len(parts) - 3))


def lost_attempts(jobs: List[Dict[str, Any]], upto: Dict[str, Any], every_earlier: bool = False) -> List[Dict[str, Any]]:
    """The attempts of ``upto``'s grid job before it that did not finish, as the ``attempts``
    annotation (attempt, reason, site, error, end): the chain its metadata ``restored`` names,
    or with ``every_earlier`` (a task of one job) every earlier attempt of the task that failed."""
    if every_earlier:
        mine = int(upto.get("attemptnr") or 1)
        return [_attempt(j) for j in sorted(jobs, key=lambda j: int(j.get("attemptnr") or 1))
                if int(j.get("attemptnr") or 1) < mine and str(j.get("jobstatus", "")).lower() != "finished"]
    by_id = {str(j.get("pandaid")): j for j in jobs}
    out: List[Dict[str, Any]] = []
    seen = set()
    job = upto
    while True:
        metadata = raw if isinstance(raw := job.get("metadata"), dict) else {}
        earlier = restored.get("pandaid") if isinstance(restored := metadata.get("restored"), dict) else None
        prev = by_id.get(str(earlier)) if earlier is not None else None
        if prev is None or str(prev.get("pandaid")) in seen:
            break
        seen.add(str(prev.get("pandaid")))
        out.append(_attempt(prev))
        job = prev
    return sorted(out, key=lambda a: a["attempt"])


def _attempt(prev: Dict[str, Any]) -> Dict[str, Any]:
    """One lost grid attempt as an ``attempts`` entry."""
    from hpogrid.backends.panda._states import parse_time

    pilot, dialog = prev.get("piloterrordiag"), prev.get("errordialog")
    status = str(prev.get("jobstatus", "")).lower()
    ended = parse_time(prev.get("endtime"))
    return {"attempt": int(prev.get("attemptnr") or 1),
            "reason": f"pilot: {pilot}" if pilot else f"grid job {status}: {dialog}" if dialog
            else f"grid job {prev.get('pandaid')} {status}",
            "where": {"site": str(prev.get("computingsite") or "")},
            "error": None, "ended": ended.isoformat() if ended else None}  # (the reason says it all)
