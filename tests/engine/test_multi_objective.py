"""Several objectives and outcome constraints through the run engine.

One real run per backend (the fake backend's threads, Ray Tune, the single-node Slurm) shows
that every backend searches and records every objective; the engine's own rules (a missing
objective, a one-metric algorithm, a changed definition, a black-box program's result lines,
the progress line) are tested on the fake backend only.
"""
import io
import json
import sys

import pytest

from hpogrid import paths
from hpogrid.errors import ValidationError
from hpogrid.objectives import Objectives
from hpogrid.study import StudyStore, sqlite_url
from tests.engine.conftest import backend_params
from tests.engine.test_backend_contract import make_project, run, trials

SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
         "y": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
#: ZDT1 in two dimensions, and a "latency" for a constraint
ZDT1 = """
import math

def objective(config):
    x, y = config["x"], config["y"]
    g = 1 + 9 * y
    return {"f1": x, "f2": g * (1 - math.sqrt(x / g)), "ms": 10 * y}
"""
TWO = {"metric": ["f1", "f2"], "mode": ["min", "min"]}


def expected(params):
    x, y = params["x"], params["y"]
    g = 1 + 9 * y
    return {"f1": x, "f2": g * (1 - (x / g) ** 0.5), "ms": 10 * y}


@pytest.mark.parametrize("backend", backend_params("fake", "ray", "slurm"), indirect=True)
def test_several_objectives_are_searched_and_recorded_on_every_backend(tmp_path, backend):
    name = make_project(tmp_path, ZDT1, SPACE, algorithm="optuna", trials=6, constraints={"ms": ["<=", 5]}, **TWO)
    summary = run(backend, name, seed=3, n_jobs=2)
    got = trials(name)
    assert summary.counts["COMPLETED"] == 6 and [t.state for t in got] == ["COMPLETED"] * 6, [t.error for t in got]
    for t in got:
        want = expected(t.params)
        assert {k: t.metrics[k] for k in want} == pytest.approx(want)
        assert t.value == pytest.approx(want["f1"])  # the study's value column: the first objective
    info = StudyStore(sqlite_url(paths.study_db(name))).get_study(name)
    assert Objectives.from_study(info.metric, info.mode, info.attrs) == Objectives.parse(
        ["f1", "f2"], ["min", "min"], {"ms": ["<=", 5]})


def test_a_trial_missing_an_objective_fails_naming_it(tmp_path):
    script = "def objective(config):\n    return {'f1': config['x']}\n"
    name = make_project(tmp_path, script, SPACE, algorithm="random", trials=2, **TWO)
    run("fake", name, seed=1)
    got = trials(name)
    assert [t.state for t in got] == ["FAILED"] * 2
    assert got[0].error == ("the trial did not report metric 'f2' (it reported: f1); set hpo_config --metric to "
                            "one of those, or report it")


def test_a_one_metric_algorithm_is_refused_before_anything_runs(tmp_path):
    # (an hpo_config naming one is refused when written: tests/cli; here the run's --algorithm)
    name = make_project(tmp_path, ZDT1, SPACE, algorithm="random", trials=2, **TWO)
    with pytest.raises(ValidationError, match=r"^hpo_config.algorithm: 'hyperopt' optimises one metric, and this "
                                              r"run has 2 objectives \(f1 \(min\), f2 \(min\)\); choose one of: "
                                              r"random, tune, ax, optuna, auto$"):
        run("fake", name, algorithm="hyperopt")
    assert not paths.study_db(name).exists()  # nothing written


def test_auto_chooses_a_multi_objective_sampler(tmp_path):
    name = make_project(tmp_path, ZDT1, SPACE, trials=12, **TWO)
    summary = run("fake", name, seed=2)
    assert summary.counts["COMPLETED"] == 12
    assert any(n.startswith("algorithm 'auto' chose optuna (sampler tpe): several objectives") for n in summary.notes)


def test_a_study_of_other_objectives_needs_another_study(tmp_path):
    name = make_project(tmp_path, ZDT1, SPACE, algorithm="random", trials=1, **TWO)
    other = Objectives.parse(["f1", "f2"], ["min", "max"])
    StudyStore(sqlite_url(paths.study_db(name))).create_study(name, "f1", "min", attrs=other.to_attrs())
    with pytest.raises(ValidationError, match=r"^--study: study '.*' optimises f1 \(min\), f2 \(max\) but the "
                                              r"project now asks for f1 \(min\), f2 \(min\); record this run"):
        run("fake", name)
    run("fake", name, study="other")  # another study of the same project is fine
    assert len(StudyStore(sqlite_url(paths.study_db(name))).trials("other")) == 1


