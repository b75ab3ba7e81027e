"""Building a report: sort order, filters, derived columns, errors, the fast store reader."""
import math
import os
import uuid
from datetime import timedelta

import pytest

from hpogrid.errors import NotFoundError, ValidationError
from hpogrid.report import Filters, build_report, parse_extra, parse_range

LOSS_ORDER = [5, 1, 3, 7, 0, 4, 6, 2]  # completed by loss, then running (has a value), then failed


def numbers(report):
    return [t.number for t in report.trials]


def test_sorted_best_first_for_min_and_max(known):
    assert numbers(build_report(known.name)) == LOSS_ORDER
    assert numbers(build_report(known.name, mode="max")) == [4, 0, 7, 3, 1, 5, 6, 2]
    acc = build_report(known.name, metric="accuracy", mode="max")
    assert numbers(acc) == [5, 1, 3, 7, 0, 4, 6, 2]
    assert acc.values[:6] == [0.95, 0.9, 0.85, 0.82, 0.8, 0.6]
    assert acc.ranked == 6 and acc.best.uid == "g2"


def test_axes_follow_the_search_space(known):
    from tests.report.helpers import XSS

    axes = {a.name: a for a in build_report(known.name).axes}
    assert [a for a in axes] == ["lr", "layers", "act"]
    assert axes["lr"].kind == "log" and axes["layers"].kind == "linear"
    assert axes["act"].kind == "categorical" and axes["act"].categories == ("relu", "tanh", XSS)


@pytest.mark.parametrize("filters, expected", [
    (Filters(days=1.5), {0, 6, 7}),
    (Filters(days=6), {0, 1, 2, 5, 6, 7}),
    (Filters(taskname="user.me.hpo.a*"), {3, 4}),
    (Filters(taskname="*beta"), {5}),
    (Filters(taskname="*"), {3, 4, 5}),
    (Filters(task_range=(10000002, 10000002)), {5}),
    (Filters(task_range=(10000001, 10000002)), {3, 4, 5}),
    (Filters(limit=1), {6}),  # mixed study: most recent unit by time
    (Filters(limit=3), {0, 6, 7}),
    (Filters(taskname="*", limit=1), {5}),  # grid: trials of the most recent task
    (Filters(task_range=(10000001, 10000002), limit=2), {3, 4, 5}),
    (Filters(days=12, taskname="user.*", limit=1), {5}),
])
def test_each_filter(known, filters, expected):
    report = build_report(known.name, filters=filters)
    assert set(numbers(report)) == expected
    assert report.total == 8


def test_filters_use_the_given_clock(known):
    later = known.now + timedelta(days=3)
    assert numbers(build_report(known.name, filters=Filters(days=3.5, now=later))) == [6]
    with pytest.raises(NotFoundError, match=r"no trial of study 'rp' matches --days 1 \(the study has 8 trials\)"):
        build_report(known.name, filters=Filters(days=1, now=later))


def test_extra_columns(known):
    report = build_report(known.name)
    by_uid = {t.uid: t for t in report.trials}
    assert report.task_time == {"10000001": 3650.0, "10000002": 40.0}
    assert by_uid["l1"].duration_s == 120.0 and by_uid["l3"].duration_s is None
    from hpogrid.report import table

    headers, rows = table(report, extra=("site", "task_time_s", "time_s", "taskid"))
    assert headers == ["trial", "state", "loss", "lr", "layers", "act", "site", "task_time_s", "time_s", "taskid"]
    assert rows[0] == [5, "COMPLETED", 0.1, 0.003, 2, "tanh", "BNL", 40.0, 40.0, "10000002"]
    assert rows[2] == [3, "COMPLETED", 0.3, 0.0002, 4, "tanh", "CERN", 3650.0, 30.0, "10000001"]
    assert rows[1] == [1, "COMPLETED", 0.2, 0.001, 3, "tanh", None, None, 120.0, None]
    assert rows[6][:3] == [6, "RUNNING", 0.05] and rows[6][-2] is None
    assert rows[7][:3] == [2, "FAILED", None]


def test_parse_options():
    assert parse_range("10-20") == (10, 20) and parse_range("7") == (7, 7)
    for bad in ("20-10", "a-b", "", "1-2-3", "-5"):
        with pytest.raises(ValidationError, match=r"^--range: expected A-B"):
            parse_range(bad)
    assert parse_extra("site, time_s,site") == ("site", "time_s")
    assert parse_extra(None) == ()
    with pytest.raises(ValidationError) as err:
        parse_extra("site,foo")
    assert str(err.value) == "--extra: unknown column 'foo'; allowed: site, task_time_s, time_s, taskid, jobid"


