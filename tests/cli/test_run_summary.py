"""The table printed after a run (``print_summary``): the best trials of the study, infeasible
ones left out, the Pareto front of a multi-objective study with every objective."""
from types import SimpleNamespace

import click
from click.testing import CliRunner

from hpogrid.cli._run_options import print_summary
from hpogrid.objectives import Objectives
from hpogrid.study import StudyStore, sqlite_url

ROWS = [("a", {"loss": 0.2, "acc": 0.7, "latency": 10}), ("b", {"loss": 0.3, "acc": 0.9, "latency": 15}),
        ("c", {"loss": 0.4, "acc": 0.6, "latency": 5}), ("cheat", {"loss": 0.1, "acc": 0.95, "latency": 50})]


def summarise(tmp_path, objectives, hpo, top=5):
    url = sqlite_url(tmp_path / "s.db")
    store = StudyStore(url)
    store.create_study("s", objectives.metric, objectives.mode, attrs=objectives.to_attrs())
    for k, (uid, metrics) in enumerate(ROWS):
        store.upsert_trial("s", uid, state="COMPLETED", params={"x": k}, metrics=metrics)
    store.close()
    summary = SimpleNamespace(counts={"COMPLETED": 4}, study_counts={"COMPLETED": 4}, algorithm="random",
                              scheduler="fifo", seconds=1.0, study="s", store_url=url)

    @click.command()
    def show():
        print_summary(summary, hpo, top)
    result = CliRunner().invoke(show)
    assert result.exit_code == 0, result.output
    return [line.split() for line in result.output.splitlines()]


def test_one_objective_as_before(tmp_path):
    lines = summarise(tmp_path, Objectives.parse("loss", "min"), {"metric": "loss", "mode": "min"})
    assert lines[0][-3:] == ["best", "so", "far:"]
    assert lines[1] == ["trial", "loss", "x"] and [ln[0] for ln in lines[3:]] == ["3", "0", "1", "2"]


def test_infeasible_trials_are_never_best(tmp_path):
    hpo = {"metric": "loss", "mode": "min", "constraints": {"latency": ["<=", 20]}}
    lines = summarise(tmp_path, Objectives.parse("loss", "min", hpo["constraints"]), hpo)
    assert lines[1] == ["Infeasible", "trials", "(breaking", "latency", "<=", "20):", "1,", "never", "best"]
    assert [ln[0] for ln in lines[4:]] == ["0", "1", "2"]


def test_several_objectives_show_the_pareto_front(tmp_path):
    hpo = {"metric": ["loss", "acc"], "mode": ["min", "max"], "constraints": {"latency": ["<=", 20]}}
    lines = summarise(tmp_path, Objectives.parse(hpo["metric"], hpo["mode"], hpo["constraints"]), hpo, top=1)
    assert lines[0][-2:] == ["Pareto", "front:"]
    assert lines[2] == ["trial", "loss", "acc", "x"] and lines[4] == ["0", "0.2", "0.7", "0"]
    assert lines[5] == "... 1 more Pareto-optimal trials ('hpogrid report' lists them all)".split()
