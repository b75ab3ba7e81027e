"""The HTML page without a browser: structure, escaping, figures, importance, downsampling."""
import html
import json
import math
import random
import re
from datetime import timedelta

import pytest

from hpogrid.report import build_report
from hpogrid.report import _html, _plots
from tests.report.helpers import IMG_XSS, XSS


def figures(page):
    m = re.search(r'<script type="application/json" id="hpogrid-figures">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


@pytest.fixture
def page(known):
    text, notes = _html.render(build_report(known.name))
    return text, notes


def test_self_contained_and_plotly_once(page):
    from plotly.offline import get_plotlyjs

    text, _ = page
    head = get_plotlyjs()[:200]
    assert text.count(head) == 1
    assert "default-src 'none'" in text  # the browser may fetch nothing at all
    assert not re.search(r"""<(script|link|img|iframe)[^>]+(src|href)=["']?(https?:)?//""", text, re.I)
    assert text.count("<script") == 3  # plotly.js, the figures JSON, the page script


def test_user_strings_are_escaped(page):
    text, _ = page
    assert XSS not in text and IMG_XSS not in text
    assert html.escape(XSS) in text and html.escape(IMG_XSS) in text
    figs = figures(text)  # the JSON escapes < and > so it cannot close its script
    assert "\\u003cscript\\u003e" in text
    act = figs["pcp"]["data"][0]["dimensions"][2]
    assert act["ticktext"] == ["relu", "tanh", XSS]  # plain text in parcoords ticks
    assert figs["scatter"]["layout"]["xaxis3"]["categoryarray"][2] == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_header_and_sections(page, known):
    text, notes = page
    assert "<h1>hpogrid report: rp</h1>" in text
    assert "model_config: rp, search_space: rp, hpo_config: rp" in text
    assert re.search(r"<td>Project created</td><td>\d{4}-\d\d-\d\dT", text)
    for section in ("Configs", "Trials (click a column to sort)", "Parallel coordinates", "loss by trial",
                    "loss against each hyperparameter", "Failed trials"):
        assert f"<h2>{section}</h2>" in text
    assert "ValueError: boom" in text
    assert notes == ["No hyperparameter importance: needs at least 12 completed trials with a value (have 6)."]
    rows = re.findall(r"<tr><td class=\"num\" data-v=\"(\d+)\">", text)
    assert rows == ["1", "2", "3", "4", "5", "6"]


def test_figures(page):
    import plotly.graph_objects as go

    figs = figures(page[0])
    for fig in figs.values():
        go.Figure(fig)  # plotly's own schema validation
    dims = figs["pcp"]["data"][0]["dimensions"]
    assert [d["label"] for d in dims] == ["lr (log)", "layers", "act", "loss"]
    assert dims[0]["values"][0] == pytest.approx(math.log10(0.003))
    assert dims[0]["tickvals"] == [-3.0, -2.0] and dims[0]["ticktext"] == ["1e-3", "1e-2"]
    assert dims[3]["values"] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.9]
    assert figs["pcp"]["data"][0]["line"]["reversescale"] is True
    assert figs["scatter"]["layout"]["xaxis"]["type"] == "log"
    assert figs["scatter"]["layout"]["xaxis2"]["type"] == "linear"
    hist = figs["history"]["data"]
    assert hist[0]["x"] == [0, 1, 3, 4, 5, 7]
    assert hist[1]["x"] == [0, 1, 5, 7] and hist[1]["y"] == [0.5, 0.2, 0.1, 0.1]


def _many(known, n, seed=0):
    from hpogrid.study import StudyStore

    rng = random.Random(seed)
    store = StudyStore(known.url)
    for i in range(n):
        lr = 10 ** rng.uniform(-4, -1)
        act = rng.choice(["relu", "tanh"])
        loss = abs(math.log10(lr) + 2.5) + rng.gauss(0, 0.02)
        store.upsert_trial(known.name, f"m{i}", state="COMPLETED", metrics={"loss": loss, "accuracy": 1 - loss},
                           params={"lr": lr, "layers": rng.randint(1, 4), "act": act}, backend="local",
                           created_at=known.now - timedelta(minutes=i), started_at=known.now - timedelta(minutes=i))
    store.close()


def test_importance_finds_the_parameter_that_matters(known):
    _many(known, 60)
    text, notes = _html.render(build_report(known.name))
    imp = figures(text)["importance"]["data"][0]
    assert imp["y"][-1] == "lr" and imp["x"][-1] > 0.8  # the top bar is drawn last
    assert not any("importance" in n.lower() for n in notes)


def test_importance_edge_cases():
    from hpogrid.report._importance import importance

    assert importance({"a": [1.0] * 5}, [1.0] * 5)[1] == "needs at least 12 completed trials with a value (have 5)"
    assert importance({"a": [1.0] * 20}, list(range(20)))[1] == "every parameter has a single value"
    assert importance({"a": list(range(20))}, [3.0] * 20)[1] == "the metric has the same value in every trial"
    imp, why = importance({"a": [float(i) for i in range(40)], "b": [float(i % 2) for i in range(40)]},
                          [float(i) for i in range(40)])
    assert why is None and imp.scores["a"] > imp.scores["b"] and math.isclose(sum(imp.scores.values()), 1)


