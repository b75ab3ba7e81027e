"""``hpogrid.study.load``: project name, URL or path -> trials, best trial, DataFrame."""
import math

import pytest

from hpogrid.errors import NotFoundError, StudyError
from hpogrid.paths import study_db
from hpogrid.study import StudyStore, StudyView, load, sqlite_url
from hpogrid.study.view import BASE_COLUMNS


def fill(store, name):
    store.upsert_trial(name, "a", state="COMPLETED", params={"lr": 0.1, "opt": {"name": "adam", "beta": 0.9}},
                       metrics={"loss": 0.5, "acc": 0.8}, backend="local")
    store.upsert_trial(name, "b", state="RUNNING", params={"lr": 0.01, "layers": 3},
                       metrics={"loss": 0.7}, backend="slurm", job_id=17)
    store.append_intermediate(name, "b", {"loss": 0.6, "epoch": 2})
    store.upsert_trial(name, "c", state="FAILED", params={"lr": 1.0}, error="diverged")


def test_load_project(tmp_path, monkeypatch):
    monkeypatch.setenv("HPOGRID_HOME", str(tmp_path / "home"))
    store = StudyStore(sqlite_url(study_db("proj")))
    store.create_study("proj", "loss", "min", attrs={"project": "proj"})
    fill(store, "proj")
    view = load("proj")
    assert isinstance(view, StudyView)
    assert view.info.attrs == {"project": "proj"}
    assert [t.uid for t in view.trials] == ["a", "b", "c"]
    assert view.best_trial.uid == "a"
    assert view.counts()["FAILED"] == 1

    df = view.to_dataframe()
    assert list(df.columns) == [
        *BASE_COLUMNS, "param.lr", "param.opt.name", "param.opt.beta", "param.layers",
        "metric.loss", "metric.acc", "metric.epoch",
    ]
    assert list(df["uid"]) == ["a", "b", "c"] and list(df["number"]) == [0, 1, 2]
    assert list(df["param.lr"]) == [0.1, 0.01, 1.0]
    assert df.loc[0, "param.opt.name"] == "adam"
    assert df.loc[1, "metric.loss"] == 0.6 and df.loc[1, "iterations"] == 1
    assert math.isnan(df.loc[2, "value"]) and df.loc[2, "error"] == "diverged"
    assert str(df["created_at"].dtype) == "datetime64[ns, UTC]" or "UTC" in str(df["created_at"].dtype)
    assert df["duration_s"].dtype == "float64"
    assert list(view.to_dataframe(states="COMPLETED")["uid"]) == ["a"]


def test_load_empty_study_dataframe(tmp_path):
    url = sqlite_url(tmp_path / "s.db")
    StudyStore(url).create_study("empty", "loss", "min")
    df = load(url).to_dataframe()
    assert list(df.columns) == list(BASE_COLUMNS) and len(df) == 0


def test_load_by_url_on_every_storage(store, url, study):
    fill(store, study)
    view = load(url, study=study)
    assert view.best_trial.uid == "a"
    df = view.to_dataframe()
    assert len(df) == 3 and "param.opt.beta" in df.columns and "metric.acc" in df.columns


def test_load_path_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HPOGRID_HOME", str(tmp_path / "home"))
    with pytest.raises(NotFoundError, match="has no study yet"):
        load("missing_project")
    db = tmp_path / "two.db"
    store = StudyStore(sqlite_url(db))
    store.create_study("one", "loss", "min")
    store.create_study("two", "acc", "max")
    with pytest.raises(StudyError, match="holds 2 studies"):
        load(db)
    assert load(db, "two").info.mode == "max"
    with pytest.raises(NotFoundError):
        load(db, "three")
