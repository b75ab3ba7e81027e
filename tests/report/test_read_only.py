"""Readers never create or migrate a database: ``report``, the dashboard snapshot and
``hpogrid.study.load`` open the study read-only (SQLite ``mode=ro``).

Tests run as root, whom ``chmod`` does not stop; so besides the read-only folder, each test
proves the database file's bytes and mtime did not change.
"""
import os
import stat
from datetime import datetime, timezone

import pytest

from tests.report.helpers import TRIALS, make_project, write_trials


def _fingerprint(path):
    info = path.stat()
    return path.read_bytes(), info.st_mtime_ns, info.st_size


def test_a_zero_length_study_db_stays_empty_and_is_one_line(tmp_path, report_cli):
    from hpogrid import paths
    from hpogrid.dashboard import Source, build
    from hpogrid.errors import NothingYetError
    from hpogrid.study import load

    name = make_project(tmp_path)
    db = paths.study_db(name)
    db.touch()  # a run that died before it wrote the schema, or a stray file
    result = report_cli(name, "--no-sync")
    assert db.stat().st_size == 0  # no schema written into it
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "no study yet" in result.output
    assert len(result.output.strip().splitlines()) == 1
    snapshot = build(Source(name))
    assert db.stat().st_size == 0
    assert "no study yet" in snapshot["waiting"]
    with pytest.raises(NothingYetError, match="no study yet"):
        load(name)
    assert db.stat().st_size == 0 and not db.with_name("study.db-wal").exists()


def test_a_study_in_a_read_only_folder_is_reported_unchanged(tmp_path, report_cli, monkeypatch):
    from hpogrid import paths
    from hpogrid.dashboard import Source, build
    from hpogrid.study import load, sqlite_url

    name = make_project(tmp_path)
    db = paths.study_db(name)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    write_trials(sqlite_url(db), name, now, [t for t in TRIALS if t[1] != "RUNNING"])  # nothing to settle
    folder = db.parent
    before = _fingerprint(db)
    modes = {p: p.stat().st_mode for p in (folder, db)}
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    db.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    try:
        result = report_cli(name, "--no-sync")
        assert result.exit_code == 0, result.output
        assert "g2" in result.output or "0.1" in result.output
        snapshot = build(Source(name))
        assert snapshot["table"]["total"] == len(TRIALS) - 1
        with load(name) as view:
            assert view.best_trial.uid == "g2"
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
    assert _fingerprint(db) == before


def test_a_folder_nobody_may_write_opens_the_file_immutable(tmp_path, monkeypatch):
    """Where no -shm can be made (a read-only file system) and no writer runs (no -wal), the
    reader opens the file immutable: simulated, since root may write anywhere."""
    import hpogrid.study.engine as engine
    from hpogrid.study import StudyStore, load, sqlite_url

    db = tmp_path / "s.db"
    with StudyStore(sqlite_url(db)) as store:
        store.create_study("s", "loss", "min")
        store.upsert_trial("s", "a", state="COMPLETED", metrics={"loss": 1.0})
    before = _fingerprint(db)
    monkeypatch.setattr(engine.os, "access", lambda path, mode: False)
    assert "immutable=1" in str(engine._file_uri(engine.parse_url(sqlite_url(db)), db, "ro"))
    with load(db) as view:
        assert [t.uid for t in view.trials] == ["a"]
    assert _fingerprint(db) == before
    assert not os.path.exists(f"{db}-wal")


def test_a_reader_cannot_write_and_a_missing_file_is_not_created(tmp_path):
    from hpogrid.errors import NotFoundError, StudyError
    from hpogrid.study import StudyStore, load, sqlite_url

    db = tmp_path / "s.db"
    with StudyStore(sqlite_url(db)) as store:
        store.create_study("s", "loss", "min")
    with StudyStore(sqlite_url(db), access="read") as reader:
        with pytest.raises(StudyError, match="readonly"):
            reader.upsert_trial("s", "a", state="RUNNING")
    with pytest.raises(NotFoundError, match="no SQLite study store"):
        load(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()


RO_PROBE = """
import subprocess, sys
folder = sys.argv[1]
subprocess.run(["mount", "--bind", folder, folder], check=True)
subprocess.run(["mount", "-o", "remount,bind,ro", folder], check=True)
from hpogrid.dashboard import Source, build
from hpogrid.study import load
from hpogrid.cli import cli
with load(sys.argv[2]) as view:
    print("LOAD", view.best_trial.uid)
print("DASHBOARD", build(Source(sys.argv[2]))["table"]["total"])
cli.main(["report", sys.argv[2], "--no-sync"], prog_name="hpogrid")
"""


def test_a_study_on_a_read_only_file_system_can_be_reported(tmp_path):
    """A real read-only mount, in a mount namespace of the test's own (root may write anywhere
    else): no -shm or -wal can be made beside the database there."""
    import shutil
    import subprocess
    import sys

    from hpogrid import paths
    from hpogrid.study import sqlite_url

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private read-only mount")
    name = make_project(tmp_path)
    db = paths.study_db(name)
    write_trials(sqlite_url(db), name, datetime.now(timezone.utc).replace(microsecond=0), TRIALS)
    before = _fingerprint(db)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-c", RO_PROBE,
                            str(db.parent), name], capture_output=True, text=True, env=env, timeout=300)
    if probe.returncode != 0 and "mount" in probe.stderr and "LOAD" not in probe.stdout:
        pytest.skip(f"no private read-only mount here: {probe.stderr.strip()[-300:]}")
    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert "LOAD g2" in probe.stdout and f"DASHBOARD {len(TRIALS)}" in probe.stdout
    assert "user.me.hpo.beta" in probe.stdout or "g2" in probe.stdout
    assert _fingerprint(db) == before
