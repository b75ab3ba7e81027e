"""Staged workflows: a 3-stage DAG run, continued, re-run from a stage (real Ray, real processes)."""
import json
import sys

import pytest

from hpogrid import paths
from hpogrid.configs import NamedStore
from hpogrid.errors import ValidationError
from hpogrid.project import create_project
from hpogrid.workflow._spec import parse_workflow

PREPARE = "import json\njson.dump({'offset': 0.5}, open('data.json', 'w'))\nprint('prepared')\n"
OBJECTIVE = """
import json
from hpogrid.workflow import annotate, resolve_path

def objective(config):
    offset = json.load(open(resolve_path("prepare") / "data.json"))["offset"]
    annotate("offset", offset)
    annotate("scale", config["scale"])
    return (config["x"] - offset) ** 2
"""
EVALUATE = """
import json

def evaluate(inspectors, config):
    insp = inspectors[0]
    json.dump({"losses": insp.get_losses(), "offsets": insp.get_annotation_per_trial("offset"),
               "history": len(insp.get_history()), "best": insp.best_trial.value},
              open(config["out"], "w"))
"""


def _workflow(tmp_path, stages=None):
    src = tmp_path / "src"
    src.mkdir()
    (src / "prepare.py").write_text(PREPARE)
    (src / "train.py").write_text(OBJECTIVE)
    (src / "evaluate.py").write_text(EVALUATE)
    (src / "workflow.json").write_text(json.dumps(stages or {
        "stages_user": {
            "prepare": {"cmd": f"{sys.executable} prepare.py"},
            "evaluate": {"python": "evaluate.py", "entrypoint": "evaluate", "optimisations": ["optimise"],
                         "config": {"out": "summary.json"}}},
        "stages_optimisation": {"optimise": {"deps": ["prepare"], "trials": 4, "seed": 1,
                                             "config": {"scale": 3}}}}))
    NamedStore("model_config").create("m", {"script": "train.py", "model": "objective"})
    NamedStore("search_space").create("s", {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}})
    NamedStore("hpo_config").create("h", {"metric": "loss", "mode": "min", "scheduler": "fifo"})
    create_project("wf", str(src), {"model_config": "m", "search_space": "s", "hpo_config": "h"})
    return paths.project_dir("wf") / "workflow"


@pytest.mark.slow
def test_three_stage_dag_continue_and_rerun_from_a_stage(tmp_path, run_cli):
    root = _workflow(tmp_path)
    r = run_cli("workflow", "run", "wf")
    assert r.exit_code == 0, r.output
    assert "ran prepare, optimise, evaluate" in r.output
    summary = json.loads((root / "evaluate" / "summary.json").read_text())
    assert len(summary["losses"]) == 4 and summary["history"] == 4
    assert summary["offsets"] == [0.5] * 4 and summary["best"] == min(summary["losses"])
    from hpogrid.study import load

    trials = load("wf", study="optimise").trials
    assert all({"offset": 0.5, "scale": 3}.items() <= t.annotations.items() for t in trials)  # what they annotated
    assert all(t.value == pytest.approx((t.params["x"] - 0.5) ** 2) for t in trials)

    mtime = (root / "evaluate" / "summary.json").stat().st_mtime_ns
    r = run_cli("workflow", "run", "wf", "--continue")
    assert r.exit_code == 0 and "ran nothing; skipped 3" in r.output
    assert (root / "evaluate" / "summary.json").stat().st_mtime_ns == mtime

    r = run_cli("workflow", "run", "wf", "--stage", "evaluate")
    assert r.exit_code == 0 and "ran evaluate; skipped 2" in r.output, r.output
    assert (root / "evaluate" / "summary.json").stat().st_mtime_ns != mtime
    assert len(load("wf", study="optimise").trials) == 4  # the optimisation was not repeated
    assert "optimise" in run_cli("workflow", "show", "wf").output


def test_failed_stage_is_not_done_and_stops_the_run(tmp_path, run_cli):
    root = _workflow(tmp_path, {"stages_user": {
        "a": {"cmd": f"{sys.executable} -c \"import sys; sys.stderr.write('bad input\\\\n'); sys.exit(4)\""},
        "b": {"cmd": f"{sys.executable} prepare.py", "deps": ["a"]}}})
    r = run_cli("workflow", "run", "wf")
    assert r.exit_code == 1
    assert r.output.strip().splitlines()[-1] == "Error: workflow stage 'a' failed with exit code 4: bad input"
    assert not (root / "a" / ".done").exists() and not (root / "b").exists()


