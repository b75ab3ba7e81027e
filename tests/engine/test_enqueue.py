"""``hpogrid enqueue``: known points run first, count towards the trials, are checked against the
space when given, and teach the searcher; a run takes them once."""
import json

import pytest

from hpogrid import paths
from hpogrid.backends import RunOptions, get_backend
from hpogrid.project import load_project
from tests.backends.helpers import ECHO, make_project
from tests.conftest import tree_snapshot

SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
         "n": {"method": "uniformint", "dimension": {"low": 1, "high": 4}},
         "act": {"method": "categorical", "dimension": {"categories": ["relu", "tanh"]}}}


def _trials(name):
    from hpogrid.study import StudyStore, sqlite_url

    with StudyStore(sqlite_url(paths.study_db(name))) as store:
        return sorted(store.trials(name), key=lambda t: t.number)


def test_enqueued_points_run_first_in_order_and_the_searcher_learns_them(tmp_path, run_cli):
    name = make_project(tmp_path, ECHO, SPACE, algorithm="optuna", trials=5, scheduler="fifo")
    points = [{"x": 0.25, "n": 2, "act": "tanh"}, {"x": 0.75, "n": 4, "act": "relu"}]
    r = run_cli("enqueue", name, json.dumps(points))
    assert r.exit_code == 0 and "Enqueued 2 point(s)" in r.output, r.output
    assert json.loads(run_cli("enqueue", name, "--list").output) == points
    summary = get_backend("fake").run(load_project(name), RunOptions(seed=1, n_jobs=1, progress=False))
    got = _trials(name)
    assert summary.counts["COMPLETED"] == 5 and len(got) == 5  # they count towards --trials
    assert [t.params for t in got[:2]] == points
    assert all(json.loads(t.metrics["echo"]) == {k: t.params[k] for k in sorted(t.params)} for t in got[:2])
    assert got[0].annotations["enqueued"] is True and "enqueued" not in got[2].annotations
    assert got[2].annotations["searcher_told"] == 2  # the first proposal knew both results
    assert json.loads(run_cli("enqueue", name, "--list").output) == []  # taken by that run
    get_backend("fake").run(load_project(name), RunOptions(seed=1, trials=2, n_jobs=1, progress=False))
    assert [t.params for t in _trials(name)].count(points[0]) == 1  # not run again


def test_points_from_a_csv_file(tmp_path, run_cli):
    name = make_project(tmp_path, ECHO, SPACE, trials=1)
    f = tmp_path / "points.csv"
    f.write_text("x,n,act\n0.5,3,relu\n0.125,1,tanh\n")
    assert run_cli("enqueue", name, "--file", f).exit_code == 0
    assert json.loads(run_cli("enqueue", name, "--list").output) == [
        {"x": 0.5, "n": 3, "act": "relu"}, {"x": 0.125, "n": 1, "act": "tanh"}]
    assert "Dropped 2" in run_cli("enqueue", name, "--clear").output


@pytest.mark.parametrize("points, message", [
    ({"x": 0.5, "n": 2, "act": "relu", "lr": 1}, r"points\[0\]\.lr: not a parameter of the search space"),
    ([{"x": 0.5, "n": 2, "act": "relu"}, {"x": 0.5, "n": 2}], r"points\[1\]\.act: missing"),
    ({"x": 1.5, "n": 2, "act": "relu"}, r"points\[0\]\.x: 1\.5 is not a value of uniform"),
    ({"x": 0.5, "n": 2, "act": "gelu"}, r"points\[0\]\.act: 'gelu' is not a value of categorical"),
    ([], r"points: expected a JSON object"),
])
def test_a_bad_point_is_one_line_and_nothing_is_stored(tmp_path, run_cli, hpogrid_home, points, message):
    import re

    name = make_project(tmp_path, ECHO, SPACE, trials=1)
    before = tree_snapshot(hpogrid_home)
    r = run_cli("enqueue", name, json.dumps(points))
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1, r.output
    assert re.search(message, r.output), r.output
    assert tree_snapshot(hpogrid_home) == before