def test_large_studies_are_downsampled(known, monkeypatch):
    _many(known, 60)
    monkeypatch.setattr(_plots, "MAX_POINTS", 20)
    monkeypatch.setattr(_plots, "BEST_POINTS", 5)
    monkeypatch.setattr(_html, "MAX_TABLE_ROWS", 10)
    report = build_report(known.name)
    text, notes = _html.render(report)
    assert notes[0] == ("Plots show 20 of 66 completed trials: the 5 best and a random sample of the rest "
                        "(the best-so-far line uses all of them).")
    assert "The table shows the best 10 of 68 trials (use --to_csv or --to_json for all of them)." in notes
    for note in notes[:2]:
        assert html.escape(note) in text
    figs = figures(text)
    assert len(figs["pcp"]["data"][0]["dimensions"][0]["values"]) == 20
    best_line = figs["history"]["data"][1]
    assert min(best_line["y"]) == report.values[0]  # from every trial, not the sample
    assert text.count('<tr><td class="num"') == 10


def test_pcp_page(known):
    text, fig, notes = _html.render_pcp(build_report(known.name))
    assert "plot-pcp" in text and fig["data"][0]["type"] == "parcoords" and notes == []
    assert "<h2>" not in text


def test_pcp_without_kaleido_writes_html_and_says_why(known, tmp_path, monkeypatch):
    import sys

    from hpogrid.report import write

    monkeypatch.setitem(sys.modules, "kaleido", None)  # import kaleido -> ImportError
    paths, notes = write(build_report(known.name), "x", ["pcp"], str(tmp_path))
    assert [p.name for p in paths] == ["x_pcp.html"]
    assert notes == ["no PNG: the optional package kaleido is not installed (pip install kaleido)"]


def test_pcp_png_with_kaleido(known, tmp_path):
    pytest.importorskip("kaleido", reason="kaleido is not installed: --to_pcp writes only HTML")
    from hpogrid.report import write

    paths, notes = write(build_report(known.name), "x", ["pcp"], str(tmp_path))
    assert [p.name for p in paths] == ["x_pcp.html", "x_pcp.png"], notes
    assert paths[1].read_bytes()[:4] == b"\x89PNG"


def test_only_failed_trials(tmp_path):
    from tests.report.helpers import make_project

    from hpogrid import paths
    from hpogrid.errors import NotFoundError
    from hpogrid.report import summary
    from hpogrid.study import StudyStore, sqlite_url

    name = make_project(tmp_path, name="bad", space={"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
                                                      "gone": {"method": "uniform", "dimension": {"low": 0, "high": 1}}})
    store = StudyStore(sqlite_url(paths.study_db(name)))
    store.create_study(name, "loss", "min")
    store.upsert_trial(name, "f0", state="FAILED", params={"x": 0.5}, error="RuntimeError: no GPU")
    store.close()
    report = build_report(name)
    assert [a.name for a in report.axes] == ["x"]  # a space parameter no trial has gets no axis
    assert summary(report) == ("Study 'bad': 1 trial: 0 completed, 1 failed, 0 running; "
                               "no completed trial with a value of loss")
    text, notes = _html.render(report)
    assert figures(text) == {} and "nothing to plot" in text and "RuntimeError: no GPU" in text
    with pytest.raises(NotFoundError, match="^--to_pcp: study 'bad' has no completed trial with a value of loss to plot$"):
        _html.render_pcp(report)


def test_a_conditional_parameter_a_trial_did_not_use_is_drawn_and_weighed_not_dropped(tmp_path):
    """Trials without a conditional parameter (its condition did not hold) stay in the parallel
    coordinates, as n/a, and in the importance forest's data."""
    from datetime import datetime, timezone

    from hpogrid import paths
    from hpogrid.study import sqlite_url
    from tests.report.helpers import make_project, write_trials

    space = {"opt": {"method": "categorical", "dimension": {"categories": ["sgd", "adam"]}},
             "momentum": {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"opt": ["sgd"]}},
             "nesterov": {"method": "categorical", "dimension": {"categories": [True, False]},
                          "when": {"opt": ["sgd"]}}}
    name = make_project(tmp_path, name="cond", space=space)
    rows = []
    for i in range(12):
        params = {"opt": "sgd", "momentum": i / 12, "nesterov": i % 2 == 0} if i % 3 else {"opt": "adam"}
        rows.append((f"c{i}", "COMPLETED", params, {"loss": float(i)}, "local", None, None, None, -i, 10, None))
    write_trials(sqlite_url(paths.study_db(name)), name, datetime.now(timezone.utc), trials=rows)
    report = build_report(name)
    trace, note = _plots.parcoords(report, list(range(report.ranked)))
    dims = {d["label"]: d for d in trace["data"][0]["dimensions"]}
    assert len(dims["opt"]["values"]) == 12  # the 4 adam trials are drawn too
    assert dims["nesterov"]["ticktext"][-1] == _plots.INACTIVE
    assert sum(v == len(dims["nesterov"]["ticktext"]) - 1 for v in dims["nesterov"]["values"]) == 4
    assert "n/a" in note
    cols, values = _plots.importance_columns(report)
    assert len(values) == 12 and all(len(c) == 12 for c in cols.values())
