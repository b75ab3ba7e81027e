"""``hpogrid run PROJECT --search central --resume``: take over what a dead driver left.

A dead driver's points are in the study with the name of the task that carries them and the
index of their job in it (written before the task was submitted). Each one whose task PanDA has is followed again (its
job still running) or recorded (its job ended meanwhile); a task name PanDA does not know was never
submitted, so its points run anew: the resumed driver looks the name up again before it submits
them (a request still under way when the driver died may create the task later) and follows the
task if it appeared. Nothing PanDA already has is submitted a second time.
The artifacts of a recorded task's points are fetched as the driver would (:mod:`._central`).
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Union

from hpogrid.backends.panda import _outcome
from hpogrid.backends.panda._records import Submission, load_submissions, record_submission
from hpogrid.engine import Adopted, record_ended
from hpogrid.study.records import INTERRUPTED, PENDING, RUNNING

if TYPE_CHECKING:
    from hpogrid.grid.panda import PandaGateway
    from hpogrid.objectives import Objectives
    from hpogrid.study import StudyStore

BACKEND = "panda"


def take_over(store: StudyStore, study: str, metric: Union[str, Objectives], project_path: Path,
              gateway: Optional[PandaGateway] = None) -> List[Adopted]:
    """Record the dead driver's finished tasks and return the points of its running ones."""
    orphans = [t for t in store.trials(study, states=[RUNNING, PENDING, INTERRUPTED])
               if t.backend == BACKEND and (t.annotations or {}).get("taskname")]
    if not orphans:
        return []
    from hpogrid.grid.panda import PandaGateway

    gateway = gateway or PandaGateway()
    subs = {s.task_id: s for s in load_submissions(project_path)}
    known: Dict[str, Optional[int]] = {s.taskname: s.task_id for s in subs.values()}
    by_task: Dict[int, list] = {}
    for t in orphans:
        task_id = int(t.task_id) if t.task_id else _find(gateway, known, t.annotations["taskname"])
        if task_id is None:
            continue  # never reached PanDA: resume runs it anew
        if not t.task_id:
            store.upsert_trial(study, t.uid, task_id=str(task_id))
        by_task.setdefault(task_id, []).append(t)
    if not by_task:
        return []
    for task_id, trials in by_task.items():
        if task_id not in subs:  # submitted, its record lost with the driver: the project knows it again
            subs[task_id] = _record(project_path, study, task_id, trials)
    since = min(t.created_at for ts in by_task.values() for t in ts if t.created_at) - timedelta(minutes=5)
    jobs = gateway.jobs_of_tasks(list(by_task), since)
    statuses = {int(t["jeditaskid"]): str(t.get("status", "")).lower() for t in gateway.list_tasks(
        id_range=(min(by_task), max(by_task)), days=None, limit=max(1000, 2 * len(by_task)))}
    adopted: List[Adopted] = []
    for task_id, trials in by_task.items():
        index_of = job_indices(trials, subs.get(task_id))
        groups = _outcome.group_uids([t.uid for t in trials], index_of)
        task_jobs = jobs.get(task_id, [])
        for index, job, over in _outcome.task_ended(task_jobs, groups, statuses.get(task_id, ""),
                                                    project_path / "trials" / study):
            for event in over:
                record_ended(store, study, event, metric)
            if job is not None and task_id in subs:
                _fetch(subs[task_id], job, project_path, study)
            del groups[index]
        grouped = _outcome.by_job(task_jobs)
        for index, uids in groups.items():
            state = RUNNING if _outcome.is_running(_outcome.latest_job(_outcome.jobs_of(grouped, index))) else PENDING
            adopted += [Adopted(t.uid, dict(t.params), state, {"task_id": task_id, "since": since, "job": index})
                        for t in trials if t.uid in uids]
    return adopted


def job_indices(trials, sub: Optional[Submission]) -> Dict[str, Optional[int]]:
    """uid -> the index of the job of its task that evaluates it: the point's annotation (written
    before the task was submitted), else the task's record; None for a task of one job from
    before tasks had several."""
    recorded = (sub.extra or {}).get("jobs") or {} if sub is not None else {}
    out: Dict[str, Optional[int]] = {}
    for t in trials:
        index = (t.annotations or {}).get(_outcome.TASK_JOB, recorded.get(t.uid))
        out[t.uid] = index if isinstance(index, int) and not isinstance(index, bool) else None
    return out


def _find(gateway, known: Dict[str, Optional[int]], taskname: str) -> Optional[int]:
    """The id of the task named ``taskname``: the project's record, else PanDA (a driver killed
    between the submission and its record); remembered in ``known`` for the batch's other points."""
    if taskname not in known:
        known[taskname] = find_task(gateway, taskname)
    return known[taskname]


def find_task(gateway, taskname: str) -> Optional[int]:
    """The id of the task PanDA holds under ``taskname``, None if it has none. A central task is
    named by its outDS, which PanDA holds as a container, with the '/' prun appends: PanDA matches
    the name exactly, so it is asked for that form."""
    asked = taskname.rstrip("/") + "/"
    return next((int(task["jeditaskid"]) for task in gateway.list_tasks(taskname=asked, days=None)
                 if str(task.get("taskname", "")).rstrip("/") == taskname.rstrip("/")), None)


def _record(project_path: Path, study: str, task_id: int, trials) -> Submission:
    """The record a driver killed between submitting a task and recording it did not write."""
    from datetime import datetime, timezone

    name = str(trials[0].annotations["taskname"])
    jobs = {uid: index for uid, index in job_indices(trials, None).items() if index is not None}
    sub = Submission(task_id=task_id, taskname=name, out_ds=name, n_jobs=max(jobs.values(), default=1), site=None,
                     submitted_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     extra={"central": True, "study": study, "uids": [t.uid for t in trials], "jobs": jobs})
    record_submission(project_path, sub)
    return sub


def _fetch(sub, job: dict, project_path: Path, study: str) -> None:
    """The artifacts of an ended task's points; Rucio out of reach: a note ('report' fetches them)."""
    import sys

    from hpogrid.backends.panda._artifacts import fetch_artifacts

    notes: List[str] = []
    fetch_artifacts(sub, job, project_path, study, notes)
    for line in notes:
        sys.stderr.write(f"\n[hpogrid] {line}\n")
