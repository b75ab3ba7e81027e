"""What the grid jobs of a central search did to the trials they carried, read off PanDA's job records.

A central search's task holds N jobs (one wave of the driver), job k (``grid_job --job k``,
JEDI's serial number k of the task's ``%RNDM`` sequence) evaluating the points the driver gave
index k (the trial annotation ``task_job``); a retry of job k is a new PandaID with the same k.
Shared by the driver's executor (following its tasks), by ``--resume`` (taking over the tasks
of a driver that died) and by the sync of ``report``: one rule for when a job's trials are over
and how they ended.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple
from urllib.parse import unquote

from hpogrid.backends.panda._states import (ENDED_JOB_STATES, FAILED_JOB_STATES, FINAL_TASK_STATES,
                                            RUNNING_JOB_STATES, STOPPED_JOB_STATES)
from hpogrid.engine import Ended, Started
from hpogrid.search.define_by_run import DISTRIBUTIONS_ANNOTATION
from hpogrid.study.records import COMPLETED, FAILED, INTERRUPTED, TrialState

#: the annotation of a point: the index (1..N) of the job of its task that evaluates it
TASK_JOB = "task_job"
#: annotations the driver writes itself (the job's own values of these are about the job's copy)
DRIVER_ANNOTATIONS = ("trial_dir", "searcher_told", "taskname", "attempt", "seed", TASK_JOB)
#: ``grid_job ... --job K`` in a job's parameters (the exec string, URL-quoted by prun's way)
_JOB_ARG = re.compile(r"(?:^|\s)--job[\s=](\d+)(?=\s|\"|$)")


def job_index(job: Dict[str, Any]) -> Optional[int]:
    """The index of ``job`` in its task: from its parameters (the exec string JEDI filled in,
    which ``job/get_description_incl_archive`` returns), else from what the job handed back."""
    params = job.get("jobparameters")
    if isinstance(params, str) and "--job" in unquote(params):
        found = _JOB_ARG.search(unquote(params))
        if found:
            return int(found.group(1))
    metadata = job.get("metadata")
    index = metadata.get("job") if isinstance(metadata, dict) else None
    return index if isinstance(index, int) and not isinstance(index, bool) else None


def by_job(jobs: Iterable[Dict[str, Any]]) -> Dict[Optional[int], List[dict]]:
    """A task's job records (every attempt) by job index (None: records without one)."""
    out: Dict[Optional[int], List[dict]] = {}
    for job in jobs:
        out.setdefault(job_index(job), []).append(job)
    return out


def jobs_of(grouped: Dict[Optional[int], List[dict]], index: Optional[int]) -> List[dict]:
    """The attempts of job ``index``; for points without an index (a task of one job, submitted
    before tasks had several), every job of the task."""
    if index is None:
        return [j for js in grouped.values() for j in js]
    return grouped.get(index, []) + (grouped.get(None, []) if len(grouped) == 1 else [])


def task_ended(jobs: List[dict], groups: Dict[Optional[int], List[str]], task_status: str,
               trials_root: Path) -> List[Tuple[Optional[int], Optional[dict], List[Ended]]]:
    """(index, its latest attempt, how its points ended) of each job of a task whose points are
    over (:func:`ended`, with the attempts lost before it); ``groups``: index -> the points."""
    grouped = by_job(jobs)
    out = []
    for index, uids in groups.items():
        attempts = jobs_of(grouped, index)
        job = latest_job(attempts)
        over = ended(job, uids, task_status, trials_root)
        if over is not None:
            out.append((index, job, with_lost_attempts(over, attempts, job)))
    return out


def group_uids(uids: Iterable[str], index_of: Dict[str, Optional[int]]) -> Dict[Optional[int], List[str]]:
    """``uids`` by the index of the job carrying each (None: unknown, a task of one job)."""
    out: Dict[Optional[int], List[str]] = {}
    for uid in uids:
        out.setdefault(index_of.get(uid), []).append(uid)
    return out


def with_lost_attempts(events: List[Ended], jobs: List[dict], job: Optional[dict]) -> List[Ended]:
    """``events`` with the attempts of ``job`` lost before it (a PanDA retry that went on from its
    earlier attempt's checkpoints) in the annotation ``attempts`` of the trials it ran again."""
    from hpogrid.backends.panda._checkpoints import ATTEMPTS, lost_attempts

    if job is None:
        return events
    metadata = raw if isinstance(raw := job.get("metadata"), dict) else {}
    restored = metadata.get("restored") if isinstance(metadata.get("restored"), dict) else None
    # ``jobs``: the attempts of one job of a central search: its earlier attempts are those lost
    lost = lost_attempts(jobs, job) or lost_attempts(jobs, job, every_earlier=True)
    if not lost:
        return events
    from dataclasses import replace

    again = set(restored.get("trials") or []) if restored else set()
    return [replace(e, fields={**e.fields, "annotations": {**(e.fields.get("annotations") or {}), ATTEMPTS: lost}})
            if not again or e.uid in again else e for e in events]


