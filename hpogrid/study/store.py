"""The study store: every backend writes its trials here, reports and resume read them.

Each public method is one short transaction on a fresh session, so a ``StudyStore`` can be
shared by threads, used after ``fork`` (the pool is replaced in the child) and pickled to
spawned workers (only the URL travels). Correctness under many writer processes rests on
the database, not on luck:

* ``(study, uid)`` is unique, so an upsert of a known uid can only update it: resume and
  repeated grid syncs never duplicate a trial;
* a new trial's ``number`` is ``max + 1`` computed while holding a lock on the study's
  row (``BEGIN IMMEDIATE`` on SQLite), so numbers are distinct and gap-free, and
  ``(study, number)`` is unique as a safety net;
* updating a known trial locks only that trial's row (the study's id is cached per store,
  safe because study ids are never reused), so reporting workers do not queue behind
  each other;
* deadlocks / serialisation failures (PostgreSQL, MariaDB) and lost races on the unique
  constraints are retried with jittered back-off.

Every database error leaves as a one-line :class:`~hpogrid.errors.StudyError` that never
contains the URL's password.
"""
from __future__ import annotations

import os
import random
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Literal, Optional, Tuple, TypeVar, Union

from sqlalchemy import bindparam, delete, func, inspect, or_, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from hpogrid.errors import (
    AlreadyExistsError,
    HpogridError,
    NotFoundError,
    NothingYetError,
    StudyError,
    ValidationError,
)
from hpogrid.names import check_name
from hpogrid.study.engine import (
    WRITE_OPTION,
    create_store_engine,
    first_line,
    parse_url,
    redact_text,
    safe_url,
)
from hpogrid.study.records import (
    FINISHED_STATES,
    INTERRUPTED,
    MODES,
    PENDING,
    RUNNING,
    STATES,
    COMPLETED,
    StudyInfo,
    TrialRecord,
    TrialState,
)
from hpogrid.study.schema import STRING_LIMITS, Base, StudyRow, TrialRow
from hpogrid.study.standing import study_objectives
from hpogrid.study.values import clean_json, finite_or_none, to_utc, utcnow

T = TypeVar("T")
StudyRef = Union[str, StudyInfo]
#: how a store is opened: ``create`` the schema if missing (runs), ``write`` an existing one
#: only (settling a study a report reads), ``read`` only (reports, the dashboard, ``load``)
Access = Literal["create", "write", "read"]

#: fields ``upsert_trial`` accepts
TRIAL_FIELDS = frozenset(
    {
        "state", "params", "metrics", "value", "intermediate", "error", "backend", "host",
        "job_id", "task_id", "site", "annotations", "created_at", "started_at",
        "finished_at", "heartbeat_at",
    }
)
_DATETIME_FIELDS = ("created_at", "started_at", "finished_at", "heartbeat_at")
#: an error text longer than this keeps only its end (where a traceback says what failed)
MAX_ERROR_CHARS = 100_000
#: attempts of one transaction on transient failures
MAX_ATTEMPTS = 12

_PG_TRANSIENT = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available
_MYSQL_TRANSIENT = {1205, 1213}  # lock wait timeout, deadlock

# hot statements, built once
_TRIAL_BY_UID = (
    select(TrialRow)
    .where(TrialRow.study_id == bindparam("sid"), TrialRow.uid == bindparam("uid"))
    .with_for_update()
)
_STUDY_BY_NAME_LOCKED = select(StudyRow).where(StudyRow.name == bindparam("name")).with_for_update()
_NEXT_NUMBER = select(func.coalesce(func.max(TrialRow.number) + 1, 0)).where(
    TrialRow.study_id == bindparam("sid")
)


