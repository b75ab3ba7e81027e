"""The engine's early stopping (ASHA, median stopping): the same trials stop at the same steps on
every backend, a stopped trial says so, and the pool runs it without Ray.

The workload is fixed: nine configurations (a grid, one trial each, one at a time), each a
learning curve ``loss(step) = final * (1 + a / step)`` reported with ``hpogrid.trial.report``.
"""
import os
import subprocess
import sys

import pytest

from hpogrid.backends import RunOptions, get_backend
from hpogrid.engine.early_stop import AsyncHyperBand, MedianStopping
from hpogrid.project import load_project
from tests.backends.helpers import trials_so_far
from tests.conftest import REPO
from tests.projects import make_project as _make


def make_project(tmp_path, script, space, **hpo):
    # its own module name: the fake backend imports models in the test process, where other
    # tests' lingering trial threads may be importing their own train.py
    return _make(tmp_path, "", space, model={"script": "curves.py", "model": "objective"},
                 files={"curves.py": script}, **hpo)

CURVES = """
from hpogrid.trial import report, should_stop

#: config -> (final value, how slowly it gets there)
CURVES = {0: (1.0, 4.0), 1: (0.5, 1.0), 2: (2.0, 0.5), 3: (0.8, 8.0), 4: (0.3, 6.0),
          5: (1.5, 0.1), 6: (0.6, 2.0), 7: (0.9, 0.2), 8: (0.4, 3.0)}

def objective(config):
    final, a = CURVES[config["c"]]
    for step in range(1, 100):
        if report(step, loss=final * (1 + a / step)):
            assert should_stop()
            return
"""
GRID = {"c": {"method": "categorical", "dimension": {"categories": list(range(9)), "grid_search": 1}}}
SCHEDULERS = {
    "asynchyperband": {"max_t": 27, "grace_period": 1, "reduction_factor": 3},
    "median": {"grace_period": 2, "min_samples_required": 2},
}


def run_workload(tmp_path, backend, scheduler):
    name = make_project(tmp_path, CURVES, GRID, algorithm="tune", trials=9, scheduler=scheduler,
                        scheduler_param=SCHEDULERS[scheduler], stop={"training_iteration": 27})
    summary = get_backend(backend).run(load_project(name), RunOptions(progress=False, n_jobs=1))
    got = trials_so_far(name)
    assert len(got) == 9 and {t.state for t in got} == {"COMPLETED"}, [t.error for t in got]
    return summary, {t.params["c"]: t for t in got}


def stops(by_config):
    """config -> the iteration it was stopped at (only trials stopped early)."""
    out = {}
    for c, t in by_config.items():
        note = t.annotations.get("stopped_early")
        if note:
            assert note["by"] and len(t.intermediate) == note["at"], (c, note, len(t.intermediate))
            out[c] = note["at"]
        else:
            assert len(t.intermediate) == 27, (c, len(t.intermediate))  # ran to its stop criterion
    return out


@pytest.mark.parametrize("scheduler", list(SCHEDULERS))
def test_the_same_trials_stop_at_the_same_steps_on_fake_and_pool(tmp_path, hpogrid_home, scheduler):
    summary, fake = run_workload(tmp_path, "fake", scheduler)
    assert summary.scheduler == scheduler
    _, pool = run_workload(tmp_path, "pool", scheduler)
    stopped = stops(fake)
    assert stopped == stops(pool)
    assert 0 < len(stopped) < 9  # some hopeless trials were stopped, the best one never
    best = min(fake, key=lambda c: fake[c].metrics["loss"])
    assert best not in stopped and best == 4
    # a stopped trial's result is its last report
    for c in stopped:
        assert fake[c].metrics["loss"] == fake[c].intermediate[-1]["loss"]


def test_asha_stops_where_the_rule_says(tmp_path, hpogrid_home):
    _, fake = run_workload(tmp_path, "fake", "asynchyperband")
    # the first trial (config 0) passes every rung: nobody was there before it; config 2 is
    # the worst at step 1 of all that came before and stops at the first rung
    assert 0 not in stops(fake) and stops(fake)[2] == 1


