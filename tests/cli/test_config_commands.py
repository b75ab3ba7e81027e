"""The four config groups through the real CLI: shapes, options, one-line errors."""
import json

import pytest

from tests.conftest import SPACE_EX1, tree_snapshot


def test_readme_example1_configs(run_cli, hpogrid_home):
    r = run_cli("model_config", "create", "simple_objective_model", "--script", "simple_objective.py",
                "--model", "simple_objective")
    assert r.exit_code == 0, r.output
    r = run_cli("search_space", "create", "simple_objective_space", json.dumps(SPACE_EX1))
    assert r.exit_code == 0, r.output
    r = run_cli("hpo_config", "create", "random_search_min_loss", "--algorithm", "random",
                "--metric", "loss", "--mode", "min", "--trials", "200")
    assert r.exit_code == 0, r.output
    r = run_cli("grid_config", "create", "manc_standard", "--site", "ANALY_MANC_GPU_TEST")
    assert r.exit_code == 0, r.output
    shown = json.loads(run_cli("hpo_config", "show", "random_search_min_loss").output)
    assert shown["trials"] == 200 and shown["mode"] == "min" and shown["metric"] == "loss"
    assert json.loads(run_cli("search_space", "show", "simple_objective_space").output) == SPACE_EX1


def test_list_prints_table_with_columns(run_cli):
    assert "No hpo_config yet" in run_cli("hpo_config", "list").output
    run_cli("hpo_config", "create", "b", "--trials", "3")
    run_cli("hpo_config", "create", "a", "--algorithm", "hyperopt")
    out = run_cli("hpo_config", "list").output.splitlines()
    assert out[0].split() == ["name", "algorithm", "metric", "mode", "trials", "scheduler"]
    assert out[2].split()[:2] == ["a", "hyperopt"] and out[3].split()[:5] == ["b", "auto", "accuracy", "max", "3"]


def test_update_changes_only_given_options(run_cli):
    run_cli("hpo_config", "create", "h", "--metric", "loss", "--trials", "7")
    r = run_cli("hpo_config", "update", "h", "--scheduler_param", '{"max_concurrent": 2}', "--verbose")
    assert r.exit_code == 0, r.output
    cfg = json.loads(run_cli("hpo_config", "show", "h").output)
    assert cfg["metric"] == "loss" and cfg["trials"] == 7 and cfg["verbose"] is True
    assert cfg["scheduler_param"] == {"max_concurrent": 2}
    r = run_cli("hpo_config", "update", "h")
    assert r.exit_code == 2 and "nothing to update" in r.output


def test_dashed_option_spelling_and_site_list(run_cli):
    assert run_cli("hpo_config", "create", "h", "--log-dir", "/tmp/x").exit_code == 0
    assert json.loads(run_cli("hpo_config", "show", "h").output)["log_dir"] == "/tmp/x"
    run_cli("grid_config", "create", "g", "--site", "A,B")
    assert json.loads(run_cli("grid_config", "show", "g").output)["site"] == ["A", "B"]


def test_search_space_from_file_and_update_merges(run_cli, tmp_path):
    f = tmp_path / "space.json"
    f.write_text(json.dumps(SPACE_EX1))
    assert run_cli("search_space", "create", "s", "--file", f).exit_code == 0
    extra = {"lr": {"method": "loguniform", "dimension": {"low": 1e-5, "high": 1e-2, "base": 10}}}
    assert run_cli("search_space", "update", "s", json.dumps(extra)).exit_code == 0
    assert list(json.loads(run_cli("search_space", "show", "s").output)) == ["height", "width", "lr"]
    r = run_cli("search_space", "create", "t", json.dumps(SPACE_EX1), "--file", f)
    assert r.exit_code == 2 and "not both" in r.output


def test_remove_asks_nothing_when_not_interactive(run_cli):
    run_cli("hpo_config", "create", "h")
    r = run_cli("hpo_config", "remove", "h")
    assert r.exit_code == 0 and "Removed hpo_config 'h'" in r.output
    assert "No hpo_config yet" in run_cli("hpo_config", "list").output


