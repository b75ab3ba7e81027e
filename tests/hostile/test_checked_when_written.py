"""Issue #34, "checks that come too late": the README promises everything is checked when the
config is written. Each mistake below was accepted at ``create`` (or ``project create``) and
failed only at run time, or never; now it is one line naming the field, exit 1, nothing on
disk changed -- and the values next to it that are fine are still taken."""
import json

import pytest

from tests.conftest import tree_snapshot
from tests.hostile._helpers import refused

ONE_METRIC = ["hyperopt", "bayesian", "skopt", "hebo", "nevergrad", "bohb"]


@pytest.mark.parametrize("algorithm", ONE_METRIC)
@pytest.mark.parametrize("metrics", ["a,b", "loss,latency,size"])
def test_several_objectives_with_a_one_metric_algorithm_are_refused_at_create(run_cli, hpogrid_home, algorithm,
                                                                               metrics):
    modes = ",".join(["min"] * len(metrics.split(",")))
    r = run_cli("hpo_config", "create", "h", "--metric", metrics, "--mode", modes, "--algorithm", algorithm)
    refused(r, {}, hpogrid_home, rf"^Error: hpo_config\.metric: {len(metrics.split(','))} objectives \({metrics.replace(',', ', ')}\), and "
                                 rf"algorithm '{algorithm}' optimises one metric; choose one of: random, tune, ax, "
                                 r"optuna, auto$")


def test_an_update_that_makes_a_one_metric_config_multi_objective_is_refused(run_cli, hpogrid_home):
    assert run_cli("hpo_config", "create", "h", "--metric", "a", "--mode", "min", "--algorithm", "hyperopt").exit_code == 0
    before = tree_snapshot(hpogrid_home)
    refused(run_cli("hpo_config", "update", "h", "--metric", "a,b", "--mode", "min,max"), before, hpogrid_home,
            r"hpo_config\.metric: 2 objectives \(a, b\), and algorithm 'hyperopt' optimises one metric")
    for algorithm in ("optuna", "random", "ax", "auto", "tune"):
        r = run_cli("hpo_config", "create", f"ok_{algorithm}", "--metric", "a,b", "--mode", "min,max",
                    "--algorithm", algorithm)
        assert r.exit_code == 0, (algorithm, r.output)


@pytest.mark.parametrize("sampler", ["cmaes"])
def test_an_optuna_sampler_of_one_objective_is_refused_at_create(run_cli, hpogrid_home, sampler):
    r = run_cli("hpo_config", "create", "h", "--metric", "a,b", "--mode", "min,min", "--algorithm", "optuna",
                "--algorithm_param", json.dumps({"sampler": sampler}))
    refused(r, {}, hpogrid_home, rf"hpo_config\.algorithm_param: key 'sampler' is '{sampler}', which optimises one "
                                 r"metric; with several objectives choose one of: nsga2, tpe, gp, qmc, random")
    for ok in ("nsga2", "tpe", "gp", "qmc", "random"):
        assert run_cli("hpo_config", "create", f"h_{ok}", "--metric", "a,b", "--mode", "min,min", "--algorithm",
                       "optuna", "--algorithm_param", json.dumps({"sampler": ok})).exit_code == 0