def test_report_shows_where_a_trial_was_stopped(tmp_path, hpogrid_home):
    from click.testing import CliRunner

    from hpogrid.cli import cli
    from hpogrid.cli.report import report

    _, fake = run_workload(tmp_path, "fake", "asynchyperband")
    name = load_project_name(fake)
    had = "report" in cli.commands
    cli.add_command(report, "report")
    try:
        r = CliRunner().invoke(cli, ["report", name], prog_name="hpogrid")
    finally:
        if not had:
            cli.commands.pop("report", None)
    assert r.exit_code == 0, r.output
    assert "COMPLETED (stopped at 1)" in r.output  # config 2
    assert fake[2].shown_state == "COMPLETED (stopped at 1)" and fake[4].shown_state == "COMPLETED"


DEFINE_BY_RUN = """
def objective(trial):
    c = trial.suggest_categorical("c", list(range(9)))
    final, a = {0: (1.0, 4.0), 1: (0.5, 1.0), 2: (2.0, 0.5), 3: (0.8, 8.0), 4: (0.3, 6.0),
                5: (1.5, 0.1), 6: (0.6, 2.0), 7: (0.9, 0.2), 8: (0.4, 3.0)}[c]
    for step in range(1, 100):
        trial.report(final * (1 + a / step), step)
        if trial.should_prune():  # (the report ends the trial when it is stopped, as tune.report does)
            raise AssertionError("not reached")
"""


@pytest.mark.parametrize("backend", ["fake", "pool"])
def test_a_define_by_run_model_is_stopped_by_its_report(tmp_path, hpogrid_home, backend):
    name = make_project(tmp_path, DEFINE_BY_RUN, GRID, algorithm="tune", trials=9, scheduler="asynchyperband",
                        scheduler_param=SCHEDULERS["asynchyperband"], stop={"training_iteration": 27})
    get_backend(backend).run(load_project(name), RunOptions(progress=False, n_jobs=1))
    got = {t.uid: t for t in trials_so_far(name)}  # (a define-by-run model draws its own c)
    assert len(got) == 9 and {t.state for t in got.values()} == {"COMPLETED"}, [t.error for t in got.values()]
    assert 0 < len(stops(got)) < 9


def load_project_name(by_config) -> str:
    return next(iter(by_config.values())).study


def test_asha_rule_brackets_and_percentile():
    rule = AsyncHyperBand(max_t=9, grace_period=1, reduction_factor=3)
    assert rule.rungs == [[1, 3, 9]]
    curves = {"a": [(1.0, -1.0)], "b": [(1.0, -2.0)], "c": [(1.0, -3.0)]}
    assert not rule.decide("a", {"a": curves["a"]}).stop  # alone at the rung
    assert rule.decide("c", curves).stop and rule.decide("c", curves).early
    assert not rule.decide("a", curves).stop
    # reaching max_t ends the trial, but it was not stopped early
    done = rule.decide("a", {"a": [(float(t), -1.0) for t in range(1, 10)]})
    assert done.stop and not done.early
    assert len(AsyncHyperBand(max_t=27, grace_period=1, reduction_factor=3, brackets=3).rungs) == 3


def test_median_rule_needs_samples_and_waits_for_the_grace_period():
    rule = MedianStopping(grace_period=1, min_samples_required=2)
    good = [(1.0, -1.0), (2.0, -1.0)]
    bad = [(1.0, -5.0), (2.0, -5.0)]
    assert not rule.decide("x", {"x": bad, "a": good}).stop  # one other trial: too few
    assert rule.decide("x", {"x": bad, "a": good, "b": good}).stop
    assert rule.decide("x", {"x": bad[:1], "a": good, "b": good}).stop  # from the grace period on (as Ray)
    assert not MedianStopping(grace_period=2, min_samples_required=2).decide(
        "x", {"x": bad[:1], "a": good, "b": good}).stop  # before it