def test_errors_are_precise(known, tmp_path):
    from tests.report.helpers import make_project

    with pytest.raises(ValidationError) as err:
        build_report(known.name, metric="acc")
    assert str(err.value) == "--metric: 'acc' not recorded; recorded metrics: loss, accuracy"
    with pytest.raises(NotFoundError, match=r"^project 'nope' does not exist \(existing: rp\)$"):
        build_report("nope")
    with pytest.raises(NotFoundError, match=r"^--study: 'other' not found in sqlite:///.*study\.db "
                                            r"\(studies there: rp\)$"):
        build_report(known.name, study="other")
    fresh = make_project(tmp_path, name="fresh")
    with pytest.raises(NotFoundError, match=r"^project 'fresh' has no study yet \(.*study\.db does not "
                                            r"exist\): run 'hpogrid local_run fresh' first$"):
        build_report(fresh)
    from hpogrid import paths
    from hpogrid.study import StudyStore, sqlite_url

    StudyStore(sqlite_url(paths.study_db(fresh))).create_study(fresh, "loss", "min")
    with pytest.raises(NotFoundError, match=r"^study 'fresh' in sqlite:///.* has no trials yet$"):
        build_report(fresh)


def test_other_metric_without_mode_notes_the_mode(known):
    assert build_report(known.name, metric="accuracy").notes == [
        "accuracy is sorted by the project's mode (min); use --mode to change it"]
    assert build_report(known.name, metric="accuracy", mode="min").notes == []


def test_study_url_and_env(known, tmp_path, monkeypatch):
    from tests.report.helpers import write_trials

    from hpogrid.study import sqlite_url

    url = sqlite_url(tmp_path / "shared.db")
    write_trials(url, "shared", known.now)
    assert build_report(known.name, study="shared", study_url=url).study == "shared"
    monkeypatch.setenv("HPOGRID_STUDY_URL", url)
    assert numbers(build_report(known.name, study="shared")) == LOSS_ORDER
    typo = tmp_path / "typo.db"
    with pytest.raises(NotFoundError, match=f"^--study-url: no SQLite study store at {typo}$"):
        build_report(known.name, study_url=sqlite_url(typo))
    assert not typo.exists()


# -- the fast reader returns what the store returns -----------------------------------

SERVERS = {"postgresql": os.environ.get("HPOGRID_TEST_POSTGRES_URL",
                                        "postgresql+psycopg2://postgres@127.0.0.1:5432/test"),
           "mariadb": os.environ.get("HPOGRID_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")}


def _url(kind, tmp_path):
    if kind == "sqlite":
        from hpogrid.study import sqlite_url

        return sqlite_url(tmp_path / "fast.db")
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(SERVERS[kind], connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available here"
        pytest.skip(f"{kind} server not reachable: {type(exc).__name__}")
    return SERVERS[kind]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_fast_reader_equals_store(kind, tmp_path, known):
    from dataclasses import replace

    from tests.report.helpers import write_trials

    from hpogrid.report._source import read_trials
    from hpogrid.study import StudyStore

    url = _url(kind, tmp_path)
    study = f"fast-{uuid.uuid4().hex[:8]}"
    write_trials(url, study, known.now)
    store = StudyStore(url)
    try:
        store.upsert_trial(study, "odd", state="COMPLETED", params={"x": [1, {"a": None}], "s": "é<"},
                           metrics={"loss": math.nan, "inf": math.inf, "nested": {"m": 1.5}, "txt": "NaN-ish"},
                           annotations={"taskname": "t", "n": 3})
        store.append_intermediate(study, "l0", {"loss": 0.5})
        expected = [replace(t, intermediate=[], heartbeat_at=None) for t in store.trials(study)]
        got = read_trials(store, url, store.get_study(study))
        odd = got[-1]
        assert math.isnan(odd.metrics["loss"]) and odd.metrics["inf"] == math.inf
        nan_free = lambda ts: [replace(t, metrics={k: v for k, v in t.metrics.items() if k != "loss"})
                               if t.uid == "odd" else t for t in ts]
        assert nan_free(got) == nan_free(expected)
    finally:
        store.delete_study(study)
        store.close()
