"""A define-by-run objective end to end through the CLI on the local worker pool and on Ray Tune:
a project without search_space, local_run, report (Slurm: tests/backends/slurm; the grid:
tests/backends/panda)."""
import json

import pytest

DBR = """
def objective(trial, config):
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    layers = trial.suggest_int("layers", 1, 4)
    act = trial.suggest_categorical("act", ["relu", "tanh"])
    drop = trial.suggest_float("drop", 0.0, 0.5, step=0.1) if act == "relu" else 0.0
    return {"loss": (lr - 0.01) ** 2 + layers * config["cost"] + drop}
"""


@pytest.fixture
def project(run_cli, tmp_path):
    (tmp_path / "train.py").write_text(DBR)
    (tmp_path / "model.yaml").write_text("cost: 0.001\n")
    assert run_cli("model_config", "create", "m", "--script", "train.py", "--model", "objective",
                   "--param-file", tmp_path / "model.yaml").exit_code == 0
    assert run_cli("hpo_config", "create", "h", "--metric", "loss", "--mode", "min", "--scheduler", "fifo",
                   "--trials", "8", "--algorithm", "optuna").exit_code == 0
    r = run_cli("project", "create", "dbr", "-p", tmp_path / "train.py", "--model_config", "m", "--hpo_config", "h")
    assert r.exit_code == 0, r.output
    return "dbr"


@pytest.mark.slow
def test_local_run_and_report(run_cli, project, tmp_path):
    r = run_cli("local_run", project, "--seed", "1", "--n_jobs", "2")
    assert r.exit_code == 0, r.output
    assert "This run (optuna, fifo): 8 completed, 0 failed, 0 interrupted" in r.output
    r = run_cli("report", project, "--to_json", "--outdir", tmp_path)
    assert r.exit_code == 0, r.output
    assert "lr" in r.output and "layers" in r.output and "act" in r.output, r.output
    data = json.loads((tmp_path / "hpo_result.json").read_text())
    trials = data["trials"] if isinstance(data, dict) else data
    assert len(trials) == 8

@pytest.mark.slow
def test_local_run_under_ray_tune_records_what_each_trial_used(run_cli, project):
    from hpogrid import paths
    from hpogrid.study import StudyStore, sqlite_url

    r = run_cli("local_run", project, "--ray", "--trials", "4", "--seed", "3")
    assert r.exit_code == 0, r.output
    assert "This run (optuna, fifo): 4 completed, 0 failed, 0 interrupted" in r.output
    with StudyStore(sqlite_url(paths.study_db(project))) as store:
        got = store.trials(project)
    assert len(got) == 4 and {t.backend for t in got} == {"local"}
    for t in got:
        assert set(t.params) == ({"lr", "layers", "act", "drop"} if t.params["act"] == "relu"
                                 else {"lr", "layers", "act"})
        assert t.value == pytest.approx((t.params["lr"] - 0.01) ** 2 + t.params["layers"] * 0.001
                                        + t.params.get("drop", 0.0))
        assert set(t.metrics) == {"loss", "training_iteration", "time_total_s"}  # nothing of hpogrid's own
        assert set(t.annotations["distributions"]) == set(t.params)


def test_other_algorithms_refuse_in_one_line(run_cli, project):
    r = run_cli("local_run", project, "--algorithm", "hyperopt")
    assert r.exit_code == 1 and r.output.strip() == (
        "Error: hpo_config.algorithm: a define-by-run model (def objective(trial)) runs with optuna or random "
        "(or auto); got 'hyperopt'")


def test_project_create_help_says_search_space_is_optional_for_define_by_run(run_cli):
    out = " ".join(run_cli("project", "create", "--help").output.split())
    assert "needs no search_space" in out and "not needed for a define-by-run model" in out


def test_pbt_has_nothing_to_mutate_and_says_so_in_one_line(run_cli, project, hpogrid_home):
    assert run_cli("hpo_config", "update", "h", "--scheduler", "pbt", "--algorithm", "random", "--stop",
                   '{"training_iteration": 3}').exit_code == 0
    assert run_cli("project", "update", project).exit_code == 0
    r = run_cli("local_run", project)
    assert r.exit_code == 1 and r.output.strip() == (
        "Error: hpo_config.scheduler: pbt mutates the parameters of a search space; a define-by-run model "
        "(def objective(trial)) has none: choose asynchyperband, median or fifo")


FAILS_AFTER_A_REPORT = """
def objective(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    trial.report(x, 1)
    raise RuntimeError("diverged")
"""


@pytest.mark.slow
def test_a_failed_trial_under_ray_tune_records_what_it_used_and_no_internal_keys(run_cli, tmp_path):
    from hpogrid import paths
    from hpogrid.study import StudyStore, sqlite_url

    (tmp_path / "fail.py").write_text(FAILS_AFTER_A_REPORT)
    assert run_cli("model_config", "create", "f", "--script", "fail.py", "--model", "objective").exit_code == 0
    assert run_cli("hpo_config", "create", "f", "--metric", "loss", "--mode", "min", "--scheduler", "fifo",
                   "--trials", "2", "--algorithm", "optuna", "--stop", '{"training_iteration": 5}').exit_code == 0
    assert run_cli("project", "create", "f", "-p", tmp_path / "fail.py", "--model_config", "f",
                   "--hpo_config", "f").exit_code == 0
    r = run_cli("local_run", "f", "--ray", "--seed", "2")
    assert "2 failed" in r.output, r.output
    with StudyStore(sqlite_url(paths.study_db("f"))) as store:
        got = store.trials("f")
    assert len(got) == 2 and {t.state for t in got} == {"FAILED"}
    for t in got:
        assert set(t.params) == {"x"} and 0 <= t.params["x"] <= 1
        assert not [k for k in t.metrics if k.startswith("__hpogrid")], t.metrics
        assert set(t.annotations["distributions"]) == {"x"}
