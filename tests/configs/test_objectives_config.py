"""hpo_config with several objectives and outcome constraints, through the CLI."""
import json

from hpogrid.configs import NamedStore
from tests.conftest import tree_snapshot


def test_several_metrics_are_stored_as_lists_and_run_fifo(run_cli):
    r = run_cli("hpo_config", "create", "mo", "--metric", "loss,latency", "--mode", "min,min",
                "--constraints", '{"memory_mb": ["<=", 4000]}')
    assert r.exit_code == 0, r.output
    stored = NamedStore("hpo_config").load("mo")
    assert stored["metric"] == ["loss", "latency"] and stored["mode"] == ["min", "min"]
    assert stored["constraints"] == {"memory_mb": ["<=", 4000]}
    assert stored["scheduler"] == "fifo"  # early stopping compares trials by one metric
    one = run_cli("hpo_config", "create", "one", "--metric", "loss", "--mode", "min")
    assert one.exit_code == 0 and NamedStore("hpo_config").load("one")["metric"] == "loss"  # a string, as ever


def test_an_early_stopping_scheduler_needs_its_metric_named(run_cli, hpogrid_home):
    before = tree_snapshot(hpogrid_home)
    r = run_cli("hpo_config", "create", "x", "--metric", "a,b", "--mode", "min,max", "--scheduler", "asynchyperband")
    assert r.exit_code == 1 and r.output == (
        "Error: hpo_config.scheduler_param: scheduler 'asynchyperband' stops trials by one metric: with 2 objectives "
        'name it here, e.g. {"metric": "a"}, or use scheduler fifo\n')
    assert tree_snapshot(hpogrid_home) == before
    r = run_cli("hpo_config", "create", "x", "--metric", "a,b", "--mode", "min,max", "--scheduler", "asynchyperband",
                "--scheduler_param", json.dumps({"metric": "b", "grace_period": 2}),
                "--stop", json.dumps({"training_iteration": 10}))
    assert r.exit_code == 0, r.output
    r = run_cli("hpo_config", "create", "y", "--metric", "a,b", "--mode", "min,max", "--scheduler", "median",
                "--scheduler_param", json.dumps({"metric": "c"}))
    assert r.exit_code == 1 and "hpo_config.scheduler_param: metric 'c' is not an objective; choose one of: a, b" \
        in r.output


def test_bad_constraints_and_mode_counts_are_one_line(run_cli):
    r = run_cli("hpo_config", "create", "x", "--metric", "a,b", "--mode", "min")
    assert r.exit_code == 1 and r.output == ("Error: hpo_config.mode: 2 metric(s) need 2 mode(s), one per metric in "
                                             "the same order (got 1: min)\n")
    r = run_cli("hpo_config", "create", "x", "--constraints", '{"m": ["==", 1]}')
    assert r.exit_code == 1 and r.output == ("Error: hpo_config.constraints: m: operator '==' is not allowed; choose "
                                             "one of: <=, >=\n")
