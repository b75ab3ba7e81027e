"""A conditional search space end to end through the CLI: search_space create, local_run on the
worker pool (optuna's and hyperopt's own ask/tell) and under Ray Tune (hyperopt, bohb), report.
The objective fails any trial that receives a parameter whose condition does not hold (or lacks
one whose condition holds)."""
import json

import pytest

SPACE = {
    "optimizer": {"method": "categorical", "dimension": {"categories": ["sgd", "adam"]}},
    "momentum": {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"optimizer": ["sgd"]}},
    "nesterov": {"method": "categorical", "dimension": {"categories": [True, False]}, "when": {"optimizer": ["sgd"]}},
    "dampening": {"method": "quniform", "dimension": {"low": 0, "high": 1, "q": 0.25}, "when": {"nesterov": [True]}},
    "lr": {"method": "loguniform", "dimension": {"low": 1e-4, "high": 1e-1}},
}

MODEL = """
import math

def objective(config):
    sgd = config["optimizer"] == "sgd"
    assert ("momentum" in config) == sgd, config
    assert ("nesterov" in config) == sgd, config
    assert ("dampening" in config) == (sgd and config["nesterov"] is True), config
    return {"loss": (math.log10(config["lr"]) + 2) ** 2 + config.get("momentum", 0.3) + config.get("dampening", 0)}
"""


@pytest.fixture
def project(run_cli, tmp_path):
    (tmp_path / "train.py").write_text(MODEL)
    assert run_cli("model_config", "create", "m", "--script", "train.py", "--model", "objective").exit_code == 0
    r = run_cli("search_space", "create", "s", json.dumps(SPACE))
    assert r.exit_code == 0, r.output
    assert run_cli("hpo_config", "create", "h", "--metric", "loss", "--mode", "min", "--scheduler", "fifo",
                   "--trials", "24", "--algorithm", "optuna").exit_code == 0
    r = run_cli("project", "create", "cond", "-p", tmp_path / "train.py", "--model_config", "m",
                "--search_space", "s", "--hpo_config", "h")
    assert r.exit_code == 0, r.output
    return "cond"


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["optuna", "hyperopt"])
def test_local_run_never_shows_the_model_an_inactive_parameter_and_report_copes(run_cli, project, tmp_path,
                                                                                 algorithm):
    from hpogrid import paths
    from hpogrid.study import StudyStore, sqlite_url

    r = run_cli("local_run", project, "--seed", "5", "--n_jobs", "2", "--algorithm", algorithm)
    assert r.exit_code == 0, r.output
    assert f"This run ({algorithm}, fifo): 24 completed, 0 failed, 0 interrupted" in r.output, r.output
    with StudyStore(sqlite_url(paths.study_db(project))) as store:
        got = store.trials(project)
    assert len(got) == 24 and all(t.uid.startswith("pool-") for t in got)  # the worker pool, no Ray
    for t in got:
        sgd = t.params["optimizer"] == "sgd"
        want = {"optimizer", "lr"} | ({"momentum", "nesterov"} if sgd else set()) \
            | ({"dampening"} if sgd and t.params["nesterov"] is True else set())
        assert set(t.params) == want, t.params
    assert {t.params["optimizer"] for t in got} == {"sgd", "adam"}
    r = run_cli("report", project, "--to_json", "--outdir", tmp_path)
    assert r.exit_code == 0, r.output
    assert "momentum" in r.output and "dampening" in r.output
    data = json.loads((tmp_path / "hpo_result.json").read_text())
    assert len(data) == 24
    by_uid = {t.uid: t.params for t in got}
    for row in data:  # an inactive parameter's column is empty, never a made-up value
        shown = {k[len("param."):]: v for k, v in row.items() if k.startswith("param.") and v is not None}
        assert shown == by_uid[row["uid"]]


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["hyperopt", "bohb"])
def test_local_run_under_ray_tune_records_only_active_parameters(run_cli, project, algorithm):
    """HyperOpt (its nested choices, hpogrid's core as Tune's searcher) and BOHB (a ConfigSpace
    with the conditions, with its own HyperBand scheduler) under Ray Tune."""
    from hpogrid import paths
    from hpogrid.study import StudyStore, sqlite_url

    if algorithm == "bohb":
        assert run_cli("hpo_config", "create", "hb", "--metric", "loss", "--mode", "min", "--scheduler",
                       "bohbhyperband", "--stop", '{"training_iteration": 3}', "--trials", "6",
                       "--algorithm", "bohb").exit_code == 0
        r = run_cli("project", "update", project, "--hpo_config", "hb")
        assert r.exit_code == 0, r.output
    r = run_cli("local_run", project, "--ray", "--trials", "6", "--seed", "3", "--algorithm", algorithm)
    assert r.exit_code == 0, r.output
    assert "6 completed, 0 failed, 0 interrupted" in r.output, r.output
    with StudyStore(sqlite_url(paths.study_db(project))) as store:
        got = store.trials(project)
    assert len(got) == 6
    for t in got:  # the objective asserted what it received; the study recorded the same
        assert ("momentum" in t.params) == (t.params["optimizer"] == "sgd")
        assert ("dampening" in t.params) == (t.params.get("nesterov") is True)
