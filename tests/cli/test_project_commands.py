"""``hpogrid project ...`` through the CLI, including the README's Example 1 verbatim."""
import json
import shlex

from tests.conftest import REPO, tree_snapshot

README_EXAMPLE1 = """
hpogrid model_config create simple_objective_model --script simple_objective.py --model simple_objective
hpogrid search_space create simple_objective_space '{"height":{"method":"uniform","dimension":{"low":-100,"high":100}}, "width":{"method":"uniform","dimension":{"low":0,"high":20}}}'
hpogrid hpo_config create random_search_min_loss --algorithm random --metric loss --mode min --trials 200
hpogrid grid_config create manc_standard --site ANALY_MANC_GPU_TEST
hpogrid project create simple_objective --scripts_path ${HPOGRID_BASE_PATH}/example/scripts/simple_objective.py --model_config simple_objective_model --search_space simple_objective_space --hpo_config random_search_min_loss --grid_config manc_standard
"""


def test_readme_example1_verbatim_up_to_project_create(run_cli):
    for line in README_EXAMPLE1.strip().splitlines():
        args = shlex.split(line.replace("${HPOGRID_BASE_PATH}", str(REPO)))
        assert args[0] == "hpogrid"
        r = run_cli(*args[1:])
        assert r.exit_code == 0, (line, r.output)
    shown = json.loads(run_cli("project", "show", "simple_objective").output)
    assert shown["hpo_config"]["trials"] == 200 and shown["grid_config"]["site"] == "ANALY_MANC_GPU_TEST"
    assert shown["config_names"]["model_config"] == "simple_objective_model"
    out = run_cli("project", "list").output
    assert "simple_objective" in out and "random" in out


def test_project_errors_are_one_line(run_cli, hpogrid_home):
    for line in README_EXAMPLE1.strip().splitlines()[:3]:
        run_cli(*shlex.split(line)[1:])
    before = tree_snapshot(hpogrid_home)
    cases = [
        (["project", "create", "p", "--scripts_path", "/does/not/exist", "--model_config",
          "simple_objective_model", "--search_space", "simple_objective_space", "--hpo_config",
          "random_search_min_loss"], "project.scripts_path: '/does/not/exist' does not exist"),
        (["project", "create", "p", "--scripts_path", str(REPO / "example" / "scripts"), "--model_config",
          "missing", "--search_space", "simple_objective_space", "--hpo_config", "random_search_min_loss"],
         "model_config 'missing' does not exist (existing: simple_objective_model)"),
        (["project", "create", "../p", "--scripts_path", ".", "--model_config", "a", "--search_space",
          "b", "--hpo_config", "c"], "invalid name '../p'"),
        (["project", "show", "nope"], "project 'nope' does not exist"),
        (["project", "create", "p"], "Missing option '--scripts_path'"),
    ]
    for args, needle in cases:
        r = run_cli(*args)
        lines = r.output.strip().splitlines()
        assert r.exit_code != 0 and len(lines) == 1 and needle in lines[0], (args, r.output)
    assert tree_snapshot(hpogrid_home) == before


def test_remove_project(run_cli):
    for line in README_EXAMPLE1.strip().splitlines():
        run_cli(*shlex.split(line.replace("${HPOGRID_BASE_PATH}", str(REPO)))[1:])
    r = run_cli("project", "remove", "simple_objective")
    assert r.exit_code == 0 and "Removed project" in r.output
    assert "No projects yet" in run_cli("project", "list").output
