"""Find a project's study and read its trials fast.

``StudyStore.trials`` builds ORM objects and decodes every column, including the
per-iteration results a report never shows: 7.7 s for 100,000 trials here. Reading the
columns a report needs with a Core ``SELECT`` and decoding the JSON and timestamps
ourselves takes ~1.5 s, which is what keeps ``hpogrid report`` on 100k trials under 10 s.
The records are the store's own :class:`TrialRecord` (minus ``intermediate`` and
``heartbeat_at``); ``tests/report`` checks they equal what ``StudyStore.trials`` returns.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any, List, Optional, Tuple

from hpogrid.errors import NotFoundError, StudyError
from hpogrid.study import StudyInfo, StudyStore, TrialRecord, sqlite_url

#: columns a report reads (``intermediate`` and ``heartbeat_at`` are left in the database)
_COLUMNS = ("uid", "number", "state", "params", "metrics", "value", "error", "backend", "host",
            "job_id", "task_id", "site", "annotations", "created_at", "started_at", "finished_at")
_JSON = ("params", "metrics", "annotations")
_TIMES = ("created_at", "started_at", "finished_at")


def store_url(project: str, study_url: Optional[str]) -> str:
    """``--study-url``, else ``$HPOGRID_STUDY_URL``, else the project's SQLite file (which
    must exist: opening a missing one would create an empty database)."""
    url = study_url or os.environ.get("HPOGRID_STUDY_URL")
    if url:
        return url
    from hpogrid import paths

    db = paths.study_db(project)
    if not db.is_file():
        raise NotFoundError(f"project {project!r} has no study yet ({db} does not exist): "
                            f"run 'hpogrid local_run {project}' first")
    return sqlite_url(db)


def open_study(url: str, name: str) -> Tuple[StudyStore, StudyInfo]:
    """The store at ``url`` and study ``name`` in it; a missing study names those present."""
    store = StudyStore(url)
    try:
        return store, store.get_study(name)
    except NotFoundError:
        names = ", ".join(s.name for s in store.list_studies()) or "none"
        store.close()
        raise NotFoundError(f"--study: {name!r} not found in {store.url} (studies there: {names})") from None


def read_trials(store: StudyStore, url: str, info: StudyInfo) -> List[TrialRecord]:
    """Every trial of ``info`` by number, without ``intermediate`` / ``heartbeat_at``.

    ``url`` is the one ``store`` was opened with (``store.url`` hides the password).
    """
    from sqlalchemy import Text, select, type_coerce
    from sqlalchemy.exc import SQLAlchemyError

    from hpogrid.study.engine import create_store_engine, first_line, parse_url, redact_text, sqlite_file
    from hpogrid.study.schema import TrialRow

    url = parse_url(url)
    if url.get_backend_name() == "sqlite" and sqlite_file(url) is None:
        return store.trials(info.name)  # in-memory: only the store's own engine sees the data
    table = TrialRow.__table__
    # raw values: Text for JSON and timestamps skips SQLAlchemy's slow per-row processors
    cols = [type_coerce(table.c[k], Text) if k in _JSON + _TIMES else table.c[k] for k in _COLUMNS]
    query = select(*cols).where(table.c.study_id == info.id).order_by(table.c.number)
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
    except SQLAlchemyError as exc:
        raise StudyError(f"read trials failed on {store.url}: "
                         f"{redact_text(first_line(exc), url.password)}") from None
    finally:
        engine.dispose()
    return [_record(info.name, row) for row in rows]


def _record(study: str, row: Any) -> TrialRecord:
    from hpogrid.study.values import decode_nonfinite

    (uid, number, state, params, metrics, value, error, backend, host, job_id, task_id, site,
     annotations, created, started, finished) = row
    return TrialRecord(
        study=study, uid=uid, number=number, state=state, params=_json(params) or {},
        metrics=decode_nonfinite(_json(metrics) or {}), value=value, error=error,
        backend=backend, host=host, job_id=job_id, task_id=task_id, site=site,
        annotations=_json(annotations) or {}, created_at=_utc(created),
        started_at=_utc(started), finished_at=_utc(finished),
    )


def _json(value: Any) -> Any:
    # SQLite and MariaDB hand back text, psycopg2 may hand back parsed documents
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _utc(value: Any) -> Optional[datetime]:
    """The store keeps naive UTC; drivers return text (SQLite) or datetimes (servers)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