class StudyStore:
    """A study database at ``url`` (any SQLAlchemy URL; see :func:`sqlite_url`).

    With ``access="create"`` (the default: a run) the schema is created on open. ``"write"``
    and ``"read"`` open an existing store only: a database without the schema (an empty file)
    raises :class:`NothingYetError` and nothing is created; ``"read"`` also opens SQLite
    read-only, so every write fails. Raises :class:`StudyError` when the database cannot be
    reached or opened.
    """

    def __init__(self, url: Union[str, URL], access: Access = "create"):
        if access not in ("create", "write", "read"):
            raise ValidationError("access", f"expected create, write or read, got {access!r}")
        self._url = parse_url(url)
        self.url = safe_url(self._url)  # printable: password hidden
        self.access = access
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._studies: dict[str, tuple[int, str]] = {}  # name -> (id, metric), see _lock_trial
        self._engine = create_store_engine(self._url, access)
        self._writer = self._engine.execution_options(**{WRITE_OPTION: True})
        try:
            self._open()
        except BaseException:
            self._engine.dispose()
            raise

    # -- plumbing ------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"StudyStore({self.url!r})"

    def __reduce__(self):
        # spawned workers get the full URL (with password) and open their own engine
        return (type(self), (self._url.render_as_string(hide_password=False), self.access))

    def __enter__(self) -> "StudyStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        """Dialect name: ``sqlite``, ``postgresql``, ``mysql`` or ``mariadb``."""
        return self._engine.dialect.name

    def close(self) -> None:
        """Close pooled connections (the store reopens them if used again)."""
        self._engine.dispose()

    def _message(self, exc: BaseException) -> str:
        return redact_text(first_line(exc), self._url.password)

    def _open(self) -> None:
        try:
            with self._engine.connect() as conn:
                tables = set(inspect(conn).get_table_names())
            if not {"studies", "trials"} <= tables:
                if self.access != "create":  # a reader never creates (nor converts) a database
                    raise NothingYetError(f"no study yet in {self.url}: the database holds no study tables")
                self._create_schema()
            elif self.access == "create":
                self._add_indexes()
        except SQLAlchemyError as exc:
            raise StudyError(f"cannot open study store {self.url}: {self._message(exc)}") from None

    def _add_indexes(self) -> None:
        """Create the trial indexes a database made by an older hpogrid lacks (the best-value,
        changed-since queries of a big study read them, see :mod:`.schema`). Best
        effort: another process may create one at the same moment, a user may lack the right."""
        with self._engine.connect() as conn:
            have = {ix["name"] for ix in inspect(conn).get_indexes("trials")}
        for index in Base.metadata.tables["trials"].indexes:
            if index.name not in have:
                try:
                    index.create(self._writer)
                except DBAPIError:
                    pass

    def _create_schema(self) -> None:
        # Several processes may open a fresh database at once: the loser of the race
        # gets "already exists" (or a unique violation in PostgreSQL's catalog) and simply
        # checks again.
        for attempt in range(5):
            try:
                Base.metadata.create_all(self._writer)
                return
            except DBAPIError:
                if attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1) * random.uniform(0.5, 1.5))

    def _bind(self, write: bool):
        if os.getpid() != self._pid:  # forked: never share the parent's connections
            with self._lock:
                if os.getpid() != self._pid:
                    self._engine.dispose(close=False)
                    self._pid = os.getpid()
        return self._writer if write else self._engine

    def _transient(self, exc: DBAPIError) -> bool:
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        if getattr(orig, "pgcode", None) in _PG_TRANSIENT:
            return True
        args: Tuple[Any, ...] = getattr(orig, "args", ())
        return self.dialect in ("mysql", "mariadb") and bool(args) and args[0] in _MYSQL_TRANSIENT

    def _run(
        self,
        action: str,
        fn: Callable[[Session], T],
        *,
        write: bool = False,
        retry_integrity: bool = False,
        on_integrity: Optional[Callable[[IntegrityError], HpogridError]] = None,
    ) -> T:
        """Run ``fn`` in one transaction, retrying transient failures."""
        for attempt in range(MAX_ATTEMPTS):
            last = attempt == MAX_ATTEMPTS - 1
            try:
                with Session(self._bind(write), expire_on_commit=False) as session:
                    with session.begin():
                        return fn(session)
            except HpogridError:
                raise
            except IntegrityError as exc:
                if on_integrity is not None and not retry_integrity:
                    raise on_integrity(exc) from None
                if not retry_integrity or last:
                    raise StudyError(f"{action} failed on {self.url}: {self._message(exc)}") from exc
            except DBAPIError as exc:
                if not self._transient(exc) or last:
                    raise StudyError(f"{action} failed on {self.url}: {self._message(exc)}") from exc
            except SQLAlchemyError as exc:
                raise StudyError(f"{action} failed on {self.url}: {self._message(exc)}") from exc
            time.sleep(min(0.5, 0.002 * 2**attempt) * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")

    def _study_row(self, session: Session, name: str) -> StudyRow:
        row = session.scalars(select(StudyRow).where(StudyRow.name == name)).one_or_none()
        if row is None:
            raise NotFoundError(f"study {name!r} not found in {self.url}")
        return row

    # -- studies -------------------------------------------------------------------------

    def create_study(
        self, name: str, metric: str, mode: str, attrs: Optional[dict] = None
    ) -> StudyInfo:
        """Create a study; :class:`AlreadyExistsError` if ``name`` is taken."""
        name = check_name(name, "study")
        metric, mode = _check_metric(metric), _check_mode(mode)
        attrs = _check_dict(attrs, "attrs")

        def tx(s: Session) -> StudyInfo:
            if s.scalar(select(StudyRow.id).where(StudyRow.name == name)) is not None:
                raise self._exists(name)
            row = StudyRow(name=name, metric=metric, mode=mode, attrs=attrs, created_at=utcnow())
            s.add(row)
            s.flush()
            return _study_info(row)

        return self._run("create study", tx, write=True, on_integrity=lambda _: self._exists(name))

    def _exists(self, name: str) -> AlreadyExistsError:
        return AlreadyExistsError(f"study {name!r} already exists in {self.url}")

    def get_study(self, name: StudyRef) -> StudyInfo:
        """The study ``name``; :class:`NotFoundError` if there is none."""
        name = _name(name)
        return self._run("read study", lambda s: _study_info(self._study_row(s, name)))

    def get_or_create_study(
        self, name: str, metric: str, mode: str, attrs: Optional[dict] = None
    ) -> StudyInfo:
        """The study ``name``, created if missing (safe when many processes race).

        An existing study must have the same ``metric`` and ``mode`` (``attrs`` of an
        existing study are kept): resuming with another objective would silently reorder
        the trials, so that is a :class:`StudyError`.
        """
        metric, mode = _check_metric(metric), _check_mode(mode)
        for _ in range(5):
            try:
                info = self.get_study(name)
            except NotFoundError:
                try:
                    return self.create_study(name, metric, mode, attrs)
                except AlreadyExistsError:
                    continue
            if (info.metric, info.mode) != (metric, mode):
                raise StudyError(
                    f"study {info.name!r} in {self.url} optimises {info.metric!r} ({info.mode}), "
                    f"not {metric!r} ({mode}): use another study name"
                )
            return info
        raise StudyError(f"study {name!r} in {self.url} keeps disappearing while being created")

    def list_studies(self) -> list[StudyInfo]:
        """All studies, by name."""
        return self._run(
            "list studies",
            lambda s: [_study_info(r) for r in s.scalars(select(StudyRow).order_by(StudyRow.name))],
        )

    def delete_study(self, name: StudyRef) -> None:
        """Delete a study and all its trials; :class:`NotFoundError` if there is none."""
        name = _name(name)

        def tx(s: Session) -> None:
            row = self._study_row(s, name)
            s.execute(delete(TrialRow).where(TrialRow.study_id == row.id))
            s.execute(delete(StudyRow).where(StudyRow.id == row.id))

        self._run("delete study", tx, write=True)
        self._studies.pop(name, None)

    def update_attrs(self, name: StudyRef, attrs: dict) -> StudyInfo:
        """Set the top-level keys of ``attrs`` in the study's attributes (the others are kept);
        :class:`NotFoundError` if there is no such study."""
        name, attrs = _name(name), _check_dict(attrs, "attrs")

        def tx(s: Session) -> StudyInfo:
            row = self._study_row(s, name)
            row.attrs = {**(row.attrs or {}), **attrs}
            s.flush()
            return _study_info(row)

        return self._run("update study attributes", tx, write=True)

    def copy_study(self, src: StudyRef, dst: str) -> StudyInfo:
        """Copy study ``src`` with all its trials (numbers and uids kept) to new name ``dst``.

        Made for backups before a resume; one transaction, so the copy is all or nothing.
        """
        src, dst = _name(src), check_name(dst, "study")

        def tx(s: Session) -> StudyInfo:
            old = self._study_row(s, src)
            if s.scalar(select(StudyRow.id).where(StudyRow.name == dst)) is not None:
                raise self._exists(dst)
            new = StudyRow(
                name=dst, metric=old.metric, mode=old.mode, attrs=old.attrs, created_at=utcnow()
            )
            s.add(new)
            s.flush()
            copied = [c.key for c in TrialRow.__table__.columns if c.key not in ("id", "study_id")]
            for t in s.scalars(select(TrialRow).where(TrialRow.study_id == old.id)):
                s.add(TrialRow(study_id=new.id, **{k: getattr(t, k) for k in copied}))
            s.flush()
            return _study_info(new)

        return self._run("copy study", tx, write=True, on_integrity=lambda _: self._exists(dst))

    # -- trials: writing ---------------------------------------------------------------

    def _lock_trial(self, s: Session, name: str, uid: str, state: str) -> tuple[TrialRow, str]:
        """(locked row of ``uid``, study metric); the row is inserted with the next number
        if new.

        Fast path: the study's id and metric are cached per store (a study's metric never
        changes and ids are never reused), so updating a known trial is one locking
        SELECT. A miss - new uid, first call, or a study deleted and re-created meanwhile -
        takes the slow path, which re-reads the study by name under a row lock.
        """
        cached = self._studies.get(name)
        if cached is not None:
            row = s.scalars(_TRIAL_BY_UID, {"sid": cached[0], "uid": uid}).one_or_none()
            if row is not None:
                return row, cached[1]
        # Serialise numbering on the study's row, then look (again): another writer may
        # have inserted this uid while we waited for the lock.
        study = s.scalars(_STUDY_BY_NAME_LOCKED, {"name": name}).one_or_none()
        if study is None:
            self._studies.pop(name, None)
            raise NotFoundError(f"study {name!r} not found in {self.url}")
        self._studies[name] = (study.id, study.metric)
        row = s.scalars(_TRIAL_BY_UID, {"sid": study.id, "uid": uid}).one_or_none()
        if row is not None:
            return row, study.metric
        number = s.scalar(_NEXT_NUMBER, {"sid": study.id})
        now = utcnow()
        row = TrialRow(
            study_id=study.id, uid=uid, number=int(number or 0), state=state, params={}, metrics={},
            value=None, intermediate=[], annotations={}, created_at=now,
            started_at=now if state == RUNNING else None,
        )
        s.add(row)
        return row, study.metric

    def upsert_trial(self, study: StudyRef, uid: str, **fields: Any) -> TrialRecord:
        """Insert trial ``uid`` or update the given ``fields`` of it; idempotent.

        ``fields`` are any of :data:`TRIAL_FIELDS`. A new trial gets the next ``number``
        and state PENDING unless ``state`` is given. ``value`` follows
        ``metrics[study.metric]`` when ``metrics`` is given without ``value``. Entering
        RUNNING sets ``started_at``, entering a finished state sets ``finished_at``, and
        every call refreshes ``heartbeat_at`` (unless given explicitly). ``annotations`` are
        merged into the trial's (a key given again replaces that key).
        """
        name, uid = _name(study), _check_uid(uid)
        values = _check_fields(fields)

        def tx(s: Session) -> TrialRecord:
            row, metric = self._lock_trial(s, name, uid, PENDING)
            _apply(row, values, metric, utcnow())
            s.flush()
            return _trial_record(row, name)

        return self._run("write trial", tx, write=True, retry_integrity=True)

    def append_intermediate(self, study: StudyRef, uid: str, metrics: dict) -> TrialRecord:
        """Append one per-iteration metrics dict to trial ``uid``.

        It also becomes the trial's ``metrics`` (and ``value``), and refreshes
        ``heartbeat_at``. Reporting proves the trial runs: a missing trial is created,
        and a PENDING or INTERRUPTED one (e.g. wrongly marked stale) becomes RUNNING.
        """
        name, uid = _name(study), _check_uid(uid)
        report = _check_dict(metrics, "metrics", numeric=True)

        def tx(s: Session) -> TrialRecord:
            row, metric = self._lock_trial(s, name, uid, RUNNING)
            now = utcnow()
            row.intermediate = [*(row.intermediate or []), report]
            values: dict = {"metrics": report, "heartbeat_at": now}
            if row.state in (PENDING, INTERRUPTED):
                values["state"] = RUNNING
            _apply(row, values, metric, now)
            s.flush()
            return _trial_record(row, name)

        return self._run("append intermediate result", tx, write=True, retry_integrity=True)

    def heartbeat(self, study: StudyRef, uids: Iterable[str]) -> int:
        """Refresh ``heartbeat_at`` of the PENDING / RUNNING trials among ``uids``.

        A live run calls this periodically for the trials it runs, so readers can tell
        them from trials of a run that died (:meth:`mark_stale`). One statement whatever
        the number of trials; finished and unknown uids are left alone. Returns how many
        trials were refreshed.
        """
        from sqlalchemy import update

        name, wanted = _name(study), sorted({_check_uid(u) for u in uids})
        if not wanted:
            return 0

        def tx(s: Session) -> int:
            if self.dialect == "postgresql":
                # a heartbeat lost in a server crash only makes its trials look older: no wait for
                # the disk (the commit's fsync was most of a beat's time, benchmarks/slurm_scale.py)
                s.execute(text("SET LOCAL synchronous_commit TO OFF"))
            st = self._study_row(s, name)
            result = s.execute(
                update(TrialRow)
                .where(TrialRow.study_id == st.id, TrialRow.uid.in_(wanted),
                       TrialRow.state.in_([PENDING, RUNNING]))
                .values(heartbeat_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            # (an UPDATE's result is a CursorResult, which SQLAlchemy's types call a Result)
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

        return self._run("refresh heartbeats", tx, write=True)

    def mark_stale(
        self,
        study: StudyRef,
        older_than_s: float,
        backends: Optional[Iterable[str]] = None,
        states: Iterable[str] = (RUNNING,),
    ) -> int:
        """Trials in ``states`` silent for more than ``older_than_s`` become INTERRUPTED.

        Silence is measured from ``heartbeat_at`` (else ``started_at``, else
        ``created_at``). ``backends`` limits the marking to trials written by those
        backends (ones whose runs send heartbeats). Returns how many trials were marked.
        """
        name = _name(study)
        if finite_or_none(older_than_s) is None or older_than_s < 0:
            raise ValidationError("older_than_s", f"must be a number >= 0, got {older_than_s!r}")
        wanted = [_check_state(x) for x in states]
        only = None if backends is None else list(backends)

        def tx(s: Session) -> int:
            st = self._study_row(s, name)
            now = utcnow()
            last = func.coalesce(TrialRow.heartbeat_at, TrialRow.started_at, TrialRow.created_at)
            query = select(TrialRow).where(
                TrialRow.study_id == st.id,
                TrialRow.state.in_(wanted),
                last < now - timedelta(seconds=float(older_than_s)),
            )
            if only is not None:
                query = query.where(TrialRow.backend.in_(only))
            rows = s.scalars(query.with_for_update()).all()
            for row in rows:
                seen = row.heartbeat_at or row.started_at or row.created_at
                row.state = INTERRUPTED
                row.error = f"no heartbeat for {int((now - seen).total_seconds())} s"
                row.finished_at = now
            return len(rows)

        return self._run("mark stale trials", tx, write=True)

    # -- trials: reading ---------------------------------------------------------------

    def trials(
        self, study: StudyRef, states: Union[None, str, Iterable[str]] = None,
        uids: Optional[Iterable[str]] = None, changed_since: Optional[datetime] = None,
    ) -> list[TrialRecord]:
        """Trials of ``study`` (optionally only those in ``states``, only ``uids``, only those
        written at or after ``changed_since``: created, finished or heartbeat then; every
        write refreshes the heartbeat), by number. The filters let a reader of a study of
        100,000 trials read the few it needs (decoding rows is what costs)."""
        name = _name(study)
        wanted = None if states is None else [_check_state(x) for x in ([states] if isinstance(states, str) else states)]
        only = None if uids is None else sorted({str(u) for u in uids})
        since = None if changed_since is None else changed_since.astimezone(timezone.utc)

        def tx(s: Session) -> list[TrialRecord]:
            st = self._study_row(s, name)
            q = select(TrialRow).where(TrialRow.study_id == st.id)
            if wanted is not None:
                q = q.where(TrialRow.state.in_(wanted))
            if since is not None:
                q = q.where(or_(TrialRow.heartbeat_at >= since, TrialRow.finished_at >= since,
                                TrialRow.created_at >= since))
            if only is None:
                return [_trial_record(r, name) for r in s.scalars(q.order_by(TrialRow.number))]
            found: list[TrialRecord] = []
            for i in range(0, len(only), 500):  # bound the statement's parameters
                part = q.where(TrialRow.uid.in_(only[i:i + 500]))
                found += [_trial_record(r, name) for r in s.scalars(part)]
            return sorted(found, key=lambda t: t.number)

        return self._run("read trials", tx)

    def ranked(self, study: StudyRef, limit: int) -> list[TrialRecord]:
        """At most ``limit`` COMPLETED trials with a finite ``value``, best first (ties: lowest
        number), as :meth:`best_trial` orders them; constraints are not applied here."""
        name = _name(study)

        def tx(s: Session) -> list[TrialRecord]:
            st = self._study_row(s, name)
            order = TrialRow.value.asc() if st.mode == "min" else TrialRow.value.desc()
            q = (select(TrialRow)
                 .where(TrialRow.study_id == st.id, TrialRow.state == COMPLETED, TrialRow.value.is_not(None))
                 .order_by(order, TrialRow.number).limit(max(0, int(limit))))
            return [_trial_record(r, name) for r in s.scalars(q)]

        return self._run("read best trials", tx)

    def latest(self, study: StudyRef, state: str) -> Optional[TrialRecord]:
        """The trial in ``state`` with the highest number (None: there is none)."""
        name, wanted = _name(study), _check_state(state)

        def tx(s: Session) -> Optional[TrialRecord]:
            st = self._study_row(s, name)
            row = s.scalars(select(TrialRow).where(TrialRow.study_id == st.id, TrialRow.state == wanted)
                            .order_by(TrialRow.number.desc()).limit(1)).first()
            return None if row is None else _trial_record(row, name)

        return self._run("read latest trial", tx)

    def claim_pending(self, study: StudyRef, backend: str, **fields: Any) -> Optional[TrialRecord]:
        """Atomically take the oldest PENDING trial of ``backend`` in ``study``: it becomes
        RUNNING with ``fields`` (e.g. the claiming worker's ``job_id`` and ``host``); None when
        there is none. Of several workers asking at once each gets a different trial: the
        update only succeeds while the trial is still PENDING (a compare-and-set every
        database here applies atomically)."""
        from sqlalchemy import update

        name = _name(study)
        values = _check_fields(fields)

        # PostgreSQL: one statement takes the oldest PENDING row no other claimer holds (SKIP
        # LOCKED) and returns it, so 20 workers asking at once take 20 different rows instead of
        # all waiting on the first one's lock and then finding it taken (benchmarks/slurm_scale.py)
        if self.dialect == "postgresql":
            def tx_pg(s: Session) -> Optional[TrialRecord]:
                st = self._study_row(s, name)
                oldest = select(TrialRow.id).where(
                    TrialRow.study_id == st.id, TrialRow.state == PENDING, TrialRow.backend == backend
                ).order_by(TrialRow.number).limit(1).with_for_update(skip_locked=True).scalar_subquery()
                now = utcnow()
                row = s.scalars(update(TrialRow).where(TrialRow.id == oldest).values(
                    state=RUNNING, started_at=now, heartbeat_at=now, **values).returning(TrialRow),
                    execution_options={"synchronize_session": False}).one_or_none()
                return None if row is None else _trial_record(row, name)

            return self._run("claim trial", tx_pg, write=True)

        def tx(s: Session) -> Optional[TrialRecord]:
            st = self._study_row(s, name)
            ids = s.scalars(select(TrialRow.id).where(
                TrialRow.study_id == st.id, TrialRow.state == PENDING, TrialRow.backend == backend
            ).order_by(TrialRow.number).limit(16)).all()
            now = utcnow()
            for row_id in ids:
                done = s.execute(update(TrialRow).where(TrialRow.id == row_id, TrialRow.state == PENDING).values(
                    state=RUNNING, started_at=now, heartbeat_at=now, **values))
                if done.rowcount == 1:  # type: ignore[attr-defined]  # (an UPDATE's result: a CursorResult)
                    s.flush()
                    row = s.get(TrialRow, row_id)
                    if row is None:  # (it was just updated: it is there)
                        continue
                    s.refresh(row)
                    return _trial_record(row, name)
            return None

        return self._run("claim trial", tx, write=True)

    def trial(self, study: StudyRef, uid: str) -> TrialRecord:
        """Trial ``uid`` of ``study``; :class:`NotFoundError` if there is none."""
        name = _name(study)

        def tx(s: Session) -> TrialRecord:
            st = self._study_row(s, name)
            row = s.scalars(
                select(TrialRow).where(TrialRow.study_id == st.id, TrialRow.uid == uid)
            ).one_or_none()
            if row is None:
                raise NotFoundError(f"trial {uid!r} not found in study {name!r}")
            return _trial_record(row, name)

        return self._run("read trial", tx)

    def best_trial(self, study: StudyRef) -> Optional[TrialRecord]:
        """The COMPLETED trial with the best finite ``value`` (ties: lowest number).

        A trial whose final metrics break one of the study's outcome constraints (its
        ``attrs``, see :meth:`hpogrid.objectives.Objectives.to_attrs`) is infeasible and never
        the best. Of a multi-objective study this is the best by its first (primary)
        objective; its Pareto front is :attr:`hpogrid.study.StudyView.best_trials`.
        """
        name = _name(study)

        def tx(s: Session) -> Optional[TrialRecord]:
            st = self._study_row(s, name)
            objectives = study_objectives(_study_info(st))
            order = TrialRow.value.asc() if st.mode == "min" else TrialRow.value.desc()
            query = (
                select(TrialRow)
                .where(
                    TrialRow.study_id == st.id,
                    TrialRow.state == COMPLETED,
                    TrialRow.value.is_not(None),
                )
                .order_by(order, TrialRow.number)
            )
            if not objectives.constraints:
                row = s.scalars(query.limit(1)).first()
                return None if row is None else _trial_record(row, name)
            # best first until one is feasible (read in batches: usually the first one is)
            for row in s.scalars(query.execution_options(yield_per=200)):
                if objectives.feasible(row.metrics):
                    return _trial_record(row, name)
            return None

        return self._run("read best trial", tx)

    def counts(self, study: StudyRef) -> dict[str, int]:
        """Number of trials per state (every state present, zeros included)."""
        name = _name(study)

        def tx(s: Session) -> dict[str, int]:
            st = self._study_row(s, name)
            rows = s.execute(
                select(TrialRow.state, func.count())
                .where(TrialRow.study_id == st.id)
                .group_by(TrialRow.state)
            ).all()
            out: dict[str, int] = dict.fromkeys(STATES, 0)
            out.update({state: int(n) for state, n in rows})
            return out

        return self._run("count trials", tx)


# -- conversion and validation (pure functions) ---------------------------------------


def _study_info(row: StudyRow) -> StudyInfo:
    return StudyInfo(
        id=row.id, name=row.name, metric=row.metric, mode=row.mode,
        attrs=dict(row.attrs or {}), created_at=row.created_at,
    )


def _trial_record(row: TrialRow, study: str) -> TrialRecord:
    return TrialRecord(
        study=study, uid=row.uid, number=row.number, state=TrialState(row.state),
        params=row.params or {}, metrics=row.metrics or {}, value=row.value,
        intermediate=row.intermediate or [], error=row.error, backend=row.backend,
        host=row.host, job_id=row.job_id, task_id=row.task_id, site=row.site,
        annotations=row.annotations or {}, created_at=row.created_at,
        started_at=row.started_at, finished_at=row.finished_at, heartbeat_at=row.heartbeat_at,
    )


def _apply(row: TrialRow, values: dict, metric: str, now) -> None:
    """Set ``values`` on ``row`` plus the derived value and life-cycle timestamps."""
    before = row.state
    for key, val in values.items():
        if key == "annotations" and row.annotations:  # annotations add up; a key given again wins
            val = {**row.annotations, **(val or {})}
        setattr(row, key, val)
    if "metrics" in values and "value" not in values:
        row.value = finite_or_none(values["metrics"].get(metric))
    state = values.get("state")
    if state is not None and state != before:
        if state == RUNNING and row.started_at is None and "started_at" not in values:
            row.started_at = now
        if state in FINISHED_STATES and before not in FINISHED_STATES and "finished_at" not in values:
            row.finished_at = now
        if state not in FINISHED_STATES and before in FINISHED_STATES:  # retried / resumed
            if "finished_at" not in values:
                row.finished_at = None
            if "error" not in values:
                row.error = None
    if state in FINISHED_STATES and row.finished_at is None and "finished_at" not in values:
        row.finished_at = now
    if "heartbeat_at" not in values:
        row.heartbeat_at = now


def _name(study: StudyRef) -> str:
    if isinstance(study, StudyInfo):
        return study.name
    if not isinstance(study, str) or not study:
        raise ValidationError("study", f"expected a study name, got {study!r}")
    return study


def _check_uid(uid: Any) -> str:
    if isinstance(uid, int) and not isinstance(uid, bool):
        uid = str(uid)
    if not isinstance(uid, str) or not uid or len(uid) > STRING_LIMITS["uid"]:
        raise ValidationError("uid", f"expected a non-empty string of at most 255 characters, got {uid!r}")
    return uid


def _check_metric(metric: Any) -> str:
    if not isinstance(metric, str) or not metric or len(metric) > 255:
        raise ValidationError("metric", f"expected a metric name, got {metric!r}")
    return metric


def _check_mode(mode: Any) -> str:
    m = mode.lower() if isinstance(mode, str) else mode
    if m not in MODES:
        raise ValidationError("mode", f"expected 'min' or 'max', got {mode!r}")
    return m


def _check_state(state: Any) -> str:
    s = state.upper() if isinstance(state, str) else state
    if s not in STATES:
        raise ValidationError("state", f"expected one of {', '.join(STATES)}, got {state!r}")
    return s


def _check_dict(value: Any, field: str, numeric: bool = False) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(field, f"expected a dict, got {type(value).__name__}")
    return clean_json(value, numeric)


def _check_fields(fields: dict) -> dict:
    unknown = sorted(set(fields) - TRIAL_FIELDS)
    if unknown:
        raise TypeError(f"unknown trial field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(TRIAL_FIELDS))}")
    out: dict = {}
    for key, val in fields.items():
        if key == "state":
            out[key] = _check_state(val)
        elif key in ("params", "annotations"):
            out[key] = _check_dict(val, key)
        elif key == "metrics":
            out[key] = _check_dict(val, key, numeric=True)
        elif key == "intermediate":
            val = [] if val is None else val
            if not isinstance(val, (list, tuple)) or not all(isinstance(v, dict) for v in val):
                raise ValidationError(key, "expected a list of metric dicts")
            out[key] = clean_json(list(val), numeric=True)
        elif key == "value":
            out[key] = finite_or_none(val)
        elif key == "error":
            out[key] = None if val is None else str(val)[-MAX_ERROR_CHARS:]
        elif key in _DATETIME_FIELDS:
            dt = to_utc(val, key)
            if key == "created_at" and dt is None:
                raise ValidationError(key, "cannot be None")
            out[key] = dt
        else:  # short strings; ids from PanDA may come as ints
            if val is not None:
                val = str(val)
                if len(val) > STRING_LIMITS[key]:
                    raise ValidationError(key, f"longer than {STRING_LIMITS[key]} characters")
            out[key] = val
    return out
