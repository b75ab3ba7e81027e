"""Issue #34 items 8 and 9, and the workflow part of "checks that come too late": a python
stage that raises or has a signature the README does not call is the user's error, said in
one line with the stage, the exception and where; a ``python:`` entry that is not a .py file
among the scripts, and any other broken workflow file, is refused at ``project create``
(nothing written) and at ``workflow run`` -- never an internal error."""
import json

import pytest

from tests.conftest import tree_snapshot
from tests.hostile._helpers import refused


def _project(run_cli, scripts, stages, files=None):
    (scripts / "workflow.json").write_text(json.dumps(stages))
    for name, text in (files or {}).items():
        (scripts / name).write_text(text)
    r = run_cli("project", "create", "p", "--scripts_path", scripts, "--model_config", "m",
                "--search_space", "sp", "--hpo_config", "h")
    assert r.exit_code == 0, r.output


def _stage(entry="f", **extra):
    return {"stages_user": {"e": {"python": "e.py", "entrypoint": entry, "config": {"k": 1}, **extra}}}


RAISING = [
    ("def f(config):\n    return 1 / 0\n", r"ZeroDivisionError: division by zero \(at e\.py:2\)"),
    ("def f(inspectors, config):\n    x = 1\n    raise ValueError('bad\\nvalue')\n",
     r"ValueError: bad value \(at e\.py:3\)"),
    ("def f(config):\n    return config['missing']\n", r"KeyError: 'missing' \(at e\.py:2\)"),
    ("from helper import g\n\ndef f(config):\n    g()\n", r"RuntimeError: deep \(at helper\.py:2\)"),
    ("def f(config):\n    raise SystemError()\n", r"SystemError \(at e\.py:2\)"),
    ("def f(config):\n    import json\n    json.loads('{')\n", r"JSONDecodeError: .* \(at e\.py:3\)"),
]


@pytest.mark.parametrize("source, pattern", RAISING, ids=[p.split(":")[0][1:] for _, p in RAISING])
def test_a_python_stage_that_raises_is_one_line_with_the_stage_the_exception_and_where(
        run_cli, scripts, configs, source, pattern):
    _project(run_cli, scripts, _stage(), {"e.py": source, "helper.py": "def g():\n    raise RuntimeError('deep')\n"})
    r = run_cli("workflow", "run", "p")
    assert r.exit_code == 1, r.output
    last = r.output.strip().splitlines()[-1]
    assert "internal error" not in r.output and "Traceback" not in r.output
    import re

    assert re.fullmatch(r"Error: workflow stage 'e' failed: " + pattern, last), last


BAD_SIGNATURES = ["def f():\n    pass\n", "def f(a, b, c):\n    pass\n", "def f(*, config):\n    pass\n",
                  "def f(a, b, c, d=1):\n    pass\n", "f = print.__call__\ndef f(**kw):\n    pass\n"]


@pytest.mark.parametrize("source", BAD_SIGNATURES)
def test_a_python_stage_with_a_signature_the_readme_does_not_call_is_one_line(run_cli, scripts, configs, source):
    _project(run_cli, scripts, _stage(), {"e.py": source})
    r = run_cli("workflow", "run", "p")
    assert r.exit_code == 1 and "internal error" not in r.output, r.output
    assert r.output.strip().splitlines()[-1].startswith("Error: workflow.e.entrypoint: f("), r.output
    assert "cannot be called as f(inspectors, config) or (config)" in r.output


def test_the_readme_evaluate_inspectors_config_stage_runs_without_optimisations(run_cli, scripts, configs,
                                                                               hpogrid_home):
    source = ("import json\ndef f(inspectors, config):\n"
              "    json.dump({'inspectors': len(inspectors), 'config': config}, open('out.json', 'w'))\n")
    _project(run_cli, scripts, {"stages_user": {
        "e": {"python": "e.py", "entrypoint": "f", "config": {"k": 1}},
        "g": {"python": "g.py", "entrypoint": "g", "config": {"k": 2}, "deps": ["e"]}}},
        {"e.py": source, "g.py": "import json\ndef g(config):\n    json.dump(config, open('out.json', 'w'))\n"})
    r = run_cli("workflow", "run", "p")
    assert r.exit_code == 0, r.output
    root = hpogrid_home / "projects" / "p" / "workflow"
    assert json.loads((root / "e" / "out.json").read_text()) == {"inspectors": 0, "config": {"k": 1}}
    assert json.loads((root / "g" / "out.json").read_text()) == {"k": 2}


