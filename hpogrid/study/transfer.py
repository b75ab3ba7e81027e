"""Whole studies as values: listed, read, written, renamed, copied and merged between stores.

A :class:`StudyDump` is a study with every trial exactly as stored (uid, number, state, params,
metrics, value, per-iteration values, annotations, error, where it ran, timestamps). Reading
one is a single read transaction; writing one (:func:`write_study`) is a single write
transaction on the destination, so a copy, merge or import that fails (a name taken, a
different objective, a lost connection) leaves no half-written study behind. Copying between
stores is a read from one and a write to the other: SQLite, PostgreSQL and MariaDB alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Optional, Tuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hpogrid.errors import NotFoundError, StudyError, ValidationError
from hpogrid.names import check_name
from hpogrid.settings import Settings
from hpogrid.study.engine import sqlite_url
from hpogrid.study.records import STATES, StudyInfo, TrialRecord
from hpogrid.study.schema import StudyRow, TrialRow
from hpogrid.study.standing import study_objectives
from hpogrid.study.store import StudyStore, _study_info, _trial_record
from hpogrid.study.values import utcnow

#: the trial columns a dump carries (all but the database's own ids)
TRIAL_COLUMNS = tuple(c.key for c in TrialRow.__table__.columns if c.key not in ("id", "study_id"))


@dataclass(frozen=True)
class StudyDump:
    """A study and all its trials, by number."""

    info: StudyInfo
    trials: Tuple[TrialRecord, ...]


@dataclass(frozen=True)
class StudySummary:
    """One line of ``hpogrid study list``."""

    name: str
    objectives: str
    counts: Dict[str, int]
    best: Optional[float]
    created_at: Optional[datetime]
    updated_at: Optional[datetime]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class WriteResult:
    """What :func:`write_study` did: the study written, trials added, trials already there."""

    info: StudyInfo
    added: int
    skipped: int


def store_url(project: Optional[str], study_url: Optional[str] = None,
              settings: Optional[Settings] = None, existing: bool = False) -> str:
    """Where a command reads or writes: ``--study-url``, else ``$HPOGRID_STUDY_URL``, else the
    SQLite file of project ``project`` (which must exist; its ``study.db`` is created on first
    write). ``existing``: the store must already be there (a reader never creates one)."""
    from hpogrid import paths
    from hpogrid.errors import NothingYetError
    from hpogrid.study.engine import sqlite_path

    from hpogrid.study.engine import check_user_url

    url = study_url or (settings or Settings.from_env()).study_url
    if url:
        check_user_url(url, "--study-url" if study_url else "HPOGRID_STUDY_URL")
        db = sqlite_path(url)
        if existing and db is not None and not db.is_file():
            raise NotFoundError(f"--study-url: no SQLite study store at {db}")
        return url
    if not project:
        raise ValidationError("--study-url", "give a PROJECT or the URL of a study store")
    folder = paths.project_dir(project)
    if not folder.is_dir():
        raise NotFoundError(f"project {project!r} not found ({folder} does not exist)")
    if existing and not paths.study_db(project).is_file():
        raise NothingYetError(f"project {project!r} has no study yet: run 'hpogrid local_run {project}' first")
    return sqlite_url(paths.study_db(project))


def summarize(store: StudyStore) -> list:
    """A :class:`StudySummary` per study of ``store``, by name (counts and last update in one
    query; the best value as :meth:`StudyStore.best_trial` sees it)."""
    last = func.max(func.coalesce(TrialRow.finished_at, TrialRow.heartbeat_at, TrialRow.started_at,
                                  TrialRow.created_at))

    def tx(s: Session):
        studies = [_study_info(r) for r in s.scalars(select(StudyRow).order_by(StudyRow.name))]
        counts: Dict[int, Dict[str, int]] = {}
        for sid, state, n in s.execute(select(TrialRow.study_id, TrialRow.state, func.count())
                                       .group_by(TrialRow.study_id, TrialRow.state)):
            counts.setdefault(sid, dict.fromkeys(STATES, 0))[state] = int(n)
        newest = select(TrialRow.study_id, last).group_by(TrialRow.study_id)
        updated: Dict[int, Any] = {sid: at for sid, at in s.execute(newest)}
        return studies, counts, updated

    studies, counts, updated = store._run("list studies", tx)
    out = []
    for info in studies:
        best = store.best_trial(info.name) if counts.get(info.id) else None
        out.append(StudySummary(
            name=info.name, objectives=study_objectives(info).describe(),
            counts={str(k): v for k, v in counts.get(info.id, dict.fromkeys(STATES, 0)).items()},
            best=None if best is None else best.value, created_at=info.created_at,
            updated_at=_aware(updated.get(info.id)) or info.created_at))
    return out


def _aware(value):
    from datetime import timezone

    if value is None or isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if isinstance(value, str):  # SQLite returns an aggregate of datetimes as text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc)


def read_study(store: StudyStore, name: str) -> StudyDump:
    """Study ``name`` with all its trials, read in one transaction."""

    def tx(s: Session) -> StudyDump:
        row = store._study_row(s, name)
        rows = s.scalars(select(TrialRow).where(TrialRow.study_id == row.id).order_by(TrialRow.number))
        return StudyDump(_study_info(row), tuple(_trial_record(t, name) for t in rows))

    return store._run("read study", tx)


def write_study(store: StudyStore, dump: StudyDump, name: Optional[str] = None,
                merge: bool = False) -> WriteResult:
    """Write ``dump`` as study ``name`` (default: its own name) in one transaction.

    Without ``merge`` the study must be new (:class:`AlreadyExistsError` otherwise) and every
    trial keeps its number. With ``merge`` the study may exist, but must optimise the same
    objectives; trials whose uid it already holds are left as they are (counted as skipped),
    the others are appended after its last number, in the dump's order.
    """
    name = check_name(name or dump.info.name, "study")
    src = dump.info

    def tx(s: Session) -> WriteResult:
        row = s.scalars(select(StudyRow).where(StudyRow.name == name).with_for_update()).one_or_none()
        if row is not None and not merge:
            raise store._exists(name)
        if row is None:
            row = StudyRow(name=name, metric=src.metric, mode=src.mode, attrs=dict(src.attrs),
                           created_at=src.created_at or utcnow())
            s.add(row)
            s.flush()
            have, next_number = set(), None
        else:
            _check_same_objectives(_study_info(row), src, store.url)
            have = set(s.scalars(select(TrialRow.uid).where(TrialRow.study_id == row.id)))
            next_number = s.scalar(select(func.coalesce(func.max(TrialRow.number) + 1, 0))
                                   .where(TrialRow.study_id == row.id))
        added = skipped = 0
        for t in dump.trials:
            if t.uid in have:
                skipped += 1
                continue
            values = {k: getattr(t, k) for k in TRIAL_COLUMNS}
            values["state"] = str(t.state)
            if next_number is not None:
                values["number"], next_number = next_number, next_number + 1
            s.add(TrialRow(study_id=row.id, **values))
            have.add(t.uid)
            added += 1
        s.flush()
        return WriteResult(_study_info(row), added, skipped)

    result = store._run("write study", tx, write=True, on_integrity=lambda exc: StudyError(
        f"write study {name!r} failed on {store.url} (nothing written): {store._message(exc)}"))
    store._studies.pop(name, None)
    return result


def _check_same_objectives(have: StudyInfo, given: StudyInfo, where: str) -> None:
    a, b = study_objectives(have), study_objectives(given)
    if (a.items, a.constraints) != (b.items, b.constraints):
        raise ValidationError("merge", f"study {have.name!r} in {where} optimises {a.describe()}, "
                              f"study {given.name!r} optimises {b.describe()}: their trials cannot be merged")


def rename_study(store: StudyStore, old: str, new: str) -> StudyInfo:
    """Rename study ``old`` to ``new`` (which must be free), trials untouched."""
    new = check_name(new, "study")

    def tx(s: Session) -> StudyInfo:
        row = store._study_row(s, old)
        if s.scalar(select(StudyRow.id).where(StudyRow.name == new)) is not None:
            raise store._exists(new)
        row.name = new
        s.flush()
        return _study_info(row)

    info = store._run("rename study", tx, write=True, on_integrity=lambda _: store._exists(new))
    store._studies.pop(old, None)
    return info


def copy_study(src: StudyStore, name: str, dst: StudyStore, new_name: Optional[str] = None) -> WriteResult:
    """Copy study ``name`` of ``src`` as ``new_name`` (default: the same name) into ``dst``,
    which may be another store: one read, then one write transaction."""
    return write_study(dst, read_study(src, name), new_name or name)


def merge_study(src: StudyStore, name: str, dst: StudyStore, into: str) -> WriteResult:
    """Add the trials of study ``name`` of ``src`` that study ``into`` of ``dst`` does not hold
    yet (by uid); ``into`` is created when missing."""
    return write_study(dst, read_study(src, name), into, merge=True)