def test_local_run_runs_an_enqueued_point_first(tmp_path, run_cli):
    name = make_project(tmp_path, ECHO, SPACE, algorithm="random", trials=3, scheduler="fifo")
    point = {"x": 0.3125, "n": 3, "act": "tanh"}
    assert run_cli("enqueue", name, json.dumps(point)).exit_code == 0
    r = run_cli("local_run", name, "--n_jobs", "1", "--seed", "2")
    assert r.exit_code == 0, r.output
    got = _trials(name)
    assert len(got) == 3 and got[0].params == point and got[0].state == "COMPLETED"


def test_points_from_a_yaml_file_equal_the_same_points_in_json(tmp_path, run_cli):
    name = make_project(tmp_path, ECHO, SPACE, trials=1)
    f = tmp_path / "points.yaml"
    f.write_text("- {x: 0.5, n: 3, act: relu}\n- x: 0.125\n  n: 1\n  act: tanh\n")
    r = run_cli("enqueue", name, "--file", f)
    assert r.exit_code == 0 and "Enqueued 2 point(s)" in r.output, r.output
    assert json.loads(run_cli("enqueue", name, "--list").output) == [
        {"x": 0.5, "n": 3, "act": "relu"}, {"x": 0.125, "n": 1, "act": "tanh"}]
    bad = tmp_path / "bad.yml"
    bad.write_text("x: [1\n")
    r = run_cli("enqueue", name, "--file", bad)
    assert r.exit_code == 1 and r.output.startswith("Error: points:") and len(r.output.splitlines()) == 1, r.output


COND = {"opt": {"method": "categorical", "dimension": {"categories": ["sgd", "adam"]}},
        "momentum": {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"opt": ["sgd"]}},
        "nesterov": {"method": "categorical", "dimension": {"categories": [True, False]},
                     "when": {"opt": ["sgd"]}}}


def test_a_conditional_space_takes_points_without_their_inactive_parameters(tmp_path, run_cli):
    name = make_project(tmp_path, ECHO, COND, algorithm="optuna", trials=4, scheduler="fifo")
    f = tmp_path / "points.yaml"
    # adam: momentum and nesterov inactive (omitted, or given and dropped); sgd: both needed
    f.write_text("- {opt: adam}\n- {opt: adam, momentum: 0.3}\n- {opt: sgd, momentum: 0.25, nesterov: true}\n")
    assert run_cli("enqueue", name, "--file", f).exit_code == 0
    points = [{"opt": "adam"}, {"opt": "adam"}, {"opt": "sgd", "momentum": 0.25, "nesterov": True}]
    assert json.loads(run_cli("enqueue", name, "--list").output) == points
    summary = get_backend("fake").run(load_project(name), RunOptions(seed=1, n_jobs=1, progress=False))
    got = _trials(name)
    assert summary.counts["COMPLETED"] == 4
    assert [t.params for t in got[:3]] == points
    for t in got:  # what the model received is what the study recorded: no inactive parameter
        assert json.loads(t.metrics["echo"]) == t.params
        assert ("momentum" in t.params) == ("nesterov" in t.params) == (t.params["opt"] == "sgd")
    assert got[3].annotations["searcher_told"] == 3


def test_a_point_missing_an_active_conditional_parameter_is_one_line(tmp_path, run_cli):
    name = make_project(tmp_path, ECHO, COND, trials=1)
    r = run_cli("enqueue", name, json.dumps({"opt": "sgd", "momentum": 0.5}))
    assert r.exit_code == 1
    assert r.output == "Error: points[0].nesterov: missing: its condition holds for this point (opt='sgd')\n"
    f = tmp_path / "points.csv"
    f.write_text("opt,momentum,nesterov\nadam,,\nsgd,0.5,false\n")
    assert run_cli("enqueue", name, "--file", f).exit_code == 0
    assert json.loads(run_cli("enqueue", name, "--list").output) == [
        {"opt": "adam"}, {"opt": "sgd", "momentum": 0.5, "nesterov": False}]
