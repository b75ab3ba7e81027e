"""What the dashboard shows, as one JSON-able dict: read from the study, never written to it.

The figures are the HTML report's own (:func:`hpogrid.report.build_figures`), so both outputs
draw the same plots. A snapshot is rebuilt only when the study changed (:class:`Snapshots`
compares a fingerprint of every trial's state, value and latest metrics): the page polls
every few seconds and an unchanged study costs one read and no plotting.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from hpogrid.dashboard._rows import _YES, _cell, _columns, _row
from hpogrid.errors import NotFoundError, NothingYetError

#: trials sent for the table at most (best first, then the rest; the CSV has them all)
MAX_ROWS = 5000
#: failed trials listed at most, and characters of each error
MAX_FAILED = 200
MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class Source:
    """Which study the dashboard follows."""

    project: str
    study: Optional[str] = None
    study_url: Optional[str] = None


def _fingerprint(report, grid) -> str:
    """What the page shows changes when this does: the trials, and a grid project's task and
    job states (a sync, from the page's button or a ``report`` elsewhere, changes only those)."""
    h = hashlib.sha1()
    for t in report.trials:
        lost = len((t.annotations or {}).get("attempts") or [])  # a retried trial's lost attempts (the digest)
        h.update(f"{t.uid}\x00{t.state}\x00{t.value}\x00{t.finished_at}\x00{lost}\x00".encode())
        h.update(json.dumps(t.metrics, sort_keys=True, default=str).encode())
    h.update(json.dumps(grid, sort_keys=True, default=str).encode())
    h.update(json.dumps(getattr(report, "stop_rules", None), sort_keys=True, default=str).encode())
    return h.hexdigest()


def _stop_rules(status: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The active stop rules and the budget left, as the last run wrote them into the study
    (:mod:`hpogrid.engine.budget`), with one line for the page; None without rules."""
    from hpogrid.budgets import format_duration

    if not isinstance(status, dict) or not status.get("described"):
        return None
    left = status.get("left") or {}
    parts = []
    if "timeout_s" in left:
        parts.append(f"{format_duration(float(left['timeout_s']))} of the timeout")
    for kind in ("cpu", "gpu"):
        if f"{kind}_h" in left:
            parts.append(f"{float(left[f'{kind}_h']):.4g} {kind}-h")
    if "patience" in left:
        parts.append(f"{left['patience']} trial(s) of patience")
    text = "stop rules: " + "; ".join(str(d) for d in status["described"])
    if status.get("stopped_by"):
        text += f" | ended by the {status['stopped_by']} rule: {status.get('stop_reason')}"
    elif parts:
        text += " | left: " + ", ".join(parts)
    text += f" (as of {status.get('updated_at')})"
    return {"text": text, "rules": status["described"], "left": left, "used_h": status.get("used_h") or {},
            "stopped_by": status.get("stopped_by"), "updated_at": status.get("updated_at")}


def _table(report) -> Dict[str, Any]:
    rows = []
    for i, (t, v) in enumerate(zip(report.trials[:MAX_ROWS], report.values)):
        flags = [_YES[report.standing.pareto[i]], _YES[report.standing.feasible[i]]] if report.marked else []
        rows.append(_row(report, t, v, i + 1 if i < report.ranked else None, flags))
    return {"columns": _columns(report), "rows": rows, "shown": len(rows), "total": len(report.trials)}


def _failed(report) -> List[Dict[str, Any]]:
    from hpogrid.engine import clean_error, error_summary

    failed = sorted((t for t in report.trials if t.state == "FAILED"), key=lambda t: t.number)
    return [{"number": t.number, "uid": t.uid, "summary": error_summary(t.error),
             "error": (clean_error(t.error) or "(no error text recorded)")[-MAX_ERROR_CHARS:],
             "params": {k: _cell(v) for k, v in t.params.items()}} for t in failed[:MAX_FAILED]]


def _failures(report) -> Optional[Dict[str, Any]]:
    """What failed where, as the HTML report's tables (None when nothing failed)."""
    from hpogrid.report import ERROR_HEADERS, PLACE_HEADERS, digest_tables, failure_digest

    digest = failure_digest(report.trials)
    if digest.empty:
        return None
    by_place, by_error = digest_tables(digest)
    return {"failed": digest.failed, "lost_attempts": digest.lost_attempts,
            "tables": [{"id": "failures-by-place", "columns": PLACE_HEADERS, "rows": by_place},
                       {"id": "failures-by-error", "columns": ERROR_HEADERS, "rows": by_error}]}


def _grid(project_path, trials) -> Optional[Dict[str, Any]]:
    """The project's grid tasks with PanDA's last synced task and job states; None if none."""
    from hpogrid.backends.panda import grid_states, load_submissions

    subs = load_submissions(project_path)
    if not subs:
        return None
    states = grid_states(project_path)
    by_job: Dict[str, Dict[str, int]] = {}
    for t in trials:
        if t.task_id and t.job_id:
            counts = by_job.setdefault(f"{t.task_id}/{t.job_id}", {})
            counts[str(t.state)] = counts.get(str(t.state), 0) + 1
    tasks = []
    for sub in subs:
        known = states.get(str(sub.task_id)) or {}
        jobs = [{"job_id": jid, "status": j.get("status"), "site": j.get("site"),
                 "trials": by_job.get(f"{sub.task_id}/{jid}", {})}
                for jid, j in sorted((known.get("jobs") or {}).items())]
        tasks.append({"task_id": sub.task_id, "taskname": sub.taskname, "site": sub.site,
                      "n_jobs": sub.n_jobs, "submitted_at": sub.submitted_at,
                      "status": known.get("status") or "not synced yet", "synced_at": known.get("synced_at"),
                      "central": bool((sub.extra or {}).get("central")), "jobs": jobs})
    return {"tasks": tasks}


def _read(source: Source):
    """(report, None) or (None, the waiting snapshot) while the study has no trial yet."""
    from hpogrid.report import build_report

    try:
        return build_report(source.project, study=source.study, study_url=source.study_url, settle=False), None
    except NothingYetError as exc:  # (a study named by --study that a run has not created yet, too)
        grid = _grid_of(source.project)  # a grid project before its first sync: offer the sync
        return None, {"waiting": str(exc), "generated_at": _now(), "grid": grid,
                      "fingerprint": "waiting:" + str(exc) + json.dumps(grid, default=str)}


def _grid_of(project: str) -> Optional[Dict[str, Any]]:
    from hpogrid.project import load_project

    try:
        return _grid(load_project(project).path, [])
    except NotFoundError:
        return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def build(source: Source) -> Dict[str, Any]:
    """A full snapshot, or ``{"waiting": why}`` while the study has no trial yet."""
    report, waiting = _read(source)
    if report is None:
        return waiting
    grid = _grid(report.project.path, report.trials)
    return from_report(report, _fingerprint(report, grid), grid)


def from_report(report, fingerprint: str, grid) -> Dict[str, Any]:
    from hpogrid.report import build_figures

    figs = build_figures(report)
    best = report.best
    return {
        "fingerprint": fingerprint, "generated_at": _now(),
        "project": report.project.name, "study": report.study, "store": report.store,
        "metric": report.metric, "mode": report.mode, "counts": {str(k): v for k, v in report.counts.items()},
        "best": None if best is None else {"number": best.number, "value": report.values[0],
                                           "params": {k: _cell(v) for k, v in best.params.items()}},
        "objectives": report.objectives.describe(),
        "constraints": [str(c) for c in report.objectives.constraints],
        "infeasible": report.infeasible if report.objectives.constraints else None,
        # several objectives in their own order: the Pareto front's trial numbers instead of one best
        "pareto_front": [report.trials[i].number for i in report.front] if report.pareto_view else None,
        "table": _table(report), "failed": _failed(report), "failures": _failures(report), "grid": grid, "artifacts": _artifacts(report),
        "panels": [{"key": p.key, "title": p.title} for p in figs.panels],
        "figures": figs.as_dict(), "notes": [*report.notes, *figs.notes],
        "stop_rules": _stop_rules(getattr(report, "stop_rules", None)),
    }


#: a study is read again after at least this many times the last read's duration: a study of
#: 100,000 trials (seconds per read) is followed with at most a quarter of one core
BUSY_FACTOR = 3.0
#: a full read cheaper than this is made in the poll that needs it; a dearer one in the
#: background while polls get updates (:mod:`hpogrid.dashboard._updates`)
INLINE_READ_S = 0.5


class Snapshots:
    """The latest snapshot of one source, rebuilt only when the study changed. Thread-safe.

    However often pages poll, the study is read at most once per ``BUSY_FACTOR`` times the
    last read's cost (a small study: every poll; a huge one: every few seconds). :meth:`get`
    answers with the full snapshot; :meth:`first` and :meth:`update` are the page's cheap
    answers (a partial first page, then only what changed since its cursor).
    """

    def __init__(self, source: Source, clock=None):
        import time

        self.source = source
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._last: Optional[Dict[str, Any]] = None
        self._report = None  # what ``_last`` was built from (None while waiting)
        self._next_read = 0.0
        self._cost = 0.0
        self._building: Optional[threading.Thread] = None
        self._store = None  # (store, info) for the cheap answers, opened once

    def _read_full(self, previous: Optional[Dict[str, Any]]):
        """(snapshot, report) read now; ``previous`` is kept when nothing changed."""
        from hpogrid.dashboard._updates import cursor_text, now

        at = now()
        report, waiting = _read(self.source)
        if report is None:
            return waiting, None
        grid = _grid(report.project.path, report.trials)  # read once: fingerprinted and shown
        fingerprint = _fingerprint(report, grid)
        if previous is not None and previous["fingerprint"] == fingerprint:
            return previous, report
        snap = from_report(report, fingerprint, grid)
        snap["cursor"] = cursor_text(at)  # the page's first ``since``: nothing written after is missed
        return snap, report

    def _refresh(self) -> None:
        """Read the study now (the caller holds the lock)."""
        start = self._clock()
        self._last, self._report = self._read_full(self._last)
        end = self._clock()
        self._cost = end - start
        self._next_read = end + BUSY_FACTOR * self._cost

    def get(self) -> Dict[str, Any]:
        with self._lock:
            if self._last is None or self._clock() >= self._next_read:
                self._refresh()
            return self._last  # type: ignore[return-value]

    def _in_background(self) -> threading.Thread:
        """Start (or join) the one background read; the caller holds the lock."""
        if self._building is not None and self._building.is_alive():
            return self._building

        def work() -> None:
            start = self._clock()
            try:
                snap, report = self._read_full(self._last)
            except Exception:  # the next poll reads again (in the poll: the error reaches the page)
                with self._lock:
                    self._next_read = 0.0
                return
            with self._lock:
                self._last, self._report = snap, report
                end = self._clock()
                self._cost = end - start
                self._next_read = end + BUSY_FACTOR * self._cost

        self._building = threading.Thread(target=work, name="hpogrid-dashboard-read", daemon=True)
        self._building.start()
        return self._building

    def _cheap_store(self):
        from hpogrid.dashboard._updates import open_store

        if self._store is None:
            self._store = open_store(self.source)
        return self._store

    def first(self) -> Dict[str, Any]:
        """The page's first answer: the full snapshot of a study under ``PARTIAL_ABOVE``
        trials (read now), else a partial one (counts, best, best rows: a few indexed queries)
        while the full one is built in the background."""
        from hpogrid.dashboard._updates import PARTIAL_ABOVE, partial

        with self._lock:
            if self._last is not None:
                return self._last
        try:
            store, info = self._cheap_store()
            snap = partial(store, info, self.source) if sum(store.counts(info.name).values()) > PARTIAL_ABOVE \
                else None
        except (NotFoundError, NothingYetError):  # no study yet: the full read says so
            snap = None
        if snap is None:
            return self.get()
        with self._lock:
            self._in_background()
        return snap

    def update(self, since: str, base: str) -> Dict[str, Any]:
        """What the page lacks: the full snapshot when the page's ``base`` (fingerprint) is not
        the latest, else the trials written since its cursor ``since``."""
        from hpogrid.dashboard._updates import delta, parse_cursor

        at = parse_cursor(since)
        with self._lock:
            if self._last is None:  # still building: the partial page again
                pass
            elif self._clock() >= self._next_read:
                if self._cost < INLINE_READ_S:
                    self._refresh()
                else:
                    self._in_background()
            last, report = self._last, self._report
        if last is None:
            return self.first()
        if base != last["fingerprint"] or report is None or at is None:
            return last
        store, info = self._cheap_store()
        return delta(store, info, report, last, at)

    def invalidate(self) -> None:
        """Rebuild at the next :meth:`get` (after a grid sync: PanDA's states changed)."""
        with self._lock:
            self._last = None
            self._next_read = 0.0


def studies(source: Source) -> List[str]:
    """The names of the studies in the source's store (none yet: empty)."""
    from hpogrid.study import StudyStore
    from hpogrid.study.transfer import store_url

    try:
        url = store_url(source.project, source.study_url, existing=True)
    except NothingYetError:
        return []
    with StudyStore(url, access="read") as store:
        return [s.name for s in store.list_studies()]


def comparison(source: Source, names: List[str], fingerprint: str) -> Dict[str, Any]:
    """Studies ``names`` side by side (``report --study a,b``): one summary row per study and
    the overlaid figures; ``{"error": why}`` when they cannot be compared."""
    from hpogrid.errors import HpogridError
    from hpogrid.report import COMPARE_COLOURS, build_comparison, compare_figures, compare_table

    try:
        cmp = build_comparison(source.project, names, source.study_url, settle=False)
    except HpogridError as exc:
        return {"fingerprint": fingerprint, "studies": names, "error": str(exc)}
    headers, rows = compare_table(cmp)
    figs = compare_figures(cmp)
    return {"fingerprint": fingerprint, "studies": names, "colours": list(COMPARE_COLOURS[:len(names)]),
            "headers": headers, "rows": [[_cell(c) for c in row] for row in rows],
            "panels": [{"key": p.key, "title": p.title} for p in figs.panels], "figures": figs.as_dict(),
            "notes": [f"{r.study}: {n}" for r in cmp.reports for n in r.notes] + figs.notes}


def _artifacts(report) -> List[Dict[str, Any]]:
    """The files the trials kept (:func:`hpogrid.trial.save_artifact`), best trial first."""
    from hpogrid.trial import artifacts

    return [{"number": t.number, "uid": t.uid, "name": name, "size": a.get("size"), "sha256": a.get("sha256")}
            for t in report.trials[:MAX_ROWS] for name, a in artifacts(t.annotations).items()]


def open_artifact(source: Source, uid: str, name: str):
    """The artifact ``name`` of trial ``uid``, opened for reading (a binary file object).

    Only a regular file inside the project's folder is opened: the study says where a trial's
    files are, and a study written elsewhere (or a symbolic link in a trial folder) could name
    any file of this machine. The check is made on the opened file itself, so a path changed
    between check and read is caught. :class:`NotFoundError` otherwise, saying why."""
    import os
    import stat

    from hpogrid import paths
    from hpogrid.settings import Settings
    from hpogrid.study import StudyTarget
    from hpogrid.trial import artifacts

    target = StudyTarget.existing(source.project, source.study, source.study_url, Settings.from_env())
    store, info = target.open_read_only()
    with store:
        trial = store.trial(info.name, uid)
    where = artifacts(trial.annotations).get(name, {}).get("file")
    if not isinstance(where, str):
        raise NotFoundError(f"trial {uid!r} kept no artifact {name!r}")
    root = os.path.realpath(paths.project_dir(source.project))
    try:
        fd = os.open(where, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))  # a FIFO never blocks
    except OSError as exc:
        raise NotFoundError(f"artifact {name!r} of trial {uid!r} cannot be read: {exc.strerror}") from None
    real = os.path.realpath(f"/proc/self/fd/{fd}") if os.path.isdir("/proc/self/fd") else os.path.realpath(where)
    if os.path.commonpath([root, real]) != root or not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotFoundError(f"artifact {name!r} of trial {uid!r} is not a file inside the project's folder: "
                            "not served")
    return os.fdopen(fd, "rb")
