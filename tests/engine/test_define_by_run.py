"""Define-by-run models through the engine (fake backend): the study records exactly the
parameters each trial used, the searcher pre-suggests what it has seen, ``config`` is passed
when asked for, the same seed gives the same trials, other algorithms are one line."""
import json

import pytest

from hpogrid import paths
from hpogrid.backends import RunOptions, get_backend
from hpogrid.configs import NamedStore
from hpogrid.errors import ValidationError
from hpogrid.project import create_project, load_project
from hpogrid.study import StudyStore, sqlite_url

CONDITIONAL = """
def objective(trial):
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    act = trial.suggest_categorical("act", ["relu", "tanh"])
    loss = (lr - 0.01) ** 2
    if act == "relu":  # a parameter that exists only for relu
        loss += trial.suggest_int("units", 8, 64, step=8) / 1000
    return loss
"""
WITH_CONFIG = """
def objective(trial, config):
    x = trial.suggest_float("x", 0, config["scale"])
    return {"loss": x, "scale": config["scale"]}
"""


def make(tmp_path, script, name="d", space=None, param=None, **hpo):
    folder = tmp_path / f"scripts-{name}"
    folder.mkdir()
    (folder / "train.py").write_text(script)
    NamedStore("model_config").create(name, {"script": "train.py", "model": "objective", "param": param or {}})
    NamedStore("hpo_config").create(name, {"metric": "loss", "mode": "min", "scheduler": "fifo", **hpo})
    names = {"model_config": name, "hpo_config": name}
    if space:
        NamedStore("search_space").create(name, space)
        names["search_space"] = name
    create_project(name, str(folder), names)
    return name


def run(name, **options):
    return get_backend("fake").run(load_project(name), RunOptions(progress=False, n_jobs=1, **options))


def trials(name, study=None):
    with StudyStore(sqlite_url(paths.study_db(name))) as store:
        return sorted(store.trials(study or name), key=lambda t: t.number)


@pytest.mark.parametrize("algorithm", ["optuna", "random"])
def test_the_study_records_exactly_the_parameters_each_trial_used(tmp_path, algorithm):
    name = make(tmp_path, CONDITIONAL, algorithm=algorithm, trials=12)
    summary = run(name, seed=1)
    got = trials(name)
    assert summary.counts["COMPLETED"] == 12 and summary.algorithm == algorithm
    for t in got:
        assert set(t.params) == ({"lr", "act", "units"} if t.params["act"] == "relu" else {"lr", "act"})
        expected = (t.params["lr"] - 0.01) ** 2 + t.params.get("units", 0) / 1000
        assert t.value == pytest.approx(expected)  # the objective ran with exactly these values
        assert set(t.annotations["distributions"]) == set(t.params)  # how the model asked for them
    assert {t.params["act"] for t in got} == {"relu", "tanh"}
    # the pre-suggestions: after the first results, each trial was sent every distribution seen
    spec = json.loads((paths.project_dir(name) / "trials" / name / got[-1].uid / "trial.json").read_text())
    assert set(spec["define_by_run"]["distributions"]) == {"lr", "act", "units"}
    assert [t.annotations["searcher_told"] for t in got] == list(range(12))


def test_same_seed_same_trials(tmp_path):
    name = make(tmp_path, CONDITIONAL, algorithm="optuna", trials=6)
    run(name, seed=4, study="a")
    run(name, seed=4, study="b")
    run(name, seed=5, study="c")
    a, b, c = ([t.params for t in trials(name, s)] for s in "abc")
    assert a == b and a != c


def test_objective_with_config_gets_model_param_and_search_space_is_optional(tmp_path):
    name = make(tmp_path, WITH_CONFIG, param={"scale": 3.0}, trials=3, algorithm="auto")
    assert load_project(name).search_space is None
    summary = run(name, seed=2)
    got = trials(name)
    assert "algorithm 'auto' chose 'optuna'" in summary.notes
    assert all(t.metrics["scale"] == 3.0 and 0 <= t.params["x"] <= 3.0 and set(t.params) == {"x"} for t in got)


def test_a_project_search_space_is_not_used_and_says_so(tmp_path):
    name = make(tmp_path, WITH_CONFIG, param={"scale": 1.0}, trials=2,
                space={"y": {"method": "uniform", "dimension": {"low": 0, "high": 1}}})
    summary = run(name, seed=2)
    assert any("the project's search_space is not used" in n for n in summary.notes)
    assert all(set(t.params) == {"x"} for t in trials(name))


