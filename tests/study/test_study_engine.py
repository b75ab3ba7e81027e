"""Opening stores: URLs, SQLite tuning, one-line errors that never show a password."""
import subprocess
import sys
from pathlib import Path

import pytest

from hpogrid.errors import HpogridError, MissingDependencyError, StudyError
from hpogrid.study import StudyStore, safe_url, sqlite_url

BAD_SERVERS = [
    "postgresql+psycopg2://postgres:secretpw@127.0.0.1:1/test",
    "mysql+pymysql://root:secretpw@127.0.0.1:1/test",
]


@pytest.mark.parametrize("url", BAD_SERVERS)
def test_connection_error_hides_password(url):
    with pytest.raises(StudyError) as err:
        StudyStore(url)
    message = str(err.value)
    assert "secretpw" not in message
    assert "***" in message and "127.0.0.1" in message
    assert "\n" not in message
    assert "secretpw" not in repr(err.value)


def test_password_with_special_characters_is_hidden():
    with pytest.raises(StudyError) as err:
        StudyStore("postgresql+psycopg2://postgres:s%40cr%3At@127.0.0.1:1/test")
    assert "s@cr:t" not in str(err.value) and "s%40cr%3At" not in str(err.value)


def test_unknown_dialect_hides_password():
    with pytest.raises(HpogridError) as err:
        StudyStore("nosuchdb://user:secretpw@host/db")
    assert isinstance(err.value, (StudyError, MissingDependencyError))
    assert "secretpw" not in str(err.value)


def test_invalid_url():
    with pytest.raises(StudyError, match="invalid study store URL"):
        StudyStore("not a url")


def test_safe_url():
    assert safe_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert safe_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    store = StudyStore("sqlite://")
    assert "pw" not in repr(store)


def test_sqlite_url_is_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = sqlite_url("sub/study.db")
    assert url == f"sqlite:///{tmp_path}/sub/study.db"
    StudyStore(url).create_study("s", "loss", "min")
    assert (tmp_path / "sub" / "study.db").is_file()  # parent folder created


def test_sqlite_is_tuned_for_concurrency(tmp_path):
    store = StudyStore(sqlite_url(tmp_path / "a" / "b" / "study.db"))
    with store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_sqlite_folder_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StudyError, match="cannot create the folder"):
        StudyStore(sqlite_url(blocker / "sub" / "study.db"))


def test_in_memory_sqlite_works():
    store = StudyStore("sqlite://")
    store.create_study("m", "loss", "min")
    store.upsert_trial("m", "a", state="COMPLETED", metrics={"loss": 1.0})
    assert store.best_trial("m").uid == "a"


def test_import_does_not_load_pandas_or_ray():
    code = (
        "import sys, hpogrid.study; "
        "bad = [m for m in ('pandas', 'ray', 'numpy') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("url", ["mysql+pymysql://", "mariadb+pymysql://"])
def test_mysql_tables_are_utf8mb4_bin_innodb(url):
    from sqlalchemy.engine import create_mock_engine
    from sqlalchemy.schema import CreateTable

    from hpogrid.study.schema import StudyRow, TrialRow

    dialect = create_mock_engine(url, lambda *a, **k: None).dialect
    for table in (StudyRow.__table__, TrialRow.__table__):
        ddl = str(CreateTable(table).compile(dialect=dialect))
        assert "ENGINE=InnoDB" in ddl and "utf8mb4_bin" in ddl
    assert "DATETIME(6)" in str(CreateTable(TrialRow.__table__).compile(dialect=dialect))


def test_mariadb_dialect_url(require_server):
    url = require_server("mariadb").replace("mysql+pymysql://", "mariadb+pymysql://", 1)
    store = StudyStore(url)
    name = "md_" + __import__("uuid").uuid4().hex[:12]
    try:
        store.create_study(name, "loss", "min")
        store.upsert_trial(name, "A", metrics={"loss": 0.1})
        store.upsert_trial(name, "a", metrics={"loss": 0.2})
        assert [t.uid for t in store.trials(name)] == ["A", "a"]
    finally:
        store.delete_study(name)
        store.close()


def test_a_database_made_before_an_index_gains_it_when_a_writer_opens_it(tmp_path):
    """Studies of 100,000 trials read the best value and the dashboard's changes through indexes
    that older hpogrid versions did not create: the next writer to open the database adds them."""
    import sqlite3

    from hpogrid.study import StudyStore, sqlite_url

    db = tmp_path / "old.db"
    StudyStore(sqlite_url(db)).create_study("s", metric="loss", mode="min")
    with sqlite3.connect(db) as conn:
        conn.execute("DROP INDEX ix_trials_study_state_value")
        conn.execute("DROP INDEX ix_trials_study_heartbeat")
    StudyStore(sqlite_url(db)).list_studies()
    with sqlite3.connect(db) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"ix_trials_study_state_value", "ix_trials_study_heartbeat"} <= names