@pytest.mark.parametrize("stages, message", [
    ({"stages_user": {"a": {"cmd": "x", "deps": ["b"]}, "b": {"cmd": "y", "deps": ["a"]}}}, "dependency cycle: a -> b -> a"),
    ({"stages_user": {"a": {"cmd": "x", "deps": ["zz"]}}}, "workflow.a.deps: unknown stage 'zz'"),
    ({"stages_user": {"a": {"python": "e.py"}}}, "workflow.stages_user.a: python stages need an entrypoint"),
    ({"stages_user": {"a": {"cmd": "x", "optimisations": ["a"]}}}, "'a' is not an optimisation stage"),
    ({}, "defines no stages"),
    ({"stages_user": {"../x": {"cmd": "x"}}}, "invalid name '../x'"),
])
def test_bad_workflows_are_one_line_errors(stages, message):
    with pytest.raises(ValidationError) as err:
        parse_workflow(stages)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_stage_runs_on_the_backend_it_names_and_running_it_again_continues_its_study(tmp_path, run_cli):
    from hpogrid.study import load

    _workflow(tmp_path, {"stages_user": {"prepare": {"cmd": f"{sys.executable} prepare.py"}},
                         "stages_optimisation": {"optimise": {"deps": ["prepare"], "trials": 3, "seed": 1,
                                                              "algorithm": "optuna", "backend": "fake",
                                                              "config": {"scale": 3}}}})
    r = run_cli("workflow", "run", "wf")
    assert r.exit_code == 0, r.output
    first = load("wf", study="optimise").trials
    assert len(first) == 3 and {t.backend for t in first} == {"fake"}
    assert all({"offset": 0.5, "scale": 3}.items() <= t.annotations.items() for t in first)
    # the stage again, with a bigger budget: its study goes on, the searcher told the 3 trials so far
    src = tmp_path / "src" / "workflow.json"
    spec = json.loads(src.read_text())
    spec["stages_optimisation"]["optimise"]["trials"] = 5
    src.write_text(json.dumps(spec))
    r = run_cli("workflow", "run", "wf", "--stage", "optimise", "--file", src)
    assert r.exit_code == 0, r.output
    assert "searcher told 3 earlier trials" in r.output and "3 trials kept, 0 to re-run, 2 new" in r.output
    after = load("wf", study="optimise").trials
    assert len(after) == 5 and {t.uid for t in first} <= {t.uid for t in after}


def test_a_stage_naming_an_unknown_backend_is_one_line():
    with pytest.raises(ValidationError) as err:
        parse_workflow({"stages_optimisation": {"o": {"backend": "cloud"}}})
    assert "'cloud' is not a backend; choose one of: local, ray, pool, slurm, grid, fake" in str(err.value)


WORKFLOW_YAML = """\
# echo-opt style: the workflow in YAML
stages_user:
  prepare: {cmd: "python prepare.py"}
  evaluate:
    python: evaluate.py
    entrypoint: evaluate
    optimisations: [optimise]
    config: {out: summary.json}
stages_optimisation:
  optimise:
    deps: [prepare]
    trials: 4
    backend: fake
"""


def test_workflow_yaml_among_the_scripts_is_read_like_workflow_json(tmp_path, run_cli):
    from hpogrid.project import load_project
    from hpogrid.workflow import load_workflow
    from hpogrid.yamltext import loads

    _workflow(tmp_path)
    proj = load_project("wf")
    json_file = proj.scripts_dir / "workflow.json"
    json_file.write_text(json.dumps(loads(WORKFLOW_YAML, "test")))
    from_json = load_workflow(proj)
    json_file.unlink()
    (proj.scripts_dir / "workflow.yaml").write_text(WORKFLOW_YAML)
    from_yaml = load_workflow(proj)
    assert from_yaml == from_json and from_yaml.order() == ["prepare", "optimise", "evaluate"]
    r = run_cli("workflow", "show", "wf")
    assert r.exit_code == 0 and r.output.splitlines()[2].split()[:2] == ["prepare", "user"], r.output
    # both spellings at once is ambiguous; a bad YAML file names its line; --file takes YAML
    json_file.write_text("{}")
    r = run_cli("workflow", "show", "wf")
    assert r.exit_code == 1 and "the project's scripts hold workflow.json and workflow.yaml; keep one" in r.output
    bad = tmp_path / "wf.yml"
    bad.write_text("stages_user:\n  prepare: {cmd: [\n")
    r = run_cli("workflow", "show", "wf", "--file", bad)
    assert r.exit_code == 1 and r.output.startswith(f"Error: workflow: invalid YAML in {bad}: ") \
        and "(line 3, column 1" in r.output and len(r.output.strip().splitlines()) == 1