def test_local_run_with_asha_runs_on_the_pool_without_ray(tmp_path, hpogrid_home):
    name = make_project(tmp_path, CURVES, GRID, algorithm="tune", trials=9, scheduler="asynchyperband",
                        scheduler_param=SCHEDULERS["asynchyperband"], stop={"training_iteration": 27})
    code = ("import sys; from hpogrid.backends import RunOptions, get_backend; "
            "from hpogrid.project import load_project; "
            f"s = get_backend('local').run(load_project({name!r}), RunOptions(n_jobs=2, progress=False)); "
            "print(s.counts['COMPLETED'], s.backend, s.scheduler, "
            "sorted(m for m in sys.modules if m.split('.')[0] == 'ray'))")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "HPOGRID_HOME": str(hpogrid_home)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["9", "pool", "asynchyperband", "[]"], r.stdout
    assert any(t.annotations.get("stopped_early") for t in trials_so_far(name))


@pytest.mark.parametrize("scheduler, params, message", [
    ("asynchyperband", {"grace_period": 50, "max_t": 10}, "grace_period (50) must not exceed max_t (10)"),
    ("asynchyperband", {"reduction_factor": 1}, "reduction_factor must be at least 2 (got 1)"),
    ("asynchyperband", {"rungs": 3}, "key 'rungs' is unknown for 'asynchyperband'; allowed: max_concurrent, "),
    ("median", {"min_samples_required": 0}, "min_samples_required must be a positive integer (got 0)"),
    ("hyperband", {"reduction_factor": 1.5}, "reduction_factor must be at least 2 (got 1.5)"),
    ("hyperband", {"grace_period": 2}, "key 'grace_period' is unknown for 'hyperband'; allowed: max_concurrent, "),
    ("hyperband", {"max_t": 0.5}, "max_t must be at least 1 (got 0.5)"),
])
def test_a_bad_scheduler_param_is_one_line_at_create(run_cli, hpogrid_home, scheduler, params, message):
    import json

    r = run_cli("hpo_config", "create", "x", "--scheduler", scheduler, "--scheduler_param", json.dumps(params),
                "--stop", json.dumps({"training_iteration": 10}))
    assert r.exit_code == 1 and r.output.startswith(f"Error: hpo_config.scheduler_param: {message}"), r.output
    assert r.output.count("\n") == 1


@pytest.mark.parametrize("scheduler", ["asynchyperband", "hyperband", "median", "pbt"])
def test_a_scheduler_with_a_stop_of_one_iteration_is_refused_at_create(run_cli, hpogrid_home, scheduler):
    from tests.conftest import tree_snapshot

    before = tree_snapshot(hpogrid_home)
    r = run_cli("hpo_config", "create", "x", "--scheduler", scheduler, "--algorithm", "random")
    assert r.exit_code == 1 and r.output.startswith(f"Error: hpo_config.scheduler: '{scheduler}' acts on "
                                                    "intermediate results, but stop"), r.output
    assert r.output.count("\n") == 1 and tree_snapshot(hpogrid_home) == before
    assert run_cli("hpo_config", "create", "x", "--scheduler", scheduler, "--algorithm", "random",
                   "--stop", '{"training_iteration": 5}').exit_code == 0
    assert run_cli("hpo_config", "create", "y").exit_code == 0  # the defaults: fifo, one iteration
    # an update that writes the pair anew is held to it too
    r = run_cli("hpo_config", "update", "y", "--scheduler", scheduler)
    assert r.exit_code == 1 and r.output.startswith("Error: hpo_config.scheduler:"), r.output
    assert run_cli("hpo_config", "update", "x", "--trials", "7").exit_code == 0


@pytest.mark.parametrize("scheduler", list(SCHEDULERS))
def test_a_second_run_of_the_study_stops_what_one_run_would(tmp_path, hpogrid_home, scheduler):
    """The rungs live in the study: a run that takes over after another (a resumed run, a
    second driver) judges its trials against the first one's curves."""
    points = [(f"t{c}", {"c": c}) for c in (3, 0, 7, 1, 5, 8, 2, 6, 4)]

    def study(*parts):
        name = make_project(tmp_path, CURVES, GRID, algorithm="tune", trials=9, scheduler=scheduler,
                            scheduler_param=SCHEDULERS[scheduler], stop={"training_iteration": 27})
        for part in parts:
            get_backend("fake").run(load_project(name), RunOptions(progress=False, n_jobs=1, points=part))
        got = {t.params["c"]: t for t in trials_so_far(name)}
        assert len(got) == 9 and {t.state for t in got.values()} == {"COMPLETED"}
        return stops(got)

    whole = study(points)
    assert whole and whole == study(points[:4], points[4:])


