"""``local_run`` end to end on real Ray Tune: every trial lands in the study store."""
import json
import os
import subprocess
import sys

import pytest

from hpogrid.backends import RunOptions, run_local
from hpogrid.project import load_project
from hpogrid.study import StudyStore, load, sqlite_url
from hpogrid import paths
from tests.backends.helpers import ECHO, make_project
from tests.conftest import REPO
from tests.search.spaces import ALL_METHODS

pytestmark = pytest.mark.slow
UNI = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}


def _trials(project, states=None):
    return StudyStore(sqlite_url(paths.study_db(project))).trials(project, states=states)


def test_readme_example1_through_the_cli(run_cli):
    run_cli("model_config", "create", "simple_objective_model", "--script", "simple_objective.py",
            "--model", "simple_objective")
    run_cli("search_space", "create", "simple_objective_space", json.dumps(
        {"height": {"method": "uniform", "dimension": {"low": -100, "high": 100}},
         "width": {"method": "uniform", "dimension": {"low": 0, "high": 20}}}))
    run_cli("hpo_config", "create", "random_search_min_loss", "--algorithm", "random", "--metric", "loss",
            "--mode", "min", "--trials", "200")
    run_cli("project", "create", "simple_objective", "--scripts_path",
            REPO / "example" / "scripts" / "simple_objective.py", "--model_config", "simple_objective_model",
            "--search_space", "simple_objective_space", "--hpo_config", "random_search_min_loss")
    r = run_cli("local_run", "simple_objective", "--trials", "12", "--seed", "1")
    assert r.exit_code == 0, r.output
    assert "This run (random, fifo): 12 completed, 0 failed" in r.output
    assert "Study 'simple_objective' holds 12 trials" in r.output
    trials = _trials("simple_objective")
    assert len(trials) == 12 and {t.state for t in trials} == {"COMPLETED"}
    for t in trials:  # the objective saw the decoded values the store recorded
        h, w = t.params["height"], t.params["width"]
        assert -100 <= h < 100 and 0 <= w < 20
        assert t.value == pytest.approx((h - 14) ** 2 - abs(w - 3))
    best = min(trials, key=lambda t: t.value)
    assert load("simple_objective").best_trial.uid == best.uid
    df = load("simple_objective").to_dataframe()
    assert len(df) == 12 and {"param.height", "param.width", "metric.loss"} <= set(df.columns)


@pytest.mark.parametrize("algorithm", ["random", "tune", "hyperopt", "skopt", "bohb", "ax", "bayesian", "optuna",
                                       "hebo", "nevergrad"])
def test_every_algorithm_runs_every_method(tmp_path, algorithm):
    name = make_project(tmp_path, ECHO, ALL_METHODS, algorithm=algorithm, trials=6,
                        scheduler="fifo", scheduler_param={"max_concurrent": 2})
    summary = run_local(load_project(name), RunOptions(seed=5, progress=False))
    trials = _trials(name)
    assert summary.counts["COMPLETED"] == 6 and len(trials) == 6, [t.error for t in trials]
    space = __import__("hpogrid.space", fromlist=["SearchSpace"]).SearchSpace.from_dict(ALL_METHODS)
    for t in trials:
        bad = {n: v for n, v in t.params.items() if not space[n].contains(v)}
        assert not bad, f"{algorithm}: values outside their method's support: {bad}"
        assert json.loads(t.metrics["echo"]) == {k: t.params[k] for k in sorted(t.params)}
        assert isinstance(t.params["int"], int) and isinstance(t.params["qu"], int)
        assert isinstance(t.params["uni"], float) and isinstance(t.params["qn"], float)




def test_param_is_merged_and_hyperparameters_win(tmp_path):
    name = make_project(tmp_path, ECHO, UNI, param={"x": 100, "const": 7}, trials=3, scheduler="fifo")
    run_local(load_project(name), RunOptions(progress=False))
    for t in _trials(name):
        seen = json.loads(t.metrics["echo"])
        assert seen["const"] == 7 and seen["x"] == t.params["x"] != 100