PROGRAM = """
import sys
x = float(sys.argv[1])
print(f"RESULT: {x}")
if x < 0.5:
    print(f"RESULT cost: {1 - x}")
"""


def test_a_program_prints_one_result_line_per_objective(tmp_path, run_cli):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "prog.py").write_text(PROGRAM)
    for cmd in [("model_config", "create", "m", "--command", f"{sys.executable} prog.py {{x}}"),
                ("search_space", "create", "s", json.dumps({"x": SPACE["x"]})),
                ("hpo_config", "create", "h", "--metric", "loss,cost", "--mode", "min,min", "--algorithm", "random"),
                ("project", "create", "pp", "--scripts_path", tmp_path / "src", "--model_config", "m",
                 "--search_space", "s", "--hpo_config", "h")]:
        r = run_cli(*cmd)
        assert r.exit_code == 0, r.output
    run("fake", "pp", trials=8, seed=4)
    got = trials("pp")
    assert len(got) == 8
    for t in got:
        if t.params["x"] < 0.5:  # the plain line is the first objective's, the named one the second's
            assert t.state == "COMPLETED", t.error
            assert [t.metrics["loss"], t.metrics["cost"]] == pytest.approx([t.params["x"], 1 - t.params["x"]])
        else:
            assert t.state == "FAILED" and "no line 'RESULT cost: <number>' for metric 'cost'" in t.error
    assert {t.state for t in got} == {"COMPLETED", "FAILED"}  # seed 4 draws both


def test_the_progress_line_shows_the_front_and_the_infeasible():
    from hpogrid.engine.progress import BestSoFar, Counts, ProgressLine

    best = BestSoFar(Objectives.parse(["a", "b"], ["min", "max"], {"c": ["<=", 1]}))
    for a, b, c in [(1, 1, 0), (2, 2, 0), (3, 1, 0), (0, 5, 2), (0.5, 0.5, 0)]:
        best.add({"a": a, "b": b, "c": c})
    # (3, 1) is dominated by (1, 1); (0, 5) breaks c <= 1; (1, 1), (2, 2), (0.5, 0.5) are the front
    stream = io.StringIO()
    line = ProgressLine("a", 5, stream=stream)
    assert line.text(Counts(done=5), best) == ("[hpogrid] 5/5 trials: 5 done, 0 failed, 0 running | Pareto front "
                                               "3 trial(s) (1 infeasible)")
    single = BestSoFar(Objectives.parse("a", "min", {"c": ["<=", 1]}))
    for a, c in [(3, 0), (1, 2), (2, 0)]:
        single.add({"a": a, "c": c})
    assert single.value == 2 and single.text() == "best a=2 (1 infeasible)"


#: a triangle of the unit square: about half of the random points break the constraint
CONSTRAINED = {**SPACE, "constraints": ["x + y <= 0.8", "x * y <= 0.1"]}


@pytest.mark.parametrize("backend", backend_params("fake", "ray", "slurm"), indirect=True)
def test_no_trial_breaks_a_search_space_constraint_on_any_backend(tmp_path, backend):
    name = make_project(tmp_path, ZDT1, CONSTRAINED, algorithm="optuna", trials=8, **TWO)
    summary = run(backend, name, seed=5, n_jobs=2)
    got = trials(name)
    assert summary.counts["COMPLETED"] == 8 and len(got) == 8
    assert all(t.params["x"] + t.params["y"] <= 0.8 and t.params["x"] * t.params["y"] <= 0.1 for t in got)
    if backend == "fake":  # (the searcher works in this process: its rejections are counted in a note)
        assert any(n.startswith("search_space constraints: ") and "proposal(s) of the searcher broke one" in n
                   for n in summary.notes), summary.notes


def test_an_enqueued_point_must_keep_to_the_constraints(tmp_path, run_cli):
    name = make_project(tmp_path, ZDT1, CONSTRAINED, algorithm="random", trials=2, **TWO)
    r = run_cli("enqueue", name, json.dumps({"x": 0.7, "y": 0.5}))
    assert r.exit_code == 1 and r.output == "Error: points[0]: breaks search_space constraint 'x + y <= 0.8'\n"
    assert run_cli("enqueue", name, json.dumps({"x": 0.1, "y": 0.5})).exit_code == 0
