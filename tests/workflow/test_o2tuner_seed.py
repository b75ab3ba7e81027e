"""The config.yaml shapes of o2tuner's README run through ``hpogrid workflow run -c`` as written.

Each file below is the README's, byte for byte; only what the README leaves to the user is
filled: ``<from_somewhere>`` (a folder of data) and, where the README's section changes
``config.yaml`` by a fragment, the rest of that file from the section before it. The README's
own objective calls ``trial.suggest_float(0, 1)`` without a name, which optuna (and so o2tuner)
refuses too: as written it is one line saying so; with the names added it runs. The full
configuration's counts (10 jobs, 600 trials, 150 startup trials) are made tiny for the test.
Real pool workers.
"""
import json

import pytest

from hpogrid.study import load

# "Quick example": optimisation.py and config.yaml
OPTIMISATION = '''# optimisation.py

def objective(trial):
    x = trial.suggest_float(0, 1)
    y = trial.suggest_float(-5, 5)

    return (x - 0.5)**2 + x**4
'''
NAMED = OPTIMISATION.replace("suggest_float(0, 1)", 'suggest_float("x", 0, 1)').replace(
    "suggest_float(-5, 5)", 'suggest_float("y", -5, 5)')
QUICK = '''stages_optimisation:
    optimisation:
        file: optimisation.py
        objective: objective
'''
# "When you have a preparation stage": the optimisation only depends on it (deps beside the stage)
PREPARATION = '''stages_user:
    preparation:
    # a data preparation stage
    cmd: cp -r <from_somewhere>/* .

'''
DEPS = PREPARATION + '''stages_optimisation:
    optimisation:
        file: optimisation.py
        objective: objective
    deps:
        - preparation
'''
# "Running multiple optimisation processes in parallel": its stages_optimisation, run with the
# preparation stage its deps name
JOBS_1 = PREPARATION + '''stages_optimisation:
    optimisation:
        file: optimisation.py
        objective: objective
    jobs: 1
    deps:
        - preparation
'''
# "More or less the full optimisation configuration", every key beside the stage
FULL = PREPARATION + '''stages_optimisation:
    optimisation:
        file: optimisation.py
        objective: objective
    # number of parallel jobs to run
    jobs: 10
    # how many trials to do in total (distributed to number of workers/jobs)
    trials: 600
    # specify a sampler. tpe will anyway be used by default. This is to show how one can configure it further
    sampler:
        name: tpe
        args:
            constant_liar: True
            n_startup_trials: 150
    deps:
        - preparation
    config:
        parameter1: value1
        parameter2: value2
'''
# "Inspect, evaluate, plot": the evaluate stage (optimisations and config beside it), with the
# optimisation stage of "The objective" (config under the stage)
EVALUATE_CONFIG = '''stages_user:
    evaluate:
        python: evaluate.py
        entrypoint: evaluate
    optimisations:
        - optimisation
    config:
        parameter1: value1
        parameter2: value2
''' + '''stages_optimisation:
    optimisation:
        file: optimisation.py
        objective: objective
        config:
            parameter1: value1
            parameter2: value2
'''
EVALUATE = '''#evaluate.py

def evaluate(inspectors, config):
    # for convenience
    insp = inspectors[0]
    # print losses of all successful trials
    print(insp.get_losses())

    # extracting some annotation
    annotations = insp.get_annotation_per_trial("key")
    print(annotations)

    # plot the history of features/parameter values and the loss as a function of trials
    fig, _ = insp.plot_loss_feature_history()
    fig.savefig("loss_feature_history")
'''