NOT_PY = ["workflow.json", "/etc/passwd", "data.txt", "e.pyc", "e.py.bak", ".py", "sub/", "e"]


@pytest.mark.parametrize("python", NOT_PY)
def test_a_python_entry_that_is_not_a_py_file_is_refused_at_project_create(run_cli, scripts, configs,
                                                                            hpogrid_home, python):
    (scripts / "workflow.json").write_text(json.dumps(_stage() | {"stages_user": {"e": {
        "python": python, "entrypoint": "f"}}}))
    (scripts / "data.txt").write_text("x")
    before = tree_snapshot(hpogrid_home)
    r = run_cli("project", "create", "p", "--scripts_path", scripts, "--model_config", "m",
                "--search_space", "sp", "--hpo_config", "h")
    refused(r, before, hpogrid_home, rf"workflow\.stages_user\.e: python: .* is not a Python file \(a \.py file")
    # and a workflow file given at run time says the same, before any stage runs
    (scripts / "workflow.json").unlink()
    assert run_cli("project", "create", "p", "--scripts_path", scripts, "--model_config", "m",
                   "--search_space", "sp", "--hpo_config", "h").exit_code == 0
    wf = scripts.parent / "wf.json"
    wf.write_text(json.dumps({"stages_user": {"e": {"python": python, "entrypoint": "f"}}}))
    before = tree_snapshot(hpogrid_home)
    refused(run_cli("workflow", "run", "p", "--file", wf), before, hpogrid_home, r"is not a Python file")


BROKEN = [
    ({"stages_user": {"a": {"cmd": "x", "deps": ["b"]}, "b": {"cmd": "y", "deps": ["a"]}}},
     r"workflow: dependency cycle: a -> b -> a"),
    ({"stages_user": {"a": {"cmd": "x", "deps": ["a"]}}}, r"dependency cycle: a -> a"),
    ({"stages_user": {"a": {"cmd": "x", "deps": ["zz"]}}}, r"workflow\.a\.deps: unknown stage 'zz'"),
    ({"stages_user": {"../a": {"cmd": "x"}}}, r"invalid name '\.\./a'"),
    ({"stages_user": {"a": {"cmd": "x", "dep": ["b"]}}},
     r"workflow\.stages_user\.a\.dep: unknown key 'dep'; allowed: deps, config, cwd, cmd, python, entrypoint, "
     r"optimisations"),
    ({"stages_optimisation": {"o": {"tirals": 3}}},
     r"workflow\.stages_optimisation\.o\.tirals: unknown key 'tirals'; allowed: deps, config, cwd, trials, "
     r"algorithm, seed, n_jobs, jobs, backend, file, objective, entrypoint, sampler"),
    ({"stages": {}}, r"workflow\.stages: unknown key 'stages'; allowed: stages_user, stages_optimisation"),
    ({"stages_user": {"a": {"python": "missing.py", "entrypoint": "f"}}},
     r"workflow\.a\.python: 'missing\.py' is not among the scripts"),
    ({"stages_user": {"a": {"cmd": "x", "optimisations": ["a"]}}}, r"'a' is not an optimisation stage"),
]


@pytest.mark.parametrize("stages, pattern", BROKEN, ids=[p[:30] for _, p in BROKEN])
def test_a_broken_workflow_file_is_refused_at_project_create(run_cli, scripts, configs, hpogrid_home,
                                                            stages, pattern):
    (scripts / "workflow.json").write_text(json.dumps(stages))
    before = tree_snapshot(hpogrid_home)
    r = run_cli("project", "create", "p", "--scripts_path", scripts, "--model_config", "m",
                "--search_space", "sp", "--hpo_config", "h")
    refused(r, before, hpogrid_home, pattern)


def test_project_update_checks_the_workflow_file_it_copies_again(run_cli, scripts, configs, hpogrid_home):
    _project(run_cli, scripts, {"stages_user": {"a": {"cmd": "true"}}})
    (scripts / "workflow.json").write_text(json.dumps({"stages_user": {"a": {"cmd": "x", "deps": ["a"]}}}))
    before = tree_snapshot(hpogrid_home)
    for argv in (["project", "update", "p"], ["project", "update", "p", "-p", scripts]):
        refused(run_cli(*argv), before, hpogrid_home, r"^Error: workflow: dependency cycle: a -> a$")
