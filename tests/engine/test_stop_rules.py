"""Budgets and stop rules (README "Budgets and stop rules") on the fake backend, with the
clock injected: trials move it on (``tests/engine/budget_clock.py``), nothing waits on time."""
import pytest

from hpogrid import paths
from hpogrid.backends import RunOptions, get_backend
from hpogrid.budgets import ATTRS_KEY
from hpogrid.errors import ValidationError
from hpogrid.project import load_project
from hpogrid.study import StudyStore, sqlite_url
from tests.backends.helpers import make_project
from tests.engine import budget_clock

UNI = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}


@pytest.fixture(autouse=True)
def _clock():
    budget_clock.reset()
    yield
    budget_clock.RELEASE.set()  # a held trial thread ends


def run_fake(name, **options):
    return get_backend("fake").run(load_project(name), RunOptions(progress=False, clock=budget_clock.clock,
                                                                  algorithm="random", **options))


def study(name):
    store = StudyStore(sqlite_url(paths.study_db(name)))
    return store.get_study(name), sorted(store.trials(name), key=lambda t: t.number)


def test_timeout_drains_running_trials_and_the_study_says_so(tmp_path):
    budget_clock.reset(losses=[0.5, 0.4, 0.3, 0.2], step_s=3600)
    name = make_project(tmp_path, budget_clock.SCRIPT, UNI, trials=10)
    summary = run_fake(name, timeout="2h30m")
    info, trials = study(name)
    # trials 1 and 2 end at 1h and 2h; trial 3 started before 2h30m and finishes (drain)
    assert [t.state for t in trials] == ["COMPLETED"] * 3
    assert (summary.stopped_by, summary.interrupted) == ("timeout", False)
    status = info.attrs[ATTRS_KEY]
    assert status["stopped_by"] == "timeout" and status["left"]["timeout_s"] == 0
    assert status["described"] == ["timeout 2h30m (then drain)"]


def test_timeout_action_stop_interrupts_the_running_trial(tmp_path):
    budget_clock.reset(losses=[0.5], step_s=3 * 3600, hold_from=1)
    name = make_project(tmp_path, budget_clock.SCRIPT, UNI, trials=10)
    summary = run_fake(name, timeout="2h", timeout_action="stop")
    _, trials = study(name)
    assert [t.state for t in trials] == ["INTERRUPTED"]
    assert trials[0].error == "run stopped: timeout 2h passed"
    assert summary.stopped_by == "timeout" and not summary.interrupted


def test_max_cost_counts_running_trials_gpus_and_carries_over_resume(tmp_path):
    # each trial holds 2 GPUs for one hour of the injected clock: 2 gpu-h each
    budget_clock.reset(losses=[0.5, 0.4, 0.3], step_s=3600, hold_from=3)
    name = make_project(tmp_path, budget_clock.SCRIPT, UNI, trials=10, resource={"cpu": 1, "gpu": 2})
    summary = run_fake(name, max_cost="5gpu-h")
    info, trials = study(name)
    # the third trial is running (held) when 2+2 ended + 2 running reach 5 gpu-h: it is stopped
    assert [t.state for t in trials] == ["COMPLETED", "COMPLETED", "INTERRUPTED"]
    assert [t.annotations["cost_h"]["gpu"] for t in trials] == [2.0, 2.0, 2.0]
    assert trials[0].annotations["resources"] == {"cpu": 1.0, "gpu": 2.0}
    assert summary.stopped_by == "max_cost" and info.attrs[ATTRS_KEY]["used_h"]["gpu"] == 6.0
    budget_clock.RELEASE.set()
    import threading

    for thread in threading.enumerate():  # the stopped trial's thread ends before its re-run starts
        if thread.name.startswith("hpogrid-fake-"):
            thread.join(60)

    # --resume with a larger budget: 6 gpu-h are spent already; the re-run trial adds 2 (4 in all
    # for it), then nothing more starts
    budget_clock.reset(losses=[0.3], step_s=3600)
    summary = run_fake(name, max_cost="7gpu-h", resume=True, backup=False)
    info, trials = study(name)
    assert [t.state for t in trials] == ["COMPLETED"] * 3
    assert trials[2].annotations["cost_h"]["gpu"] == 4.0
    assert summary.stopped_by == "max_cost" and info.attrs[ATTRS_KEY]["used_h"]["gpu"] == 8.0