@pytest.mark.parametrize("command, pattern", [
    ("python t.py --lr {lrr}", r"placeholder \{lrr\} is not a search-space parameter \(parameters: x;"),
    ("python t.py {x} {X}", r"placeholder \{X\} is not"),
    ("python t.py --a=($x_1)", r"\$x_1 refers to parameter 1 but the search space has 1 \(x\)"),
    ("python t.py {$x_3}", r"\$x_3 refers to parameter 3"),
    ("python t.py {x_0}", r"placeholder \{x_0\} is not"),
])
def test_an_unknown_command_placeholder_is_refused_at_project_create(run_cli, hpogrid_home, scripts, configs,
                                                                     command, pattern):
    assert run_cli("model_config", "create", "prog", "--command", command).exit_code == 0
    before = tree_snapshot(hpogrid_home)
    r = run_cli("project", "create", "p", "--scripts_path", scripts, "--model_config", "prog",
                "--search_space", "sp", "--hpo_config", "h")
    refused(r, before, hpogrid_home, r"^Error: model_config\.command: " + pattern)
    assert run_cli("model_config", "recreate", "prog", "--command", "python t.py --x {x} {trial_dir}").exit_code == 0
    r = run_cli("project", "create", "p", "--scripts_path", scripts, "--model_config", "prog",
                "--search_space", "sp", "--hpo_config", "h")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("method, dim", [
    ("quniform", {"low": 0, "high": 1, "q": 5}),
    ("quniform", {"low": 1, "high": 2, "q": 1.5}),
    ("quniform", {"low": -1, "high": 1, "q": 2.5}),
    ("qloguniform", {"low": 1, "high": 10, "q": 20}),
    ("qloguniform", {"low": 0.1, "high": 0.2, "q": 0.5}),
])
def test_a_q_larger_than_the_range_is_refused(run_cli, hpogrid_home, method, dim):
    r = run_cli("search_space", "create", "s", json.dumps({"a": {"method": method, "dimension": dim}}))
    refused(r, {}, hpogrid_home, rf"^Error: search_space\.a\.dimension\.q: must be <= high - low = .* for {method}")
    ok = {**dim, "q": (dim["high"] - dim["low"]) / 2}
    assert run_cli("search_space", "create", "s", json.dumps({"a": {"method": method, "dimension": ok}})).exit_code == 0


@pytest.mark.parametrize("resource", [{"cpu": 0}, {"cpu": 0.0}, {"cpu": 0, "gpu": 1}])
def test_zero_cpus_per_trial_is_refused(run_cli, hpogrid_home, resource):
    r = run_cli("hpo_config", "create", "h", "--resource", json.dumps(resource))
    refused(r, {}, hpogrid_home, r"^Error: hpo_config\.resource: cpu must be > 0")
    assert run_cli("hpo_config", "create", "h", "--resource", '{"cpu": 0.5, "gpu": 0}').exit_code == 0


@pytest.mark.parametrize("log_dir, why", [
    ("/etc", "is a system folder"), ("/", "is a system folder"), ("/usr/lib/x", "is a system folder"),
    ("/proc/self", "is a system folder"), ("../..", "leaves the project folder"), ("..", "leaves the project"),
    ("a/../../b", "leaves the project"), ("./../x", "leaves the project"), ("", "must be a folder path"),
    ("  ", "must be a folder path"),
])
def test_a_log_dir_outside_the_project_or_in_a_system_folder_is_refused(run_cli, hpogrid_home, log_dir, why):
    r = run_cli("hpo_config", "create", "h", "--log_dir", log_dir)
    refused(r, {}, hpogrid_home, rf"^Error: hpo_config\.log_dir: .*{why}")


@pytest.mark.parametrize("log_dir", ["./log", "logs/run1", "a/../b", "/tmp/hpogrid-logs", "~/hpogrid-logs",
                                     "/var/tmp/x"])
def test_a_log_dir_inside_the_project_or_of_your_own_is_taken(run_cli, hpogrid_home, log_dir):
    assert run_cli("hpo_config", "create", "h", "--log_dir", log_dir).exit_code == 0


@pytest.mark.parametrize("site", ["", " ", ",", " , ,"])
def test_an_empty_site_is_refused(run_cli, hpogrid_home, site):
    refused(run_cli("grid_config", "create", "g", "--site", site), {}, hpogrid_home,
            r"^Error: grid_config\.site: .*empty")


