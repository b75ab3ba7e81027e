"""Storages for the study-store contract: SQLite in tmp_path, real PostgreSQL and MariaDB.

Server URLs default to the local test servers and can be overridden with
``HPOGRID_TEST_POSTGRES_URL`` / ``HPOGRID_TEST_MARIADB_URL``. A server that cannot be
reached makes its tests skip with the reason; it never fails them. Every test works in
studies with unique random names and deletes them afterwards, so runs can overlap.
"""
import os
import uuid

import pytest

POSTGRES_URL = os.environ.get(
    "HPOGRID_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
MARIADB_URL = os.environ.get("HPOGRID_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
SERVER_URLS = {"postgresql": POSTGRES_URL, "mariadb": MARIADB_URL}
STORAGES = ("sqlite", "postgresql", "mariadb")

_reachable: dict = {}


def server_url(kind: str) -> str:
    """URL of server ``kind``; skips the calling test when it cannot be reached."""
    url = SERVER_URLS[kind]
    if kind not in _reachable:
        from sqlalchemy import create_engine, text

        from hpogrid.study.engine import first_line, safe_url

        try:
            engine = create_engine(url, connect_args={"connect_timeout": 3})
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
            finally:
                engine.dispose()
            _reachable[kind] = None
        except Exception as exc:  # noqa: BLE001 - any failure means "not available here"
            _reachable[kind] = f"{kind} server not reachable at {safe_url(url)}: {first_line(exc)}"
    if _reachable[kind]:
        pytest.skip(_reachable[kind])
    return url


def storage_url(kind: str, tmp_path) -> str:
    if kind == "sqlite":
        from hpogrid.study import sqlite_url

        return sqlite_url(tmp_path / "store" / "study.db")
    return server_url(kind)


@pytest.fixture
def require_server():
    """``require_server(kind)`` -> URL of that server, or skip the test."""
    return server_url


@pytest.fixture(params=STORAGES)
def storage(request, tmp_path):
    """Name of the storage under test."""
    return request.param


@pytest.fixture
def url(storage, tmp_path):
    return storage_url(storage, tmp_path)


@pytest.fixture
def store(url):
    from hpogrid.study import StudyStore

    s = StudyStore(url)
    yield s
    s.close()


@pytest.fixture
def unique_name(store):
    """Factory of unique study names; the studies are deleted after the test."""
    from hpogrid.errors import NotFoundError

    made = []

    def make(prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        made.append(name)
        return name

    yield make
    for name in made:
        try:
            store.delete_study(name)
        except NotFoundError:
            pass


@pytest.fixture
def study(store, unique_name):
    """A fresh study minimising ``loss``."""
    return store.create_study(unique_name(), metric="loss", mode="min").name