@pytest.mark.parametrize("hpo, options, losses, count, rule, described", [
    # the hpo_config's rules end the run on their own
    ({"timeout": "2h30m"}, {}, [], 3, "timeout", ["timeout 2h30m (then drain)"]),
    ({"max_cost": "2cpu-h"}, {}, [], 2, "max_cost", ["max_cost 2cpu-h"]),
    ({"target": 0.1}, {}, [0.5, 0.3, 0.05], 3, "target", ["target 0.1"]),
    ({"patience": 2, "min_delta": 0.05}, {}, [0.5, 0.3, 0.29, 0.28], 4, "patience",
     ["patience 2 (min_delta 0.05)"]),
    # a run option wins over the hpo_config's value of the same rule, and only of that one
    ({"timeout": "2h30m"}, {"timeout": "1h30m"}, [], 2, "timeout", ["timeout 1h30m (then drain)"]),
    ({"max_cost": "2cpu-h"}, {"max_cost": "3cpu-h"}, [], 3, "max_cost", ["max_cost 3cpu-h"]),
    ({"target": 0.1}, {"target": "0.35"}, [0.5, 0.3, 0.05], 2, "target", ["target 0.35"]),
    ({"patience": 2, "min_delta": 0.05}, {"patience": 1}, [0.5, 0.3, 0.29, 0.28], 3, "patience",
     ["patience 1 (min_delta 0.05)"]),
    ({"timeout": "5h", "target": 0.1}, {"timeout": "1h30m"}, [0.5, 0.3], 2, "timeout",
     ["timeout 1h30m (then drain)", "target 0.1"]),
])
def test_rules_of_the_hpo_config_end_the_run_and_a_run_option_wins(tmp_path, hpo, options, losses, count, rule,
                                                                  described):
    budget_clock.reset(losses=losses, step_s=3600)
    name = make_project(tmp_path, budget_clock.SCRIPT, UNI, trials=10, **hpo)
    summary = run_fake(name, **options)
    info, trials = study(name)
    assert len(trials) == count and summary.stopped_by == rule
    assert info.attrs[ATTRS_KEY]["described"] == described and info.attrs[ATTRS_KEY]["stopped_by"] == rule


def test_timeout_action_of_the_hpo_config_applies_to_a_timeout_given_as_option(tmp_path):
    budget_clock.reset(losses=[0.5], step_s=3 * 3600, hold_from=1)
    name = make_project(tmp_path, budget_clock.SCRIPT, UNI, trials=10, timeout="12h", timeout_action="stop")
    summary = run_fake(name, timeout="2h")
    _, trials = study(name)
    assert [t.state for t in trials] == ["INTERRUPTED"] and trials[0].error == "run stopped: timeout 2h passed"
    assert summary.stopped_by == "timeout"


def test_resume_restarts_the_timeout_it_is_this_runs_wall_clock(tmp_path):
    # trials end at 1h and 2h: the second started before 1h30m and drains
    budget_clock.reset(step_s=3600)
    name = make_project(tmp_path, budget_clock.SCRIPT, UNI, trials=10)
    assert run_fake(name, timeout="1h30m").stopped_by == "timeout"
    assert len(study(name)[1]) == 2
    # the clock goes on (2h have passed, more than the timeout): the resumed run has its own 1h30m
    summary = run_fake(name, timeout="1h30m", resume=True, backup=False)
    info, trials = study(name)
    assert [t.state for t in trials] == ["COMPLETED"] * 4 and summary.counts["COMPLETED"] == 2
    assert summary.stopped_by == "timeout" and info.attrs[ATTRS_KEY]["elapsed_s"] == 7200


def test_target_drains_once_a_trial_reaches_it(tmp_path):
    budget_clock.reset(losses=[0.5, 0.3, 0.05, 0.01])
    name = make_project(tmp_path, budget_clock.SCRIPT, UNI, trials=10)
    summary = run_fake(name, target="0.1")
    _, trials = study(name)
    assert [t.value for t in trials] == [0.5, 0.3, 0.05]
    assert summary.stopped_by == "target" and "target 0.1 reached (loss = 0.05)" in summary.stop_reason


def test_a_resumed_study_that_already_met_its_target_or_patience_runs_nothing(tmp_path):
    budget_clock.reset(losses=[0.5, 0.05, 0.4, 0.3])
    name = make_project(tmp_path, budget_clock.SCRIPT, UNI, trials=2)
    run_fake(name)  # 0.5, 0.05: no rule yet
    summary = run_fake(name, trials=6, resume=True, backup=False, target="0.1")
    assert summary.stopped_by == "target" and "already reached by trial 1" in summary.stop_reason
    assert len(study(name)[1]) == 2  # nothing ran
    summary = run_fake(name, trials=6, resume=True, backup=False, patience=1)  # 0.4: no improvement
    assert summary.stopped_by == "patience" and len(study(name)[1]) == 3
    summary = run_fake(name, trials=6, resume=True, backup=False, patience=1)
    assert summary.stopped_by == "patience" and "in the study's last 1 completed trials" in summary.stop_reason
    assert len(study(name)[1]) == 3  # nothing ran
    summary = run_fake(name, trials=4, resume=True, backup=False, target="0.01")
    assert summary.stopped_by is None and len(study(name)[1]) == 4  # a target still ahead: the run goes on