def test_resume_reruns_an_interrupted_trial_with_its_values(tmp_path):
    name = make(tmp_path, CONDITIONAL, algorithm="optuna", trials=3)
    run(name, seed=1, trials=2)
    with StudyStore(sqlite_url(paths.study_db(name))) as store:
        store.upsert_trial(name, "lost", state="RUNNING", params={"lr": 0.001, "act": "relu", "units": 16})
    summary = run(name, resume=True, trials=3)
    lost = {t.uid: t for t in trials(name)}["lost"]
    assert lost.state == "COMPLETED" and lost.params == {"lr": 0.001, "act": "relu", "units": 16}
    assert lost.value == pytest.approx((0.001 - 0.01) ** 2 + 0.016)
    assert any("2 trials kept, 1 to re-run, 0 new" in n for n in summary.notes)


@pytest.mark.parametrize("algorithm", ["hyperopt", "skopt", "bohb"])
def test_other_algorithms_are_a_one_line_error_before_any_trial(tmp_path, algorithm):
    name = make(tmp_path, CONDITIONAL, algorithm=algorithm, trials=2,
                **({"scheduler": "bohbhyperband"} if algorithm == "bohb" else {}))
    with pytest.raises(ValidationError) as err:
        run(name)
    assert str(err.value) == ("hpo_config.algorithm: a define-by-run model (def objective(trial)) runs with optuna "
                              f"or random (or auto); got '{algorithm}'")
    assert not paths.study_db(name).exists()


def test_a_project_without_search_space_needs_a_define_by_run_model(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "train.py").write_text("def objective(config):\n    return 1.0\n")
    NamedStore("model_config").create("m", {"script": "train.py", "model": "objective"})
    NamedStore("hpo_config").create("h", {"metric": "loss"})
    with pytest.raises(ValidationError) as err:
        create_project("p", str(folder), {"model_config": "m", "hpo_config": "h"})
    assert str(err.value) == ("project.search_space: is required: objective() in train.py does not take a trial "
                              "(only a define-by-run model, def objective(trial), goes without one)")
    assert not paths.project_dir("p").exists()


def test_warm_start_and_resume_tell_a_define_by_run_search_with_the_recorded_distributions(tmp_path):
    source = make(tmp_path, CONDITIONAL, name="src", algorithm="random", trials=12)
    run(source, seed=3)
    name = make(tmp_path, CONDITIONAL, algorithm="optuna", trials=2)
    run(name, seed=5, study="cold")
    summary = run(name, seed=5, study="warm", warm_start=source)
    assert "warm start: searcher told 12 completed trials of project 'src'" in summary.notes
    cold, warm = trials(name, "cold"), trials(name, "warm")
    assert warm[0].params != cold[0].params and warm[0].annotations["searcher_told"] == 12
    # the very first trial was sent values for every distribution the source's trials used
    spec = json.loads((paths.project_dir(name) / "trials" / "warm" / warm[0].uid / "trial.json").read_text())
    assert set(spec["define_by_run"]["distributions"]) == {"lr", "act", "units"}
    summary = run(name, seed=5, study="warm", resume=True, trials=3)
    assert any("searcher told 2 earlier trials" in n for n in summary.notes), summary.notes


REPORTS = """
def objective(trial):
    x = trial.suggest_float("x", 0, 1)
    for step in range(3):
        trial.report(x + step)
    return x + 3
"""


def test_trial_report_records_intermediate_values(tmp_path):
    name = make(tmp_path, REPORTS, trials=1, stop={"training_iteration": 10})
    run(name, seed=1)
    (t,) = trials(name)
    assert [round(i["loss"] - t.params["x"], 9) for i in t.intermediate] == [0, 1, 2, 3]


def test_an_enqueued_point_is_told_only_with_what_the_model_used(tmp_path, run_cli):
    name = make(tmp_path, CONDITIONAL, algorithm="optuna", trials=2)
    point = {"lr": 0.001, "act": "tanh", "units": 16}  # units: the model asks for it only with relu
    assert run_cli("enqueue", name, json.dumps(point)).exit_code == 0
    plan_notes = run(name, seed=1).notes
    first = trials(name)[0]
    assert first.params == {"lr": 0.001, "act": "tanh"} and any("1 enqueued point" in n for n in plan_notes)
    assert trials(name)[1].annotations["searcher_told"] == 1
