"""The files grid trials kept (:func:`hpogrid.trial.save_artifact`), brought home by the sync.

A grid job packs its trial folders, artifacts included (up to ``ARTIFACTS_LIMIT`` per job,
see :mod:`._job`), into its ``hpogrid_trials.tgz`` output, which PanDA puts in the task's
output container ``<outDS>_hpogrid_trials.tgz`` in Rucio. The sync stores each trial with its
artifacts listed where they will be in this project (``trials/STUDY/UID/artifacts/NAME``),
then fetches the job's archive from Rucio (only while a listed file is missing or differs),
takes the job's archive by the marker naming its PandaID, and keeps each artifact whose
SHA-256 matches what the job recorded. Failing to reach Rucio is a note: the next sync tries again.

A central search's points (:mod:`._central`) keep the driver's trial folders
(``trials/STUDY/UID``): the driver fetches each task's archive as its job ends, and the sync
fetches what the driver could not.
"""
from __future__ import annotations

import hashlib
import json
import os
import tarfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from hpogrid.backends.panda._job import JOB_MARKER, TRIALS_ARCHIVE
from hpogrid.backends.panda._records import Submission
from hpogrid.errors import HpogridError
from hpogrid.trial import ARTIFACTS_DIR, ARTIFACTS_KEY, artifacts

#: (submission, folder to download into) -> the trial archives of the submission's jobs
Fetcher = Callable[[Submission, Path], List[Path]]


def localised(annotations: Dict[str, Any], folder: Path) -> Dict[str, Any]:
    """``annotations`` with each artifact's ``file`` where the sync keeps it (in ``folder``)."""
    listed = artifacts(annotations)
    if not listed:
        return annotations
    here = {name: {**a, "file": str(folder / ARTIFACTS_DIR / name)} for name, a in listed.items()
            if "left_out" not in a}
    gone = {name: {k: v for k, v in a.items() if k != "file"} for name, a in listed.items() if "left_out" in a}
    return {**annotations, ARTIFACTS_KEY: {**here, **gone}}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def rucio_archives(sub: Submission, dest: Path) -> List[Path]:
    """The trial archives in the task's output container, downloaded to ``dest`` (rucio-clients
    skips files already there with the right checksum)."""
    from hpogrid.grid import rucio

    container = f"{sub.out_ds.rstrip('/')}_{TRIALS_ARCHIVE}"
    return [p for p in rucio.download(container, str(dest)) if p.name.endswith(TRIALS_ARCHIVE)]


def trial_folder(sub: Submission, pandaid: Any, uid: Any, trials_root: Path) -> Path:
    """A grid trial's folder in this project: a central search's point under its own uid (the
    driver's folder), a per-job search's trial under its task, job and trial id."""
    if (sub.extra or {}).get("central"):
        return trials_root / str(uid)
    return trials_root / f"panda.{sub.task_id}.{pandaid}.{uid}"


def _wanted(job: Dict[str, Any], sub: Submission, trials_root: Path,
            only: Optional[Set[str]] = None) -> List[Tuple[str, str, str, Path]]:
    """(job's trial uid, name, sha256, local path) of the artifacts missing here (of the trials
    ``only`` names, if given)."""
    metadata = raw if isinstance(raw := job.get("metadata"), dict) else {}
    out = []
    for t in metadata.get("trials") or []:
        if not isinstance(t, dict) or not isinstance(t.get("annotations"), dict):
            continue
        if only is not None and str(t.get("uid")) not in only:
            continue
        pandaid = t.get("job") or job.get("pandaid")  # (a trial a retry kept is its earlier attempt's)
        folder = trial_folder(sub, pandaid, t.get("uid"), trials_root) / ARTIFACTS_DIR
        for name, a in artifacts(t["annotations"]).items():
            if "left_out" in a or not a.get("sha256"):
                continue
            dest = folder / name
            if not (dest.is_file() and sha256(dest) == a["sha256"]):
                out.append((str(t.get("uid")), name, str(a["sha256"]), dest))
    return out


def _job_archive(archives: List[Path], pandaid: str) -> Optional[Path]:
    for path in archives:
        try:
            with tarfile.open(path) as tar:
                marker = tar.extractfile(JOB_MARKER)
                if marker is not None and str(json.load(marker).get("pandaid")) == pandaid:
                    return path
        except (OSError, KeyError, ValueError, tarfile.TarError):
            continue
    return None


def fetch_artifacts(sub: Submission, job: Dict[str, Any], project_path: Path, study: str, notes: List[str],
                    fetcher: Optional[Fetcher] = None, cache: Optional[Dict[int, List[Path]]] = None,
                    only: Optional[Set[str]] = None) -> bool:
    """Bring the artifacts of ``job``'s trials (those ``only`` names, if given) into their trial
    folders; False when they could not be fetched now (worth another sync), with a note saying why."""
    if str(job.get("jobstatus", "")).lower() != "finished":  # only a finished job's outputs reach Rucio
        return True
    wanted = _wanted(job, sub, project_path / "trials" / study, only)
    if not wanted:
        return True
    cache = {} if cache is None else cache
    try:
        if sub.task_id not in cache:
            cache[sub.task_id] = (fetcher or rucio_archives)(sub, project_path / "grid" / "outputs")
    except HpogridError as exc:
        notes.append(f"artifacts of task {sub.task_id} not fetched ({exc}); the next sync tries again")
        cache[sub.task_id] = []
        return False
    pandaid = str(job.get("pandaid"))
    archive = _job_archive(cache[sub.task_id], pandaid)
    if archive is None:
        notes.append(f"artifacts of grid job {pandaid} not fetched: its {TRIALS_ARCHIVE} is not in the "
                     "task's output yet; the next sync tries again")
        return False
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        for uid, name, digest, dest in wanted:
            found = [m for key, m in members.items() if _is_artifact(key, uid, name)]
            source = tar.extractfile(found[0]) if found else None
            if source is None:
                notes.append(f"artifact {name!r} of grid trial {uid} is not in job {pandaid}'s output")
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{name}.{os.getpid()}.part")
            try:
                with open(tmp, "wb") as out:
                    for block in iter(lambda: source.read(1 << 20), b""):
                        out.write(block)
                if sha256(tmp) != digest:
                    notes.append(f"artifact {name!r} of grid trial {uid} in job {pandaid}'s output does not have "
                                 "the SHA-256 the job recorded: not kept")
                    continue
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
    return True


def _is_artifact(key: str, uid: str, name: str) -> bool:
    """Is archive member ``key`` ``PROJECT/trials/STUDY/UID/artifacts/NAME``?"""
    parts = key.split("/")
    return len(parts) == 6 and parts[1] == "trials" and parts[3:] == [uid, ARTIFACTS_DIR, name]