def test_asha_stops_poor_trials_early_from_intermediate_reports(tmp_path):
    script = """
    from ray import tune

    def objective(config):
        for i in range(1, 10):
            tune.report({"loss": config["x"] * 10 / i})
    """
    name = make_project(tmp_path, script, UNI, trials=12, stop={"training_iteration": 9},
                        scheduler="asynchyperband", scheduler_param={"max_concurrent": 2, "grace_period": 1,
                                                                     "reduction_factor": 3, "max_t": 9})
    run_local(load_project(name), RunOptions(seed=4, progress=False))
    lengths = [len(t.intermediate) for t in _trials(name)]
    assert len(lengths) == 12 and max(lengths) == 9 and min(lengths) < 9, lengths
    assert all(t.state == "COMPLETED" for t in _trials(name))


def _example2(hpogrid_home, **hpo):
    from hpogrid.configs import NamedStore
    from hpogrid.project import create_project

    NamedStore("model_config").create("m", {"script": "simple_trainable.py", "model": "MyTrainableClass"})
    NamedStore("search_space").create("s", {
        "alpha": {"method": "uniform", "dimension": {"low": -10, "high": 10}},
        "beta": {"method": "categorical", "dimension": {"categories": [-1, 0, 1, 2, 3, 4, 5]}}})
    NamedStore("hpo_config").create("h", {"metric": "loss", "mode": "min", **hpo})
    create_project("ex2", str(REPO / "example" / "scripts" / "simple_trainable.py"),
                   {"model_config": "m", "search_space": "s", "hpo_config": "h"})
    return load_project("ex2")


def _check_example2(trials, iterations):
    for t in trials:
        a, b = t.params["alpha"], t.params["beta"]
        assert b in [-1, 0, 1, 2, 3, 4, 5] and -10 <= a <= 10
        assert t.metrics["training_iteration"] == iterations
        # the Trainable saw the decoded values: its loss formula matches the stored params
        assert t.value == pytest.approx((a - 2) ** 2 + abs(b - 1) + 1.0 / iterations)


def test_example2_trainable_class_with_bayesian_as_in_the_readme(hpogrid_home):
    proj = _example2(hpogrid_home, algorithm="bayesian", trials=5, stop={"training_iteration": 3},
                     scheduler="fifo")
    summary = run_local(proj, RunOptions(seed=1, progress=False))
    trials = _trials("ex2")
    assert summary.counts["COMPLETED"] == 5, [t.error for t in trials]
    _check_example2(trials, 3)
    assert all(len(t.intermediate) == 3 for t in trials)


def test_pbt_with_the_trainable_class(hpogrid_home):
    proj = _example2(hpogrid_home, algorithm="random", trials=4, scheduler="pbt", stop={"training_iteration": 4},
                     scheduler_param={"max_concurrent": 4, "perturbation_interval": 2})
    summary = run_local(proj, RunOptions(seed=1, progress=False))
    trials = _trials("ex2")
    assert summary.counts["COMPLETED"] == 4, [t.error for t in trials]
    assert all(t.metrics["training_iteration"] == 4 for t in trials)






@pytest.mark.parametrize("args, needle", [
    (["--algorithm", "hyperopt"], "search_space.b: categorical with grid_search cannot be run by algorithm 'hyperopt'"),
    (["--algorithm", "nope"], "Invalid value for '--algorithm'"),
])
def test_config_errors_stop_before_any_trial(tmp_path, run_cli, args, needle):
    space = {"b": {"method": "categorical", "dimension": {"categories": [1, 2], "grid_search": 1}}}
    name = make_project(tmp_path, ECHO, space, trials=2)
    r = run_cli("local_run", name, *args)
    assert r.exit_code != 0 and len(r.output.strip().splitlines()) == 1 and needle in r.output, r.output
    assert not paths.study_db(name).exists()


def test_a_trial_no_ray_node_can_hold_stops_the_run_at_once(tmp_path, run_cli):
    """A custom resource the cluster lacks would keep the trial PENDING forever: one line instead."""
    name = make_project(tmp_path, ECHO, UNI, trials=2, scheduler="fifo", resource={"cpu": 1, "custom:tpu": 1})
    r = run_cli("local_run", name)  # a custom resource: Ray Tune runs it
    assert r.exit_code == 1, r.output
    assert r.output.strip().splitlines()[-1] == (
        "Error: hpo_config.resource.custom:tpu: a trial asks for 1, but the Ray cluster has 0 in all, so no "
        "trial could ever start; lower it or use a cluster that has it")
    assert _trials(name) == []


def test_unknown_model_lists_what_the_script_defines(tmp_path, run_cli):
    name = make_project(tmp_path, ECHO, UNI, model="nope", trials=2)
    r = run_cli("local_run", name)
    assert r.exit_code == 1 and "model_config.model: 'nope' is not a function or class in train.py (found: objective)" in r.output


