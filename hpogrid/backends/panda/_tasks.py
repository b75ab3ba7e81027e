"""``hpogrid tasks show``: the user's PanDA tasks, with their job metadata when asked.

One listing request for all tasks; their jobs' metadata in two more, whatever the number of
tasks (the PandaIDs of the tasks, then the job records of those PandaIDs). Metadata of
tasks in a final state is also cached in the store and asked again only when PanDA shows
the task changed (a retry) or ``--sync`` is given.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hpogrid.backends.panda._states import FINAL_TASK_STATES, parse_time, task_signature
from hpogrid.objectives import primary_mode

DEFAULT_COLUMNS = ("jeditaskid", "status", "taskname", "computingsite", "metastruct")


@dataclass
class TaskQuery:
    username: Optional[str] = None
    limit: int = 1000
    days: Optional[float] = 30
    taskname: Optional[str] = None
    task_id: Optional[int] = None
    id_range: Optional[Tuple[int, int]] = None


def _cache_dir():
    from hpogrid import paths

    return paths.home() / "cache" / "panda_metadata"


def _cached(task: Dict[str, Any]) -> Optional[List[dict]]:
    path = _cache_dir() / f"{int(task['jeditaskid'])}.json"
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return entry.get("jobs") if entry.get("signature") == task_signature(task) else None


def _remember(task: Dict[str, Any], jobs: List[dict]) -> None:
    from hpogrid.fileio import dump_json, write_atomic

    if str(task.get("status", "")).lower() in FINAL_TASK_STATES:
        write_atomic(_cache_dir() / f"{int(task['jeditaskid'])}.json",
                     dump_json({"signature": task_signature(task), "jobs": jobs}))


def metastruct(jobs: Sequence[dict], mode_hint: Optional[str] = None) -> Dict[str, Any]:
    """A task's metadata in brief: jobs, trials and the best trial over its jobs."""
    trials, best, mode = 0, None, mode_hint
    for job in jobs:
        md = raw if isinstance(raw := job.get("metadata"), dict) else {}
        trials += len(md.get("trials") or [])
        cand = md.get("best")
        mode = mode or primary_mode(md.get("mode"))  # several objectives: "best" is by the first one
        if isinstance(cand, dict) and isinstance(cand.get("value"), (int, float)):
            better = best is None or (cand["value"] > best["value"] if mode == "max" else cand["value"] < best["value"])
            if better:
                best = {"value": cand["value"], "params": cand.get("params"), "pandaid": job.get("pandaid")}
    return {"jobs": len(jobs), "trials": trials, "best": best}


def modified_since(tasks: Sequence[Dict[str, Any]]) -> datetime:
    """A lower bound of the tasks' modification times (each is at or after its creation)."""
    times = [parse_time(t.get("modificationtime")) or parse_time(t.get("creationdate")) for t in tasks]
    known = [t for t in times if t is not None]
    oldest = min(known) if len(known) == len(times) and known else datetime.now(timezone.utc) - timedelta(days=3650)
    return oldest - timedelta(seconds=1)


def show_tasks(query: TaskQuery, metadata: bool = False, sync: bool = False, gateway=None) -> List[Dict[str, Any]]:
    """Tasks as dicts (lower-case PanDA fields); with ``metadata``, ``jobs`` and ``metastruct`` too."""
    from hpogrid.grid.panda import PandaGateway

    gateway = gateway or PandaGateway()
    tasks = gateway.list_tasks(username=query.username, days=query.days, limit=query.limit,
                               taskname=query.taskname, task_id=query.task_id, id_range=query.id_range)
    if not metadata:
        return tasks
    todo = [t for t in tasks if sync or _cached(t) is None]
    fetched = gateway.jobs_of_tasks([int(t["jeditaskid"]) for t in todo], modified_since(todo)) if todo else {}
    for task in tasks:
        tid = int(task["jeditaskid"])
        if tid in fetched:
            jobs = fetched[tid]
            _remember(task, jobs)
        else:
            jobs = _cached(task) or []
        task["jobs"] = jobs
        task["metastruct"] = metastruct(jobs)
    return tasks
