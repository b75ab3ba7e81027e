"""Engines tuned for many concurrent trial writers, and errors without passwords.

SQLite is the default store of a project and is written by many processes at once (Ray
workers, local runs), so its engine:

* uses WAL (readers never block writers) with ``synchronous=NORMAL`` (safe with WAL);
* waits up to 30 s for a lock (``busy_timeout``) instead of failing with
  "database is locked";
* starts write transactions with ``BEGIN IMMEDIATE``: a deferred transaction that reads
  and then writes can fail at once with SQLITE_BUSY (the busy handler is not used when a
  read snapshot has to be upgraded), taking the write lock up front avoids that;
* allows use from any thread (``check_same_thread=False``; each operation has its own
  session, the pool hands connections to one thread at a time).

Only a run's engine (``access="create"``) makes the folder and turns WAL on. A reader's
(``"read"``: reports, the dashboard, :func:`hpogrid.study.load`) opens a SQLite file with
``mode=ro``, so reading never creates, converts or touches a database; in a folder it may not
write (a read-only file system) and with no ``-wal`` file beside it (no writer) it opens the
file ``immutable``. ``"write"`` (settling an existing study) changes rows, never the file's mode.

PostgreSQL and MariaDB run at READ COMMITTED so a statement after a row lock sees the rows
other writers committed meanwhile (MariaDB's default REPEATABLE READ would not), and ping
pooled connections before use (grid syncs are long-lived processes).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional, Union
from urllib.parse import quote

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from hpogrid.errors import MissingDependencyError, StudyError, ValidationError

#: seconds a SQLite writer waits for the lock before giving up
SQLITE_BUSY_TIMEOUT_S = 30
#: seconds to wait for a database server to answer a connection attempt
CONNECT_TIMEOUT_S = 10
#: execution option that marks a connection as a writer (``BEGIN IMMEDIATE`` on SQLite)
WRITE_OPTION = "hpogrid_write"


def sqlite_url(path: Union[str, os.PathLike]) -> str:
    """SQLAlchemy URL of the SQLite file ``path`` (made absolute)."""
    return "sqlite:///" + str(Path(path).expanduser().absolute())


def parse_url(url: Union[str, URL]) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError, TypeError) as exc:
        raise StudyError(f"invalid study store URL {redact_text(str(url))!r}: {first_line(exc)}") from None


def safe_url(url: Union[str, URL]) -> str:
    """The URL as a string with its password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a broken URL must still be printable
        return redact_text(str(url))


def redact_text(text: str, password: Optional[str] = None) -> str:
    """``text`` with ``password`` and any ``user:password@`` part masked."""
    if password:
        text = text.replace(password, "***")
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)


def first_line(exc: BaseException) -> str:
    """One line describing ``exc``: the DBAPI message when there is one."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def sqlite_file(url: URL) -> Optional[Path]:
    """The file behind a SQLite URL, ``None`` for in-memory or ``file:`` URI databases."""
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def sqlite_path(url: Union[str, URL]) -> Optional[Path]:
    """The file behind ``url`` when it is a SQLite file URL, else ``None``."""
    parsed = parse_url(url)
    return sqlite_file(parsed) if is_sqlite(parsed) else None


def check_user_url(url: str, field: str = "--study-url") -> None:
    """A store URL the user gave (an option, ``$HPOGRID_STUDY_URL``) before anything is done
    with it: it parses; a SQLite one names a file (an in-memory database loses every trial when
    the command ends) whose folder exists (a missing folder is a typo, not a wish: it is never
    created, as for ``report --outdir``). One line naming ``field``."""
    parsed = parse_url(url)
    if not is_sqlite(parsed):
        return
    db = parsed.database or ""
    if not db or db == ":memory:" or "mode=memory" in db or parsed.query.get("mode") == "memory":
        raise ValidationError(field, f"{safe_url(parsed)!r} is an in-memory SQLite database, which loses every "
                                     "trial when the command ends; name a file, e.g. sqlite:////path/to/study.db")
    path = sqlite_file(parsed)
    if path is not None:
        folder = path.expanduser().absolute().parent
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "does not exist"
            raise ValidationError(field, f"the folder of the SQLite file, {str(folder)!r}, {what} (create it first)")


def create_store_engine(url: URL, access: str = "create") -> Engine:
    """An engine for ``url`` configured as described in the module docstring (``access``: see
    :class:`~hpogrid.study.StudyStore`)."""
    try:
        if is_sqlite(url):
            return _sqlite_engine(url, access)
        return _server_engine(url)
    except NoSuchModuleError as exc:
        raise MissingDependencyError(
            f"no SQLAlchemy dialect for {safe_url(url)}: {first_line(exc)}"
        ) from None
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(
            f"the database driver for {safe_url(url)} is not installed: {exc}"
        ) from None
    except ArgumentError as exc:
        raise StudyError(f"invalid study store URL {safe_url(url)}: {first_line(exc)}") from None


def _file_uri(url: URL, path: Path, mode: str) -> URL:
    """``sqlite:///file:PATH?mode=MODE&uri=true``: ``ro`` reads only, ``rw`` never creates the
    file; ``immutable=1`` is added to ``ro`` where no writer can be."""
    path = path.expanduser().absolute()
    query = {"mode": mode, "uri": "true"}
    if mode == "ro" and not os.access(path.parent, os.W_OK) and not Path(f"{path}-wal").exists():
        query["immutable"] = "1"  # no -shm can be made here, and no writer is running
    return url.set(database="file:" + quote(str(path)), query=query)


def _sqlite_engine(url: URL, access: str = "create") -> Engine:
    path = sqlite_file(url)
    kwargs: dict = {
        "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
    }
    if path is not None and access != "create":
        url = _file_uri(url, path, "ro" if access == "read" else "rw")
    elif path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StudyError(f"cannot create the folder of study store {path}: {exc.strerror}") from None
    elif not url.database or url.database == ":memory:":
        kwargs["poolclass"] = StaticPool  # one shared in-memory database
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
            if path is not None and access == "create":
                cur.execute("PRAGMA journal_mode = WAL")
                cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _server_engine(url: URL) -> Engine:
    backend = url.get_backend_name()
    connect_args: dict = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    if backend in ("mysql", "mariadb") and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return create_engine(
        url,
        connect_args=connect_args,
        isolation_level="READ COMMITTED",
        pool_pre_ping=True,
        pool_recycle=3600,
    )