def latest_job(jobs: List[dict]) -> Optional[dict]:
    """The newest attempt of a job (a retry is a new PandaID with attemptNr + 1)."""
    if not jobs:
        return None
    return max(jobs, key=lambda j: (int(j.get("attemptnr") or 0), int(j.get("pandaid") or 0)))


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def job_fields(job: dict) -> Dict[str, Any]:
    return {"job_id": str(job.get("pandaid")), "site": job.get("computingsite"),
            "annotations": {"attempt": _int(job.get("attemptnr"), 1)}}


def is_running(job: Optional[dict]) -> bool:
    return job is not None and str(job.get("jobstatus", "")).lower() in RUNNING_JOB_STATES


def started(job: Optional[dict], uids: List[str]) -> List[Started]:
    """The trials of a job that runs now (empty while it waits in PanDA)."""
    if job is None or not is_running(job):
        return []
    return [Started(uid, job_fields(job)) for uid in uids]


def carried(entry: Dict[str, Any], folder: Path) -> Dict[str, Any]:
    """What the job's trial annotated (:func:`hpogrid.trial.annotate`, its artifacts), with each
    artifact's ``file`` where it is kept here (``folder``: the trial's folder in this project;
    :mod:`._artifacts` fetches it from the job's output); the driver's own annotations stay."""
    from hpogrid.backends.panda._artifacts import localised

    raw = entry.get("annotations")
    notes = {k: v for k, v in (raw if isinstance(raw, dict) else {}).items() if k not in DRIVER_ANNOTATIONS and k != DISTRIBUTIONS_ANNOTATION}
    return localised(notes, folder)


def ended(job: Optional[dict], uids: List[str], task_status: str, trials_root: Path) -> Optional[List[Ended]]:
    """How the trials ``uids`` of a task ended; None while its job may still run or be retried.

    A job's trials come from its metadata (what ``hpogrid grid_job`` handed back), with their
    annotations (artifacts listed in ``trials_root/<uid>``); a trial the metadata lacks is FAILED
    with PanDA's error (the job died), or INTERRUPTED when the job was cancelled (``tasks kill``).
    A failed job with attempts left is not over: JEDI retries it.
    """
    if job is None:
        return None if task_status not in FINAL_TASK_STATES else [
            Ended(uid, INTERRUPTED if task_status == "aborted" else FAILED,
                  error=f"the grid task ended {task_status} before its job ran") for uid in uids]
    status = str(job.get("jobstatus", "")).lower()
    if status not in ENDED_JOB_STATES:
        return None
    attempt, attempts = _int(job.get("attemptnr"), 1), _int(job.get("maxattempt"), 1)
    if status in FAILED_JOB_STATES and attempt < attempts and task_status not in FINAL_TASK_STATES:
        return None  # JEDI runs it again
    metadata = raw if isinstance(raw := job.get("metadata"), dict) else {}
    entries = {t.get("uid"): t for t in metadata.get("trials") or [] if isinstance(t, dict)}
    fields = job_fields(job)
    reason = (metadata.get("error") or job.get("piloterrordiag") or job.get("errordialog")
              or f"grid job {job.get('pandaid')} ended {status} without a result for this trial")
    out = []
    for uid in uids:
        entry = entries.get(uid)
        if entry is not None:
            state = TrialState(entry["state"]) if entry.get("state") in (COMPLETED, FAILED, INTERRUPTED) else FAILED
            # a define-by-run model's trial: the parameters it used, with their distributions
            dists = (entry.get("annotations") or {}).get(DISTRIBUTIONS_ANNOTATION)
            used = entry.get("params") if isinstance(dists, dict) and isinstance(entry.get("params"), dict) else None
            curve = entry.get("curve")  # a wave of a multi-fidelity search: the per-iteration values
            notes = {**carried(entry, trials_root / uid), **fields["annotations"]}
            out.append(Ended(uid, state, metrics=entry.get("metrics") or {}, error=entry.get("error"),
                             history=curve if isinstance(curve, list) else None,
                             fields={**fields, "annotations": notes}, params=used,
                             distributions=dists if used is not None else None))
        else:
            state = INTERRUPTED if status in STOPPED_JOB_STATES else FAILED
            out.append(Ended(uid, state, error=f"{reason} (attempt {attempt} of {attempts})", fields=fields))
    return out