def test_with_several_objectives_the_scheduler_judges_the_named_one_in_its_direction():
    from types import SimpleNamespace

    from hpogrid.engine.early_stop import EarlyStopper
    from hpogrid.engine.options import RunOptions, RunSpec

    hpo = {"trials": 3, "algorithm": "random", "metric": ["a", "b"], "mode": ["min", "max"],
           "scheduler": "asynchyperband", "scheduler_param": {"metric": "b", "max_t": 9, "reduction_factor": 2},
           "stop": {"training_iteration": 9}}
    stopper = EarlyStopper.for_plan(SimpleNamespace(spec=RunSpec.from_hpo(hpo, RunOptions())))
    assert stopper.metric == "b" and stopper.rule.rungs == [[1, 2, 4, 8]]
    assert not stopper.decide("x", {"training_iteration": 1, "a": 9.0, "b": 0.9}).stop
    # b is maximised: a smaller b is the worse one (a is ignored)
    assert stopper.decide("y", {"training_iteration": 1, "a": 0.0, "b": 0.1}).stop
    assert stopper.stopped["y"]["at"] == 1
    # no early stopping where a trial reports once
    assert EarlyStopper.for_plan(SimpleNamespace(spec=RunSpec.from_hpo(
        {**hpo, "stop": {"training_iteration": 1}}, RunOptions()))) is None


# Ray Tune stops the same trials as the pool and the fake backend: test_scheduler_contract.py


@pytest.mark.parametrize("max_t, eta", [(81, 3), (27, 3), (100, 4), (16, 2), (10, 3)])
def test_hyperband_brackets_are_rays(max_t, eta):
    from ray.tune.schedulers import HyperBandScheduler

    from hpogrid.engine.early_stop import HyperBand

    ray = HyperBandScheduler(metric="x", mode="min", max_t=max_t, reduction_factor=eta)
    ours = HyperBand(max_t=max_t, reduction_factor=eta)
    expected = [(ray._get_n0(s), ray._get_r0(s)) for s in range(ray._s_max_1) if ray._get_r0(s) > 0]
    assert [(b.size, b.rungs[0]) for b in ours.band] == expected
    for b, s in zip(ours.band, (s for s in range(ray._s_max_1) if ray._get_r0(s) > 0)):
        assert len(b.rungs) == s + 1 and b.rungs[-1] <= max_t  # s halvings, as Ray's _Bracket
    # bands repeat: the first trial after a band starts its first bracket again
    assert ours.bracket_of(ours.band_size).start == ours.band_size and ours.bracket_of(ours.band_size).size == \
        ours.band[0].size


def test_hyperband_waits_until_its_answer_is_certain():
    from hpogrid.engine.early_stop import HyperBand

    rule = HyperBand(max_t=9, reduction_factor=3)
    # second bracket: positions 3-7, rung 3, the best 2 of 5 go on
    b = rule.bracket_of(3)
    assert (b.start, b.size, b.rungs, b.keep) == (3, 5, (3.0, 9.0), (2,))
    order = {f"p{i}": i for i in range(9)}
    none = frozenset()
    at3 = {"p3": [(3.0, -5.0)], "p4": [(3.0, -1.0)]}  # (signed: larger is better)
    # one better and three still to come: it may or may not be among the best two - it waits
    assert rule.decide("p3", at3, order, none, force=False).wait
    # two better: out, whatever the others do
    worse = rule.decide("p3", {**at3, "p5": [(3.0, -2.0)]}, order, none, force=False)
    assert worse.stop and worse.early
    # the best so far waits while three could still beat it; once they ended, it goes on
    assert rule.decide("p4", at3, order, none, force=False).wait
    done = rule.decide("p4", at3, order, frozenset({"p5", "p6", "p7"}), force=False)
    assert not done.stop and not done.wait
    # forced: among the best two of those there, it goes on
    forced = rule.decide("p3", at3, order, none, force=True)
    assert not forced.stop and not forced.wait
    # the bracket's last rung ends the trial, not early
    end = rule.decide("p4", {"p4": [(3.0, -1.0), (9.0, -0.5)]}, order, none, force=False)
    assert end.stop and not end.early