def test_grid_search_with_tune_enumerates_each_category(tmp_path):
    space = {"b": {"method": "categorical", "dimension": {"categories": ["a", "b", "c"], "grid_search": 1}}, **UNI}
    name = make_project(tmp_path, ECHO, space, algorithm="tune", trials=6, scheduler="fifo")
    run_local(load_project(name), RunOptions(progress=False))
    values = sorted(t.params["b"] for t in _trials(name))
    assert values == ["a", "a", "b", "b", "c", "c"]


def _start_sleepy_run(tmp_path, hpogrid_home, seconds: float):
    """A local_run of 30 trials sleeping ``seconds``, 2 at a time, in another process."""
    script = f"""
    import time

    def objective(config):
        time.sleep({seconds})
        return config["x"]
    """
    name = make_project(tmp_path, script, UNI, trials=30, scheduler="fifo", scheduler_param={"max_concurrent": 2})
    env = {**os.environ, "HPOGRID_HOME": str(hpogrid_home)}
    proc = subprocess.Popen([sys.executable, "-m", "hpogrid", "local_run", name], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return name, proc






@pytest.mark.parametrize("url", ["postgresql+psycopg2://postgres@127.0.0.1:5432/test",
                                 "mysql+pymysql://root@127.0.0.1:3306/test"], ids=["postgresql", "mariadb"])
def test_shared_store_on_a_database_server(tmp_path, url):
    try:
        StudyStore(url).list_studies()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"{url.split(':')[0]} server on 127.0.0.1 unreachable: {exc}")
    name = make_project(tmp_path, ECHO, UNI, trials=3, scheduler="fifo")
    summary = run_local(load_project(name), RunOptions(study_url=url, progress=False))
    store = StudyStore(url)
    try:
        trials = store.trials(name)
        assert [t.state for t in trials] == ["COMPLETED"] * 3 and summary.counts["COMPLETED"] == 3
        assert all(json.loads(t.metrics["echo"])["x"] == t.params["x"] for t in trials)
        assert not paths.study_db(name).exists()  # nothing went to the default SQLite file
    finally:
        store.delete_study(name)




ITERATIVE = """
from ray import tune

def objective(config):
    for i in range(1, 10):
        tune.report({"loss": config["x"] * 10 / i + 1.0 / i})
"""


def test_bohb_runs_with_its_hyperband_scheduler(tmp_path):
    # (asked for asynchyperband, bohb switches to its own HyperBand and says so; bohbhyperband is its default)
    name = make_project(tmp_path, ITERATIVE, UNI, algorithm="bohb", trials=8, stop={"training_iteration": 9},
                        scheduler="asynchyperband",
                        scheduler_param={"max_concurrent": 2, "max_t": 9, "reduction_factor": 3})
    summary = run_local(load_project(name), RunOptions(seed=3, progress=False))
    assert summary.scheduler == "bohbhyperband" and any("bohbhyperband" in n for n in summary.notes)
    trials = _trials(name)
    assert len(trials) == 8 and all(t.state == "COMPLETED" for t in trials), [t.error for t in trials]
    lengths = sorted(len(t.intermediate) for t in trials)
    assert lengths[-1] == 9 and lengths[0] < 9, lengths  # HyperBand cut some trials short
    for t in trials:  # paused-and-restarted trials keep one clean history
        assert [m["training_iteration"] for m in t.intermediate] == list(range(1, len(t.intermediate) + 1))


def test_median_stopping_rule_cuts_poor_trials(tmp_path):
    name = make_project(tmp_path, ITERATIVE, UNI, trials=10, stop={"training_iteration": 9}, scheduler="median",
                        scheduler_param={"max_concurrent": 2, "grace_period": 2, "min_samples_required": 2})
    run_local(load_project(name), RunOptions(seed=3, progress=False))
    trials = _trials(name)
    lengths = [len(t.intermediate) for t in trials]
    assert len(trials) == 10 and max(lengths) == 9 and min(lengths) < 9, lengths
    cut = [t for t in trials if len(t.intermediate) < 9]
    kept = [t for t in trials if len(t.intermediate) == 9]
    # what was cut early was worse than what ran to the end, on average
    assert sum(t.params["x"] for t in cut) / len(cut) > sum(t.params["x"] for t in kept) / len(kept)
