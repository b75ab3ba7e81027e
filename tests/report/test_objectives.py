"""Reports of studies with several objectives and outcome constraints: the Pareto front in the
terminal, CSV and JSON marks, the Pareto-front and hypervolume figures. Studies are written
straight through the store (no engine)."""
import csv
import io
import json
import random
import re

import pytest

from hpogrid import pareto, paths
from hpogrid.objectives import Objectives
from hpogrid.report import build_figures, build_report, summary, table, to_csv, to_json
from hpogrid.report import _html, _pareto
from hpogrid.study import sqlite_url
from tests.report.helpers import MO_CONSTRAINTS, MO_ROWS, make_mo_project, mo_project, write_mo_study

LATENCY = MO_CONSTRAINTS
OBJ2 = Objectives.parse(["loss", "acc"], ["min", "max"], LATENCY)
ROWS = MO_ROWS


@pytest.fixture
def mo(tmp_path):
    return mo_project(tmp_path)


def figures(page):
    m = re.search(r'<script type="application/json" id="hpogrid-figures">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def brute_front(points, modes):
    def dominates(p, q):
        ge = all((a <= b) if m == "min" else (a >= b) for a, b, m in zip(p, q, modes))
        return ge and p != q
    return [not any(dominates(q, p) for q in points) for p in points]


def test_the_report_lists_the_front_first(mo):
    r = build_report(mo)
    assert r.pareto_view and r.objectives == OBJ2 and (r.metric, r.mode) == ("loss", "min")
    assert [t.uid for t in r.trials] == ["a", "b", "e", "d", "c", "r", "cheat", "m", "f"]
    assert r.ranked == 5 and r.listed == 4 and r.best is None and r.infeasible == 1
    assert [r.trials[i].uid for i in r.front] == ["a", "b", "e", "d"]
    assert "cheat" not in {r.trials[i].uid for i in range(r.ranked)}
    assert summary(r) == ("Study 'mo': 9 trials: 7 completed, 1 failed, 1 running; 1 infeasible (latency <= 20); "
                          "Pareto front of loss (min), acc (max): 4 trials")
    headers, rows = table(r)
    assert headers == ["trial", "state", "loss", "acc", "x"]
    assert [row[0] for row in rows] == [0, 1, 7, 4]
    assert any("break a constraint (latency <= 20)" in n for n in r.notes)


def test_metric_sorts_every_trial_by_one_objective_with_marks(mo):
    r = build_report(mo, metric="acc")
    assert not r.pareto_view and r.mode == "max" and not any("project's mode" in n for n in r.notes)
    headers, rows = table(r)
    assert headers == ["trial", "state", "acc", "loss", "pareto", "feasible", "x"]
    by_trial = {row[0]: row for row in rows}
    assert [row[0] for row in rows[:5]] == [4, 1, 7, 0, 2]  # ranked: feasible completed by acc
    assert by_trial[3][4:6] == ["no", "no"] and by_trial[2][4:6] == ["no", "yes"] and by_trial[6][5] is None
    assert r.best.uid == "d" and r.listed == len(r.trials)
    assert "best acc (max) 0.95 in trial 4" in summary(r)


def test_terminal_output(mo, report_cli):
    out = report_cli(mo, "--top", "2")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split() == ["trial", "state", "loss", "acc", "x"]
    assert [ln.split()[0] for ln in lines[2:4]] == ["0", "1"]
    assert lines[4] == "... 2 more Pareto-optimal trials (--top N to show more, --to_csv for all)"
    assert lines[5] == "The table lists the Pareto front (4 of 9 trials); --metric M sorts every trial by one objective."
    assert "Pareto front of loss (min), acc (max): 4 trials" in lines[6]
    by_metric = report_cli(mo, "--metric", "latency", "--mode", "min", "--top", "3").output.splitlines()
    assert by_metric[0].split() == ["trial", "state", "latency", "loss", "acc", "pareto", "feasible", "x"]
    assert by_metric[2].split()[:2] == ["7", "COMPLETED"]


def test_csv_and_json_mark_pareto_membership_and_feasibility(mo):
    r = build_report(mo)
    rows = list(csv.DictReader(io.StringIO(to_csv(r))))
    assert list(rows[0])[:6] == ["rank", "number", "uid", "state", "feasible", "pareto"]
    by_uid = {row["uid"]: row for row in rows}
    assert {u for u, row in by_uid.items() if row["pareto"] == "true"} == {"a", "b", "d", "e"}
    assert by_uid["cheat"]["feasible"] == "false" and by_uid["cheat"]["rank"] == ""
    assert by_uid["r"]["feasible"] == "" and by_uid["c"]["pareto"] == "false" and by_uid["c"]["rank"] == "5"
    records = json.loads(to_json(r))
    assert [(x["uid"], x["feasible"], x["pareto"]) for x in records[:5]] == [
        ("a", True, True), ("b", True, True), ("e", True, True), ("d", True, True), ("c", True, False)]
    assert {x["uid"]: x["feasible"] for x in records}["f"] is None


def test_csv_front_matches_brute_force_on_a_random_study(tmp_path):
    modes = ["min", "max", "min"]
    objectives = Objectives.parse(["loss", "acc", "size"], modes, {"latency": ["<=", 0.8]})
    name = make_mo_project(tmp_path, "rnd", ("loss", "acc", "size"), modes, {"latency": ["<=", 0.8]})
    rng = random.Random(7)
    rows = [(f"t{i}", "FAILED" if i % 9 == 4 else "COMPLETED",
             {"loss": rng.randint(0, 5), "acc": rng.randint(0, 5) / 5, "size": rng.random(),
              "latency": rng.random()}) for i in range(80)]
    write_mo_study(sqlite_url(paths.study_db(name)), name, objectives, rows)
    records = json.loads(to_json(build_report(name)))
    eligible = [(x["uid"], (x["metric.loss"], x["metric.acc"], x["metric.size"])) for x in records
                if x["state"] == "COMPLETED" and x["metric.latency"] <= 0.8]
    front = {uid for (uid, _), on in zip(eligible, brute_front([p for _, p in eligible], modes)) if on}
    assert {x["uid"] for x in records if x["pareto"]} == front
    assert 1 < len(front) < len(eligible)


def test_infeasible_trials_are_never_best_with_one_objective(tmp_path):
    objectives = Objectives.parse("loss", "min", LATENCY)
    name = make_mo_project(tmp_path, "one", ("loss",), ("min",), LATENCY)
    write_mo_study(sqlite_url(paths.study_db(name)), name, objectives,
                   [uid_state_metrics for uid_state_metrics in ROWS if uid_state_metrics[1] == "COMPLETED"])
    r = build_report(name)
    assert not r.pareto_view and r.best.uid == "a" and r.ranked == 6
    assert [t.uid for t in r.trials] == ["a", "m", "b", "e", "c", "d", "cheat"]  # infeasible after the ranked
    headers, rows = table(r)
    assert headers == ["trial", "state", "loss", "feasible", "x"]
    assert {row[0]: row[3] for row in rows}[3] == "no"
    assert summary(r).startswith("Study 'one': 7 trials: 7 completed, 0 failed, 0 running; 1 infeasible "
                                 "(latency <= 20); best loss (min) 0.2 in trial 0")
    records = json.loads(to_json(r))
    assert [x["uid"] for x in records if x["pareto"]] == ["a"]
    assert next(x for x in records if x["uid"] == "cheat")["rank"] is None


def test_html_has_the_pareto_front_and_hypervolume(mo):
    import plotly.graph_objects as go

    page, notes = _html.render(build_report(mo))
    for section in ("Pareto front", "Hypervolume by trial"):
        assert f"<h2>{section}</h2>" in page
    assert "<td>Objectives</td><td>loss (min), acc (max)</td>" in page
    assert "<td>Constraints</td><td>latency &lt;= 20</td>" in page
    assert "<td>Pareto front</td><td>4 trials: 0, 1, 4, 7</td>" in page
    figs = figures(page)
    assert list(figs)[:2] == ["pareto", "hypervolume"]
    for fig in figs.values():
        go.Figure(fig)
    traces = {t["name"]: t for t in figs["pareto"]["data"]}
    assert traces["Pareto-optimal"]["customdata"] == [0, 1, 7, 4]
    assert traces["infeasible"]["customdata"] == [3] and traces["dominated"]["customdata"] == [2]
    # the front as a step line: from each point to the next through their worse corner
    assert traces["Pareto front"]["x"] == [0.2, 0.3, 0.3, 0.5, 0.5]
    assert traces["Pareto front"]["y"] == [0.7, 0.7, 0.9, 0.9, 0.95]
    hv = figs["hypervolume"]
    ref = pareto.reference_point([(0.2, 0.7), (0.3, 0.9), (0.4, 0.6), (0.5, 0.95), (0.3, 0.9)], ["min", "max"])
    assert hv["layout"]["meta"]["reference_point"] == pytest.approx(dict(zip(("loss", "acc"), ref)))
    assert "reference point: loss = 0.53, acc = 0.565" in hv["layout"]["title"]["text"]
    points = {0: (0.2, 0.7), 1: (0.3, 0.9), 2: (0.4, 0.6), 4: (0.5, 0.95), 7: (0.3, 0.9)}
    assert hv["data"][0]["x"] == [0, 1, 2, 4, 7]
    want = [pareto.hypervolume([p for n, p in points.items() if n <= k], ["min", "max"], ref) for k in points]
    assert hv["data"][0]["y"] == pytest.approx(want, rel=1e-5)
    rows = re.findall(r"<tr><td class=\"num\" data-v=\"\d+\">\d+</td><td class=\"num\" data-v=\"(\d+)\">"
                      r".*?<td>(yes|no)</td><td>(yes|no)</td>", page)
    assert rows == [("0", "yes", "yes"), ("1", "yes", "yes"), ("7", "yes", "yes"), ("4", "yes", "yes"),
                    ("2", "no", "yes")]


@pytest.mark.parametrize("n_obj", [3, 4])
def test_three_objectives_scatter_in_3d_and_more_by_front_rank(tmp_path, n_obj):
    metrics, modes = ("loss", "acc", "size", "cost")[:n_obj], ("min", "max", "min", "min")[:n_obj]
    objectives = Objectives.parse(list(metrics), list(modes))
    name = make_mo_project(tmp_path, f"o{n_obj}", metrics, modes)
    rng = random.Random(n_obj)
    rows = [(f"t{i}", "COMPLETED", {m: rng.randint(0, 4) for m in metrics}) for i in range(40)]
    write_mo_study(sqlite_url(paths.study_db(name)), name, objectives, rows)
    figs = build_figures(build_report(name)).as_dict()
    fig = figs["pareto"]
    points = [tuple(m[k] for k in metrics) for _, _, m in rows]
    if n_obj == 3:
        front = next(t for t in fig["data"] if t["name"] == "Pareto-optimal")
        assert front["type"] == "scatter3d"
        on = brute_front(points, modes)
        assert sorted(front["customdata"]) == [i for i, f in enumerate(on) if f]
        assert fig["layout"]["scene"]["zaxis"]["title"]["text"] == "size (min)"
    else:
        trace = fig["data"][0]
        assert trace["type"] == "parcoords" and [d["label"] for d in trace["dimensions"]] == [
            "loss (min)", "acc (max)", "size (min)", "cost (min)"]
        drawn = list(zip(*(d["values"] for d in trace["dimensions"])))
        assert sorted(drawn) == sorted(points)
        assert trace["line"]["color"] == pareto.front_ranks(drawn, modes, limit=_pareto.RANK_COLOURS)
    assert figs["hypervolume"]["data"][0]["y"][-1] == pytest.approx(
        pareto.hypervolume(points, modes, pareto.reference_point(points, modes)), rel=1e-5)


def test_hypervolume_of_a_big_study_is_computed_at_bounded_checkpoints():
    from hpogrid.report import Report
    from hpogrid.study import TrialRecord

    rng = random.Random(0)
    objectives = Objectives.parse(["loss", "latency"], ["min", "min"])
    trials = [TrialRecord(study="s", uid=f"t{i}", number=i, state="COMPLETED",
                          metrics={"loss": rng.random(), "latency": rng.random()}) for i in range(20_000)]
    report = Report(project=None, study="s", store="", metric="loss", mode="min", axes=[], metrics=["loss", "latency"],
                    trials=trials, values=[t.metrics["loss"] for t in trials], task_time={}, total=len(trials),
                    objectives=objectives)
    fig, note = _pareto.hypervolume(report)
    xs, ys = fig["data"][0]["x"], fig["data"][0]["y"]
    assert len(xs) == _pareto.CHECKPOINTS and xs[-1] == 19_999 and ys == sorted(ys)
    points = [(t.metrics["loss"], t.metrics["latency"]) for t in trials]
    ref = pareto.reference_point(points, ["min", "min"])
    assert ys[-1] == pytest.approx(pareto.hypervolume(points, ["min", "min"], ref), rel=1e-5)
    assert note == "The hypervolume is computed at 100 checkpoints over the 20,000 feasible completed trials."
    front, front_note = _pareto.pareto_front(report)
    assert sum(len(t.get("customdata", [])) for t in front["data"]) <= _pareto.MAX_POINTS
    assert "shows all" in front_note


def test_a_single_objective_report_has_no_marks(known):
    r = build_report(known.name)
    assert not r.marked and list(csv.reader(io.StringIO(to_csv(r))))[0][:5] == ["rank", "number", "uid", "state",
                                                                               "param.lr"]
    assert "pareto" not in json.loads(to_json(r))[0]
    assert "pareto" not in build_figures(r, curves=[]).as_dict()