def _folder(tmp_path, config, objective=NAMED):
    """The user's folder: optimisation.py, evaluate.py and config.yaml, and a data folder."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "events.json").write_text(json.dumps({"offset": 0.5}))
    (data / "hits.json").write_text("[]")
    src = tmp_path / "o2"
    src.mkdir()
    (src / "optimisation.py").write_text(objective)
    (src / "evaluate.py").write_text(EVALUATE)
    (src / "config.yaml").write_text(config.replace("<from_somewhere>", str(data)))
    return src / "config.yaml"


def _completed(n):
    trials = load("o2", study="optimisation").trials
    assert len(trials) == n and {t.state for t in trials} == {"COMPLETED"}
    for t in trials:
        assert set(t.params) == {"x", "y"} and 0 <= t.params["x"] <= 1 and -5 <= t.params["y"] <= 5
        assert t.value == pytest.approx((t.params["x"] - 0.5) ** 2 + t.params["x"] ** 4)
    return trials


def test_the_quick_example_runs_with_its_names_and_says_what_is_missing_without(tmp_path, run_cli):
    config = _folder(tmp_path, QUICK, objective=OPTIMISATION)
    r = run_cli("workflow", "run", "o2", "-c", config)
    assert r.exit_code == 1
    assert r.output.strip().splitlines()[-1] == (
        "Error: workflow stage 'optimisation': no trial completed (100 failed); last error: TypeError: "
        "trial.suggest_float(0, 1): the parameter's name comes first, as in optuna: trial.suggest_float(\"x\", 0, 1)")
    assert "Workflow of" not in r.output
    (config.parent / "optimisation.py").write_text(NAMED)  # the one change: the names optuna needs
    r = run_cli("workflow", "run", "o2", "-c", config)
    assert r.exit_code == 0, r.output
    assert "no trial of its study completed before; its 100 failed trials run again" in r.output
    assert "ran optimisation" in r.output
    _completed(100)  # o2tuner's default count (no trials key)


def test_the_preparation_shape_copies_the_data_then_optimises(tmp_path, run_cli):
    from hpogrid import paths

    r = run_cli("workflow", "run", "o2", "-c", _folder(tmp_path, DEPS))
    assert r.exit_code == 0, r.output
    assert "read cmd as keys of stage 'preparation'" in r.output and "read deps as keys of stage" in r.output
    assert "ran preparation, optimisation" in r.output
    prepared = paths.project_dir("o2") / "workflow" / "preparation"
    assert json.loads((prepared / "events.json").read_text()) == {"offset": 0.5}  # the glob, as a shell does
    assert (prepared / "hits.json").read_text() == "[]"
    _completed(100)


def test_the_jobs_1_shape_runs(tmp_path, run_cli):
    from hpogrid.workflow._runner import read_workflow

    config = _folder(tmp_path, JOBS_1)
    r = run_cli("workflow", "run", "o2", "-c", config)
    assert r.exit_code == 0, r.output
    assert "read jobs, deps as keys of stage 'optimisation'" in r.output
    assert "ran preparation, optimisation" in r.output
    _completed(100)
    assert read_workflow(config).stages_optimisation["optimisation"].parallel == 1


def test_the_full_configuration_with_every_key_beside_the_stage_runs(tmp_path, run_cli):
    from hpogrid.project import load_project
    from hpogrid.workflow._runner import read_workflow
    from hpogrid.workflow._runner import stage_configs

    small = FULL.replace("jobs: 10", "jobs: 2").replace("trials: 600", "trials: 3").replace(
        "n_startup_trials: 150", "n_startup_trials: 2")
    config = _folder(tmp_path, small)
    r = run_cli("workflow", "run", "o2", "-c", config)
    assert r.exit_code == 0, r.output
    assert "read jobs, trials, sampler, deps, config as keys of stage 'optimisation'" in r.output
    assert "ran preparation, optimisation" in r.output
    _completed(3)
    stage = read_workflow(config).stages_optimisation["optimisation"]
    assert stage.parallel == 2
    configs = stage_configs(load_project("o2"), "optimisation", stage)  # what the stage ran
    assert configs["hpo_config"]["algorithm"] == "optuna"
    assert configs["hpo_config"]["algorithm_param"] == {"sampler": "tpe", "constant_liar": True, "n_startup_trials": 2}
    assert configs["model_config"]["param"] == {"parameter1": "value1", "parameter2": "value2"}


def test_the_evaluate_shape_gets_the_inspector_and_plots(tmp_path, run_cli):
    from hpogrid import paths

    r = run_cli("workflow", "run", "o2", "-c", _folder(tmp_path, EVALUATE_CONFIG), "-s", "evaluate")
    assert r.exit_code == 0, r.output
    assert "ran optimisation, evaluate" in r.output
    _completed(100)
    plot = paths.project_dir("o2") / "workflow" / "evaluate" / "loss_feature_history.png"
    assert plot.stat().st_size > 0
