"""An exported study opens in optuna-dashboard (its own WSGI app, called in-process).

optuna-dashboard is not a dependency of hpogrid, only of its tests (setup.cfg's test extra);
the test skips, saying so, where it is not installed (``pip install optuna-dashboard``).
"""
import io
import json
from wsgiref.util import setup_testing_defaults

import pytest

from hpogrid.study import StudyStore, sqlite_url
from hpogrid.study.optuna_io import export_optuna
from hpogrid.study.transfer import read_study
from tests.study.test_transfer import fill


def _get(app, path):
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    status = []
    body = b"".join(app(environ, lambda s, h, *a: status.append(s)))
    return status[0], body


def test_exported_study_opens_in_optuna_dashboard(tmp_path):
    optuna = pytest.importorskip("optuna")
    dashboard = pytest.importorskip("optuna_dashboard", reason="optuna-dashboard is not installed")
    store = StudyStore(sqlite_url(tmp_path / "study.db"))
    fill(store, "mnist")
    dump = read_study(store, "mnist")
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    export_optuna(dump, url)
    app = dashboard.wsgi(optuna.storages.RDBStorage(url))
    status, body = _get(app, "/api/studies")
    assert status.startswith("200"), body[:300]
    (study,) = json.loads(body)["study_summaries"]
    assert study["study_name"] == "mnist" and study["directions"] == ["minimize"]
    status, body = _get(app, f"/api/studies/{study['study_id']}")
    assert status.startswith("200"), body[:300]
    detail = json.loads(body)
    shown = {t["number"]: t for t in detail["trials"]}
    assert len(shown) == len(dump.trials)
    best = store.best_trial("mnist")
    assert [t["number"] for t in detail["best_trials"]] == [best.number]
    assert shown[best.number]["values"] == [best.value]
    assert [v["value"] for v in shown[0]["intermediate_values"]] == [1.0, 0.5, 1 / 3]
    status, page = _get(app, "/dashboard")
    assert status.startswith("200") and b"<html" in page.lower()
    store.close()