@pytest.mark.parametrize("args, needle, code", [
    (["hpo_config", "create", "x", "--mode", "sideways"], "hpo_config.mode: 'sideways' is not allowed; choose one of: min, max", 1),
    (["hpo_config", "create", "x", "--algorithm", "genetic"], "--algorithm", 2),
    (["hpo_config", "create", "x", "--trials", "ten"], "'ten' is not a valid integer", 2),
    (["hpo_config", "create", "x", "--stop", "{oops"], "hpo_config.stop: invalid JSON", 1),
    (["hpo_config", "create", "x", "--max_retries", "-1"], "--max_retries", 2),
    (["hpo_config", "create", "x", "--retry_on", "lost,timeout"], "hpo_config.retry_on: 'timeout' is not allowed", 1),
    (["hpo_config", "create", "x", "--failure_rules", '[{"match": "(", "action": "retry"}]'],
     "hpo_config.failure_rules: failure_rules[0].match '(' is not a valid regular expression", 1),
    (["hpo_config", "create", "x", "--failure_rules", '[{"match": "OOM", "action": "reboot"}]'],
     "failure_rules[0].action 'reboot' is not allowed; choose one of: retry, exclude_node, fail", 1),
    (["hpo_config", "create", "x", "--failure_rules", '[{"exit_code": "137", "action": "fail"}]'],
     "failure_rules[0].exit_code must be an integer exit status", 1),
    (["hpo_config", "create", "x", "--failure_rules", '[{"action": "fail"}]'],
     "failure_rules[0] must be {\"match\": REGEX, \"exit_code\": INT", 1),
    (["hpo_config", "create", "../x"], "invalid name '../x'", 1),
    (["hpo_config", "create", "a/b"], "invalid name 'a/b'", 1),
    (["hpo_config", "show", "nope"], "hpo_config 'nope' does not exist", 1),
    (["model_config", "create", "m", "--model", "f"], "model_config: script is required", 1),
    (["search_space", "create", "s", "{not json"], "search_space: invalid JSON", 1),
    (["search_space", "create", "s", '{"x": {"method": "gauss", "dimension": {}}}'], "search_space.x.method", 1),
    (["search_space", "create", "s"], "give the search space", 2),
    (["search_space", "create", "s", "--file", "/nonexistent.json"], "cannot read /nonexistent.json", 1),
])
def test_bad_input_is_one_line_and_changes_nothing(run_cli, hpogrid_home, args, needle, code):
    run_cli("hpo_config", "create", "keep", "--trials", "3")
    before = tree_snapshot(hpogrid_home)
    r = run_cli(*args)
    assert r.exit_code == code
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], r.output
    assert "Traceback" not in r.output and "internal error" not in r.output
    assert tree_snapshot(hpogrid_home) == before


def test_help_on_every_group_and_command(run_cli):
    for group in ("hpo_config", "grid_config", "model_config", "search_space", "slurm_config", "project"):
        r = run_cli(group, "--help")
        assert r.exit_code == 0 and "Usage: hpogrid " + group in r.output
        for action in ("create", "recreate", "update", "remove", "list", "show"):
            r = run_cli(group, action, "--help")
            assert r.exit_code == 0 and f"Usage: hpogrid {group} {action}" in r.output, r.output
    assert "--scheduler_param" in run_cli("hpo_config", "create", "--help").output
    assert "[default: fifo]" in " ".join(run_cli("hpo_config", "create", "--help").output.split())


def test_version(run_cli):
    from hpogrid import __version__

    r = run_cli("--version")
    assert r.exit_code == 0 and __version__ in r.output


def test_slurm_config_defaults_and_validation(run_cli):
    r = run_cli("slurm_config", "create", "s", "--partition", "debug", "--gres", "gpu:1",
                "--sbatch_args", "--constraint=a100,--exclusive")
    assert r.exit_code == 0, r.output
    cfg = json.loads(run_cli("slurm_config", "show", "s").output)
    assert cfg == {"partition": "debug", "account": None, "qos": None, "gres": "gpu:1", "cpus": 1,
                   "mem": "1000M", "time": "01:00:00", "sbatch_args": ["--constraint=a100", "--exclusive"],
                   "workers": 4, "poll_interval": 2.0, "pool": 0, "container": None, "container_runtime": None,
                   "container_args": [], "setup": []}
    r = run_cli("slurm_config", "create", "t", "--mem", "lots")
    assert r.exit_code == 1 and "slurm_config.mem: mem must be a number with an optional unit" in r.output
    r = run_cli("slurm_config", "create", "t", "--time", "1h")
    assert r.exit_code == 1 and "slurm_config.time" in r.output
