"""Bring the trials of a project's grid jobs into its study store.

Each job hands its trials back in its PanDA job metadata (``userJobMetadata.json``, see
:mod:`._job`); they are stored under a uid made of task, job and trial id, so syncing again
updates the same rows and adds nothing. Tasks already synced in a final state are not asked
again while PanDA shows them unchanged (a retry changes them), so a report of many old tasks
costs one listing request.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from hpogrid.backends.panda._records import Submission, load_submissions
from hpogrid.backends.panda._states import (ACTIVE_JOB_STATES, FAILED_JOB_STATES, FINAL_TASK_STATES,
                                            STOPPED_JOB_STATES, parse_time, task_signature)

if TYPE_CHECKING:
    from hpogrid.project import Project

BACKEND = "panda"


@dataclass
class SyncResult:
    tasks: int = 0
    asked: int = 0
    trials: int = 0
    running_jobs: int = 0
    notes: List[str] = field(default_factory=list)


def _synced_file(project_path: Path) -> Path:
    return project_path / "grid" / "synced.json"


def _load_synced(project_path: Path, target: str) -> Dict[str, str]:
    """task id -> PanDA state signature at its last sync into ``target`` (store URL + study)."""
    try:
        data = json.loads(_synced_file(project_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    entry = data.get(target) if isinstance(data, dict) else None
    return dict(entry) if isinstance(entry, dict) else {}


def _save_synced(project_path: Path, target: str, synced: Dict[str, str]) -> None:
    from hpogrid.fileio import dump_json, write_atomic

    try:
        data = json.loads(_synced_file(project_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data = data if isinstance(data, dict) else {}
    data[target] = synced
    write_atomic(_synced_file(project_path), dump_json(data))


def _states_file(project_path: Path) -> Path:
    return project_path / "grid" / "states.json"


def grid_states(project_path: Path) -> Dict[str, Dict[str, Any]]:
    """task id -> PanDA's task status and job statuses at the last sync that asked about it
    (``{"status", "jobs": {pandaid: {"status", "site"}}, "synced_at"}``); {} before any."""
    try:
        data = json.loads(_states_file(project_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_states(project_path: Path, changed, all_jobs) -> None:
    """Remember what PanDA said about the tasks just asked (for the dashboard's grid view)."""
    from datetime import timezone

    from hpogrid.fileio import dump_json, write_atomic

    data = grid_states(project_path)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for sub, task in changed:
        jobs = {str(j.get("pandaid")): {"status": str(j.get("jobstatus", "")).lower(),
                                        "site": j.get("computingsite")}
                for j in all_jobs.get(sub.task_id, [])}
        data[str(sub.task_id)] = {"status": str(task.get("status", "")).lower(), "jobs": jobs, "synced_at": now}
    write_atomic(_states_file(project_path), dump_json(data))


def _job_fields(sub: Submission, job: Dict[str, Any], metadata: Dict[str, Any]) -> Dict[str, Any]:
    annotations = {"taskname": sub.taskname, "seed": metadata.get("seed"), "attempt": job.get("attemptnr")}
    return {"backend": BACKEND, "task_id": str(sub.task_id), "job_id": str(job.get("pandaid")),
            "site": job.get("computingsite") or sub.site,
            "annotations": {k: v for k, v in annotations.items() if v is not None}}


def _store_job(store, study: str, sub: Submission, job: Dict[str, Any], trials_root: Optional[Path] = None,
               jobs: Optional[List[Dict[str, Any]]] = None) -> int:
    from hpogrid.backends.panda._artifacts import localised, trial_folder
    from hpogrid.backends.panda._checkpoints import ATTEMPTS, lost_attempts

    metadata = raw if isinstance(raw := job.get("metadata"), dict) else {}
    common = _job_fields(sub, job, metadata)
    trials = metadata.get("trials") or []
    restored = raw if isinstance(raw := metadata.get("restored"), dict) else {}
    # a retry that went on from its earlier attempt: the attempts lost on the way, on the trials it ran again
    lost = lost_attempts(jobs or [], job) if restored else []
    again = set(restored.get("trials") or [])
    for t in trials:
        # a trial a retry kept from its earlier attempt is that attempt's (the same row, whichever job syncs first)
        pandaid = t.get("job") or job.get("pandaid")
        prefix = f"panda.{sub.task_id}.{pandaid}"
        notes = t.get("annotations") if isinstance(t.get("annotations"), dict) else {}
        if trials_root is not None:  # its artifacts: where the sync puts them in this project
            notes = localised(notes, trial_folder(sub, pandaid, t.get("uid"), trials_root))
        if lost and t.get("uid") in again:
            notes = {**notes, ATTEMPTS: lost}
        fields = {**common, "job_id": str(pandaid), "annotations": {**notes, **common["annotations"]}}
        store.upsert_trial(study, f"{prefix}.{t.get('uid')}", state=t.get("state") or "COMPLETED",
                           params=t.get("params") or {}, metrics=t.get("metrics") or {},
                           error=t.get("error"), started_at=parse_time(t.get("started_at")),
                           finished_at=parse_time(t.get("finished_at")), **fields)
    prefix = f"panda.{sub.task_id}.{job.get('pandaid')}"
    status = str(job.get("jobstatus", "")).lower()
    if trials or status not in FAILED_JOB_STATES | STOPPED_JOB_STATES:
        return len(trials)
    # a job that died before handing back any trial still shows up, with PanDA's reason
    reason = metadata.get("error") or job.get("errordialog") or job.get("piloterrordiag") or \
        f"grid job {job.get('pandaid')} ended {job.get('jobstatus')} without results"
    state = "FAILED" if status in FAILED_JOB_STATES else "INTERRUPTED"
    store.upsert_trial(study, f"{prefix}.job", state=state, error=str(reason),
                       started_at=parse_time(job.get("starttime")), finished_at=parse_time(job.get("endtime")),
                       **common)
    return 1


def _store_central(store, study: str, sub: Submission, jobs, status: str, metric, trials_root: Path) -> int:
    """The ended trials of a central search's task, under the uids the driver gave them; a
    trial the study holds from another task (a re-run after a kill) is left alone."""
    from hpogrid.backends.panda import _outcome
    from hpogrid.engine import record_ended
    from hpogrid.errors import NotFoundError

    if sub.extra.get("study") not in (None, study):
        return 0
    recorded = sub.extra.get("jobs") or {}
    groups = _outcome.group_uids(list(sub.extra.get("uids") or []), {u: recorded.get(u) for u in recorded})
    over = [e for _, _, events in _outcome.task_ended(jobs, groups, status, trials_root) for e in events]
    stored = 0
    for event in over:
        try:
            row = store.trial(study, event.uid)
        except NotFoundError:
            row = None
        if row is not None and (row.task_id not in (None, str(sub.task_id)) or row.state in ("COMPLETED", "FAILED")):
            continue
        record_ended(store, study, event, metric, backend=BACKEND, task_id=str(sub.task_id))
        stored += 1
    return stored


def _fetch_central(owners: Dict[str, Optional[str]], sub: Submission, jobs, project_path: Path, study: str,
                   notes: List[str], fetcher, archives) -> bool:
    """The artifacts of a central search's task still missing from its points' folders (the
    driver fetches them as the job ends; Rucio may have been out of reach then). A point the
    study holds from a later task (a multi-fidelity wave ran it again) keeps that task's files."""
    from hpogrid.backends.panda import _outcome
    from hpogrid.backends.panda._artifacts import fetch_artifacts

    if sub.extra.get("study") not in (None, study):
        return True
    held = {uid for uid in sub.extra.get("uids") or [] if owners.get(uid) in (None, str(sub.task_id))}
    grouped = _outcome.by_job(jobs)
    indices = set(grouped) if len(grouped) > 1 else {None}  # (a task of one job: every attempt is its)
    fetched = True
    for index in indices:
        job = _outcome.latest_job(_outcome.jobs_of(grouped, index))
        if job is not None:
            fetched = fetch_artifacts(sub, job, project_path, study, notes, fetcher, archives, only=held) and fetched
    return fetched


def sync_project(project: Project, store, study: str, gateway=None, refresh: bool = False,
                 fetcher=None) -> SyncResult:
    """Fetch the metadata of the project's tasks that may have changed and store their trials.

    One sync of a project at a time (``report`` in two terminals, the dashboard's button): the
    synced marks and the task states are read, changed and written back."""
    from filelock import FileLock

    lock = project.path / "grid" / "sync.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock), timeout=600):
        return _sync_project(project, store, study, gateway, refresh, fetcher)


def _sync_project(project: Project, store, study: str, gateway, refresh: bool, fetcher) -> SyncResult:
    from hpogrid.backends.panda._artifacts import fetch_artifacts
    from hpogrid.grid.panda import PandaGateway

    result = SyncResult()
    subs = load_submissions(project.path)
    result.tasks = len(subs)
    if not subs:
        return result
    target = f"{store.url}#{study}"
    synced = {} if refresh else _load_synced(project.path, target)
    gateway = gateway or PandaGateway()
    ids = [s.task_id for s in subs]
    # a task is modified after its submission: that bounds the listing to the project's era
    submitted = [t for t in (parse_time(s.submitted_at) for s in subs) if t is not None]
    oldest = min(submitted, default=None)
    days = None if oldest is None else (datetime.now(oldest.tzinfo) - oldest).total_seconds() / 86400 + 1
    listed = gateway.list_tasks(id_range=(min(ids), max(ids)), days=days, limit=max(1000, 2 * len(ids)))
    tasks = {int(t["jeditaskid"]): t for t in listed}
    changed = []
    for sub in subs:
        task = tasks.get(sub.task_id)
        if task is None:
            result.notes.append(f"task {sub.task_id} ({sub.taskname}) is not known to the PanDA server")
        elif synced.get(str(sub.task_id)) != task_signature(task):  # else final and unchanged (a retry changes it)
            changed.append((sub, task))
    if not changed:
        _save_synced(project.path, target, synced)
        return result
    from hpogrid.backends.panda._tasks import modified_since

    trials_root = project.path / "trials" / study
    archives: Dict[int, List[Path]] = {}  # task id -> its jobs' trial archives, fetched once per sync
    owners: Optional[Dict[str, Optional[str]]] = None
    all_jobs = gateway.jobs_of_tasks([sub.task_id for sub, _ in changed], modified_since([t for _, t in changed]))
    for sub, task in changed:
        status = str(task.get("status", "")).lower()
        signature = task_signature(task)
        result.asked += 1
        if (sub.extra or {}).get("central"):  # a central search's task: its points, by their own uids
            jobs = all_jobs.get(sub.task_id, [])
            result.trials += _store_central(store, study, sub, jobs, status, _objectives(project.hpo_config),
                                            trials_root)
            if owners is None:  # point uid -> the task the study says holds it
                owners = {t.uid: t.task_id for t in store.trials(study)}
            fetched = _fetch_central(owners, sub, jobs, project.path, study, result.notes, fetcher, archives)
            if status in FINAL_TASK_STATES and fetched:  # (what the driver could not fetch, fetched now)
                synced[str(sub.task_id)] = signature
            continue
        fetched = True
        for job in all_jobs.get(sub.task_id, []):
            if str(job.get("jobstatus", "")).lower() in ACTIVE_JOB_STATES:
                result.running_jobs += 1
            result.trials += _store_job(store, study, sub, job, trials_root, all_jobs.get(sub.task_id, []))
            fetched = fetch_artifacts(sub, job, project.path, study, result.notes, fetcher, archives) and fetched
        if status in FINAL_TASK_STATES and fetched:  # (a failed fetch is tried again next sync)
            synced[str(sub.task_id)] = signature
    _save_synced(project.path, target, synced)
    _save_states(project.path, changed, all_jobs)
    return result


#: longest a report waits for PanDA before showing what was synced earlier (seconds)
SYNC_DEADLINE_S = 60.0
SYNC_DEADLINE_ENV = "HPOGRID_GRID_SYNC_TIMEOUT_S"


def sync_for_report(project_name: str, study: Optional[str], study_url: Optional[str],
                    settings=None) -> Optional[SyncResult]:
    """Before a report: pull the project's grid trials in; ``None`` when it has no grid tasks.

    PanDA being unreachable or slow is a note, not an error: the report shows what was synced
    before. panda-client waits up to 600 s for an answer, so the sync runs in a daemon thread
    the report stops waiting for after ``$HPOGRID_GRID_SYNC_TIMEOUT_S`` (default 60 s).
    """
    import threading

    from hpogrid.errors import GridError, NotFoundError
    from hpogrid.grid.panda import PandaGateway
    from hpogrid.project import load_project
    from hpogrid.study import StudyTarget

    try:
        project = load_project(project_name)
    except NotFoundError:  # a study in a shared store may have no project folder here
        return None
    if not load_submissions(project.path):
        return None
    from hpogrid.settings import Settings

    deadline = (settings or Settings.from_env()).grid_sync_timeout_s
    target = StudyTarget.resolve(project, study, study_url)
    name = target.name
    store = target.open_for_run(_objectives(project.hpo_config),
                                {"project": project.name, "content_hash": project.content_hash})
    outcome: Dict[str, Any] = {}

    def work() -> None:
        try:  # few, short retries: a report is not a submission
            outcome["result"] = sync_project(project, store, name, gateway=PandaGateway(retries=2, wait_max=2.0))
        except GridError as exc:
            outcome["result"] = SyncResult(notes=[f"grid trials not refreshed ({exc}); showing those synced before"])
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc
        finally:
            store.close()

    worker = threading.Thread(target=work, name="hpogrid-grid-sync", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        return SyncResult(notes=[f"grid trials not refreshed (PanDA did not answer within {deadline:g} s); "
                                 "showing those synced before"])
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _objectives(hpo: Dict[str, Any]):
    """The project's objectives (hpo_config metric/mode may be lists)."""
    from hpogrid.objectives import Objectives

    return Objectives.parse(hpo["metric"], hpo["mode"], hpo.get("constraints"))
