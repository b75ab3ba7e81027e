"""Which study a command means, resolved once: a run's target is created on first use, a
reader's must exist (no database file means no study yet) and is opened read-only."""
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from hpogrid.errors import NotFoundError, NothingYetError, StudyError
from hpogrid.settings import Settings
from hpogrid.study import StudyStore, StudyTarget, sqlite_url
from hpogrid.study.values import utcnow


def test_a_run_target_is_the_projects_file_unless_a_url_is_given(tmp_path):
    project = SimpleNamespace(name="p", path=tmp_path / "p")
    target = StudyTarget.resolve(project)
    assert target == StudyTarget("p", sqlite_url(tmp_path / "p" / "study.db"), "p")
    settings = Settings.from_env({"HPOGRID_STUDY_URL": "sqlite:///elsewhere.db"})
    assert StudyTarget.resolve(project, "other", None, settings).url == "sqlite:///elsewhere.db"
    assert StudyTarget.resolve(project, "other", "sqlite:///given.db", settings).name == "other"


def test_a_reader_needs_an_existing_file(hpogrid_home, tmp_path):
    from hpogrid import paths

    with pytest.raises(NothingYetError, match="has no study yet"):
        StudyTarget.existing("p")
    assert not paths.study_db("p").exists()
    with pytest.raises(NotFoundError, match="--study-url: no SQLite study store"):
        StudyTarget.existing("p", study_url=sqlite_url(tmp_path / "typo.db"))
    assert not (tmp_path / "typo.db").exists()
    paths.study_db("p").parent.mkdir(parents=True)
    paths.study_db("p").touch()
    target = StudyTarget.existing("p")
    with pytest.raises(NothingYetError, match="no study yet"):
        target.open_read_only()
    assert paths.study_db("p").stat().st_size == 0


def test_a_missing_study_names_those_present_and_settling_marks_only_dead_runs(tmp_path):
    url = sqlite_url(tmp_path / "s.db")
    with StudyStore(url) as store:
        store.create_study("a", "loss", "min")
        old = utcnow() - timedelta(hours=1)
        store.upsert_trial("a", "dead", state="RUNNING", backend="local", started_at=old, heartbeat_at=old)
        store.upsert_trial("a", "live", state="RUNNING", backend="local", heartbeat_at=utcnow())
    with pytest.raises(NothingYetError, match=r"'b' not found .*studies there: a"):
        StudyTarget("b", url).open_read_only()
    target = StudyTarget("a", url)
    store, info = target.open_read_only()
    with store:
        assert info.name == "a"
        with pytest.raises(StudyError):
            store.mark_stale("a", 60)  # a reader cannot write
        assert target.settle(stale_after_s=60) == 1
        assert {t.uid: t.state for t in store.trials("a")} == {"dead": "INTERRUPTED", "live": "RUNNING"}
    assert StudyTarget("gone", sqlite_url(Path(tmp_path / "none.db"))).settle(60) == 0
    assert not (tmp_path / "none.db").exists()
