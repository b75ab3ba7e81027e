"""o2tuner's config.yaml (the shapes of its README) run unchanged through ``hpogrid workflow run``.

Its stage kinds: a ``cmd`` preparation stage, an optimisation stage with its own ``file`` and
``objective``, ``jobs``, ``trials``, ``sampler: {name, args}``, ``deps`` and ``config``, and a
python evaluation stage given ``optimisations`` (inspectors). Real pool workers, tiny trials.
"""
import json

import pytest

from hpogrid.errors import ValidationError
from hpogrid.workflow._spec import parse_workflow
from hpogrid.yamltext import loads

OPTIMISATION = """
import json
from hpogrid.workflow import annotate_trial, needs_cwd, resolve_path

@needs_cwd
def objective(trial, config):
    x = trial.suggest_float("x", 0, 1)
    y = trial.suggest_float("y", -5, 5)
    offset = json.load(open(resolve_path("preparation") + "/data.json"))["offset"]
    annotate_trial(trial, "key", config["parameter1"])
    open("here.txt", "w").write("each trial its own folder")
    return (x - offset) ** 2 + y ** 2
"""
EVALUATE = """
import json

def evaluate(inspectors, config):
    insp = inspectors[0]
    fig, axes = insp.plot_loss_feature_history()
    fig.savefig("loss_feature_history.png")
    json.dump({"losses": insp.get_losses(), "keys": insp.get_annotation_per_trial("key"),
               "axes": len(axes), "config": config}, open("evaluated.json", "w"))
"""
# o2tuner's README, "More or less the full optimisation configuration" (properly indented)
CONFIG = """\
stages_user:
    preparation:
        # a data preparation stage
        cmd: cp -r {data} .
    evaluate:
        python: evaluate.py
        entrypoint: evaluate
        optimisations:
            - optimisation
        config:
            parameter1: value1

stages_optimisation:
    optimisation:
        file: optimisation.py
        objective: objective
        # number of parallel jobs to run
        jobs: 2
        # how many trials to do in total (distributed to number of workers/jobs)
        trials: 4
        sampler:
            name: tpe
            args:
                constant_liar: True
                n_startup_trials: 2
        deps:
            - preparation
        config:
            parameter1: value1
            parameter2: value2
"""


def _o2tuner_dir(tmp_path, config=CONFIG):
    data = tmp_path / "data"
    data.mkdir()
    (data / "data.json").write_text(json.dumps({"offset": 0.5}))
    src = tmp_path / "o2"
    src.mkdir()
    (src / "optimisation.py").write_text(OPTIMISATION.replace('resolve_path("preparation") + "/data.json"',
                                                              'str(resolve_path("preparation")) + "/data/data.json"'))
    (src / "evaluate.py").write_text(EVALUATE)
    (src / "config.yaml").write_text(config.format(data=data))
    return src / "config.yaml"


def test_o2tuner_config_runs_as_written_and_makes_the_project(tmp_path, run_cli):
    from hpogrid import paths
    from hpogrid.study import load

    config = _o2tuner_dir(tmp_path)
    r = run_cli("workflow", "run", "o2", "-c", config)
    assert r.exit_code == 0, r.output
    assert "created project 'o2'" in r.output and "ran preparation, optimisation, evaluate" in r.output
    trials = load("o2", study="optimisation").trials
    assert len(trials) == 4 and all(t.uid.startswith("pool-") for t in trials)  # the pool ran them
    assert all(t.annotations["key"] == "value1" for t in trials)
    assert all(t.value == pytest.approx((t.params["x"] - 0.5) ** 2 + t.params["y"] ** 2) for t in trials)
    root = paths.project_dir("o2") / "workflow"
    evaluated = json.loads((root / "evaluate" / "evaluated.json").read_text())
    assert evaluated["keys"] == ["value1"] * 4 and evaluated["axes"] == 3  # loss, x, y
    assert evaluated["config"] == {"parameter1": "value1"}
    assert (root / "evaluate" / "loss_feature_history.png").stat().st_size > 0
    # o2tuner's -s: that stage again; an edited script in the folder is taken first, as o2tuner would
    (config.parent / "evaluate.py").write_text(EVALUATE.replace('"axes": len(axes)', '"axes": -1'))
    r = run_cli("workflow", "run", "o2", "-c", config, "-s", "evaluate")
    assert r.exit_code == 0 and "ran evaluate; skipped 2" in r.output, r.output
    assert "the scripts in" in r.output and "changed; took them" in r.output
    assert json.loads((root / "evaluate" / "evaluated.json").read_text())["axes"] == -1
    r = run_cli("workflow", "run", "o2", "-c", config, "-s", "evaluate")
    assert r.exit_code == 0 and "changed" not in r.output