def test_target_of_several_objectives_is_a_reference_point_to_dominate(tmp_path):
    budget_clock.reset(losses=[(0.1, 0.5), (0.5, 0.1), (0.15, 0.15), (0.0, 0.0)])
    name = make_project(tmp_path, budget_clock.SCRIPT, UNI, trials=10, metric="loss,latency", mode="min,min",
                        algorithm="random")
    summary = run_fake(name, target="0.2,0.2")
    _, trials = study(name)
    assert len(trials) == 3 and summary.stopped_by == "target"
    with pytest.raises(ValidationError, match=r"^--target: 2 objectives need a reference point"):
        run_fake(name, target="0.2")


def test_patience_with_min_delta(tmp_path):
    # 0.3 improves on 0.5 by more than 0.05; 0.29, 0.35 and 0.28 do not: three without improvement
    budget_clock.reset(losses=[0.5, 0.3, 0.29, 0.35, 0.28, 0.01])
    name = make_project(tmp_path, budget_clock.SCRIPT, UNI, trials=10)
    summary = run_fake(name, patience=3, min_delta=0.05)
    _, trials = study(name)
    assert len(trials) == 5 and summary.stopped_by == "patience"
    assert "no improvement of the best by more than 0.05 in the last 3 completed trials" in summary.stop_reason


def test_a_run_without_rules_records_no_stop_rules(tmp_path):
    name = make_project(tmp_path, budget_clock.SCRIPT, UNI, trials=2)
    summary = run_fake(name)
    info, trials = study(name)
    assert summary.stopped_by is None and ATTRS_KEY not in info.attrs and "cost_h" not in trials[0].annotations


@pytest.mark.parametrize("given, message", [
    ({"timeout": "soon"}, "--timeout: 'soon' is not a duration; give a number with a unit s, m, h or d"),
    ({"timeout": "0s"}, "--timeout: '0s' must be more than zero"),
    ({"max_cost": "-3gpu-h"}, "--max-cost: '-3gpu-h' is not a budget; give NUMBERcpu-h and/or NUMBERgpu-h"),
    ({"max_cost": "10tpu-h"}, "--max-cost: '10tpu-h' is not a budget"),
    ({"target": "high"}, "--target: 'high' is not a target"),
    ({"min_delta": 0.1}, "--min-delta: goes with patience N"),
])
def test_bad_rules_are_one_line_and_touch_nothing(tmp_path, given, message):
    name = make_project(tmp_path, budget_clock.SCRIPT, UNI, trials=2)
    with pytest.raises(ValidationError) as err:
        run_fake(name, **given)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert not paths.study_db(name).exists()


@pytest.mark.parametrize("args, message", [
    (["--timeout", "12 hours"], "Error: --timeout: '12 hours' is not a duration; give a number with a unit s, m, h or d"),
    (["--max-cost", "-1gpu-h"], "Error: --max-cost: '-1gpu-h' is not a budget; give NUMBERcpu-h and/or NUMBERgpu-h"),
])
def test_bad_rules_through_local_run_are_one_line_and_change_nothing(tmp_path, run_cli, args, message):
    from tests.conftest import tree_snapshot

    name = make_project(tmp_path, budget_clock.SCRIPT, UNI, trials=2)
    before = tree_snapshot(paths.home())
    r = run_cli("local_run", name, *args)
    assert r.exit_code == 1 and r.output.startswith(message) and r.output.count("\n") == 1, r.output
    assert tree_snapshot(paths.home()) == before


def test_hpo_config_holds_the_rules_and_refuses_a_target_without_a_reference_point(run_cli):
    r = run_cli("hpo_config", "create", "rules", "--timeout", "90m", "--max-cost", "200GPU-h", "--target", "0.9",
                "--patience", "20", "--min-delta", "0.001", "--timeout-action", "stop")
    assert r.exit_code == 0, r.output
    r = run_cli("hpo_config", "show", "rules")
    for text in ('"timeout": "90m"', '"max_cost": "200gpu-h"', '"target": [', '"patience": 20', '"min_delta": 0.001',
                 '"timeout_action": "stop"'):
        assert text in r.output.replace("\n      ", " "), r.output
    r = run_cli("hpo_config", "create", "two", "--metric", "loss,latency", "--mode", "min,min", "--algorithm",
                "optuna", "--target", "0.1")
    assert r.exit_code != 0 and r.output.count("\n") == 1, r.output
    assert "target: 2 objectives need a reference point to dominate, one number each, e.g. 0.5,0.5" in r.output
    assert run_cli("hpo_config", "show", "two").exit_code != 0  # nothing written


def test_a_rule_ends_the_run_without_interrupting_it_and_a_signal_still_escalates():
    import signal

    from hpogrid.engine import RunControl

    control = RunControl()
    control.end_by_rule("target", "target 0.1 reached")
    assert control.draining and control.ending and not control.stopping and not control.interrupted
    control.end_by_rule("timeout", "later")  # the first rule is the one recorded
    assert (control.rule, control.rule_reason) == ("target", "target 0.1 reached")
    control.on_signal(signal.SIGQUIT)  # the user asks again: stop now
    assert control.stopping and control.interrupted