def test_an_empty_site_in_a_grid_config_file_is_refused(run_cli, hpogrid_home, tmp_path):
    for site in ("", [], ["A", ""], [" A"]):
        f = tmp_path / "g.json"
        f.write_text(json.dumps({"site": site}))
        refused(run_cli("grid_config", "create", "g", "--file", f), {}, hpogrid_home, r"grid_config\.site: ")
    assert run_cli("grid_config", "create", "g", "--site", "A,B").exit_code == 0


@pytest.mark.parametrize("stop, pattern", [
    ({"loss": "0.1"}, r"'loss' is \"0\.1\"; a stop value is a number"),
    ({"training_iteration": True}, r"'training_iteration' is true"),
    ({"loss": None}, r"'loss' is null"),
    ({"loss": [1]}, r"'loss' is \[1\]"),
    ({"loss": {"<": 1}}, r"'loss' is \{\"<\": 1\}"),
    ({"": 3}, r"a key is empty"),
    ({" ": 3}, r"a key is empty"),
])
def test_stop_criteria_that_can_never_trigger_are_refused(run_cli, hpogrid_home, stop, pattern):
    refused(run_cli("hpo_config", "create", "h", "--stop", json.dumps(stop)), {}, hpogrid_home,
            r"^Error: hpo_config\.stop: " + pattern)


@pytest.mark.parametrize("kind, extra", [("hpo_config", []), ("grid_config", []), ("search_space", ['{}']),
                                         ("model_config", ["--script", "m.py", "--model", "f"])])
@pytest.mark.parametrize("first, second", [("abc", "ABC"), ("Model_1", "model_1"), ("x.Y", "X.y")])
def test_names_that_differ_only_by_case_are_refused(run_cli, hpogrid_home, kind, extra, first, second):
    extra = ['{"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}'] if kind == "search_space" else extra
    assert run_cli(kind, "create", first, *extra).exit_code == 0
    before = tree_snapshot(hpogrid_home)
    for action in ("create", "recreate"):
        refused(run_cli(kind, action, second, *extra), before, hpogrid_home,
                rf"^Error: {kind}: '{second}' differs from the existing '{first}' only by case")
    assert run_cli(kind, "recreate", first, *extra).exit_code == 0  # the name itself: fine


@pytest.mark.parametrize("second", ["P"])
def test_project_names_that_differ_only_by_case_are_refused(run_cli, hpogrid_home, project, scripts, second):
    before = tree_snapshot(hpogrid_home)
    r = run_cli("project", "create", second, "--scripts_path", scripts, "--model_config", "m", "--search_space", "sp",
                "--hpo_config", "h")
    refused(r, before, hpogrid_home, rf"^Error: project: '{second}' differs from the existing 'p' only by case")


@pytest.mark.parametrize("account", ["Alice", "alice smith", "a/b", "a" * 31, "bob;rm -rf", "\u00e9lise", "a.b",
                                     "ali\nce"])
def test_an_invalid_rucio_account_is_blamed_on_rucio_account(run_cli, hpogrid_home, tmp_path, monkeypatch, account):
    from tests.grid.test_grid_run import make

    make(run_cli, tmp_path, "cp")
    monkeypatch.setenv("RUCIO_ACCOUNT", account)
    before = tree_snapshot(hpogrid_home)
    r = run_cli("run", "cp", "--dry-run")
    refused(r, before, hpogrid_home, r"^Error: RUCIO_ACCOUNT: .* is not a Rucio account name")
    assert "outDS" not in r.output


@pytest.mark.parametrize("command", [["hpo_config", "list"], ["project", "list"], ["hpo_config", "create", "h"],
                                     ["report", "p"], ["search_space", "list"]])
def test_hpogrid_home_that_is_a_file_is_one_line(run_cli, tmp_path, monkeypatch, command):
    home = tmp_path / "home-file"
    home.write_text("not a folder")
    monkeypatch.setenv("HPOGRID_HOME", str(home))
    r = run_cli(*command)
    refused(r, None, None, rf"^Error: HPOGRID_HOME: {home} is not a folder")
    assert home.read_text() == "not a folder"