def test_the_readme_shape_with_keys_beside_the_stage_is_read_as_that_stage(tmp_path):
    """o2tuner's README writes ``deps``, ``jobs`` ... beside the stage, not under it."""
    wf = parse_workflow(loads("""\
stages_user:
    preparation:
    # a data preparation stage
    cmd: cp -r somewhere .

stages_optimisation:
    optimisation:
        file: optimisation.py
        objective: objective
    jobs: 10
    trials: 600
    sampler:
        name: tpe
        args:
            constant_liar: True
            n_startup_trials: 150
    deps:
        - preparation
    config:
        parameter1: value1
""", "config.yaml"))
    opt = wf.stages_optimisation["optimisation"]
    assert (opt.parallel, opt.trials, opt.deps, opt.config) == (10, 600, ["preparation"], {"parameter1": "value1"})
    assert opt.sampler.algorithm_param() == {"sampler": "tpe", "constant_liar": True, "n_startup_trials": 150}
    assert wf.stages_user["preparation"].cmd == "cp -r somewhere ."
    assert wf.notes == [
        "workflow.stages_user: read cmd as keys of stage 'preparation' (written beside it; indent them under it)",
        "workflow.stages_optimisation: read jobs, trials, sampler, deps, config as keys of stage 'optimisation' "
        "(written beside it; indent them under it)"]


@pytest.mark.parametrize("stages, message", [
    ({"stages_optimisation": {"o": {"file": "o.py", "objective": "f", "jobz": 2}}},
     "workflow.stages_optimisation.o.jobz: unknown key 'jobz'; allowed: deps, config, cwd, trials, algorithm, "
     "seed, n_jobs, jobs, backend, file, objective, entrypoint, sampler"),
    ({"stages_optimisation": {"o": {"sampler": {"name": "tpe", "arg": {}}}}},
     "workflow.stages_optimisation.o.sampler.arg: unknown key 'arg'; allowed: name, args"),
    ({"stages_optimisation": {"o": {"sampler": {"name": "grid"}}}},
     "'grid' is not a sampler hpogrid runs; choose one of: tpe, random, genetic, nsga2, gp, cmaes, qmc"),
    ({"stages_user": {"p": {"cmd": "x", "cwdd": "a"}}},
     "workflow.stages_user.p.cwdd: unknown key 'cwdd'; allowed: deps, config, cwd, cmd, python, entrypoint, "
     "optimisations"),
    ({"stages_optimisation": {"o": {"file": "o.py"}}}, "file and objective go together"),
    ({"stages_user": {"p": {"python": {"file": "p.py", "entry": "f"}}}},
     "python: unknown key 'entry'; allowed: file, entrypoint"),
    ({"stages_user": {"a": {"cmd": "x", "cwd": "same"}, "b": {"cmd": "y", "cwd": "same"}}},
     "stages a and b share the folder 'same'"),
])
def test_unknown_keys_and_mistakes_are_one_line(stages, message):
    with pytest.raises(ValidationError) as err:
        parse_workflow(stages)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_sampler_argument_optuna_does_not_take_is_one_line_and_makes_nothing(tmp_path, run_cli):
    from tests.conftest import tree_snapshot
    from hpogrid import paths

    config = _o2tuner_dir(tmp_path, CONFIG.replace("constant_liar: True", "constant_lair: True"))
    before = tree_snapshot(paths.home())
    r = run_cli("workflow", "run", "o2", "-c", config)
    assert r.exit_code == 1
    assert r.output.strip().splitlines() == [
        "Error: workflow.stages_optimisation.optimisation.sampler: args: 'constant_lair' is unknown for 'optuna "
        "sampler tpe'; allowed: " + r.output.split("allowed: ")[1].strip()]
    assert "constant_liar" in r.output
    assert tree_snapshot(paths.home()) == before  # no project, no config


def test_a_python_stage_without_config_is_called_with_nothing_as_in_o2tuner(tmp_path, run_cli):
    from hpogrid import paths

    (tmp_path / "o2").mkdir()
    (tmp_path / "o2" / "prepare.py").write_text("def prepare():\n    open('prepared.txt', 'w').write('yes')\n")
    (tmp_path / "o2" / "config.yaml").write_text("stages_user:\n    prepare:\n        python: {file: prepare.py, "
                                                 "entrypoint: prepare}\n        cwd: data\n")
    from hpogrid.configs import NamedStore
    from hpogrid.project import create_project

    NamedStore("model_config").create("m", {"script": "prepare.py", "model": "prepare"})
    NamedStore("search_space").create("s", {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}})
    NamedStore("hpo_config").create("h", {"metric": "loss", "mode": "min"})
    create_project("o2", str(tmp_path / "o2"), {"model_config": "m", "search_space": "s", "hpo_config": "h"})
    r = run_cli("workflow", "run", "o2", "--config", tmp_path / "o2" / "config.yaml")
    assert r.exit_code == 0, r.output
    assert (paths.project_dir("o2") / "workflow" / "data" / "prepared.txt").read_text() == "yes"  # its cwd
