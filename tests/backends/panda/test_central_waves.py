"""Multi-fidelity on a central grid search (``run --search central`` with ``asynchyperband``):
successive halving in waves of grid tasks, through the real panda-client and the loopback
PanDA server executing every job. The first wave runs every point at the first rung's budget,
each later wave only the points promoted from the rung before, with the next budget; the study
records each point's rungs and its per-iteration values. Deterministic: the learning curves are
fixed functions of the point, and a wave starts only once the one before it has ended."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from hpogrid import paths
from hpogrid.backends.panda import load_submissions
from hpogrid.study import StudyStore, sqlite_url
from tests.backends.helpers import trials_so_far
from tests.conftest import REPO

pytestmark = pytest.mark.slow
SPACE = {"a": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
         "b": {"method": "uniform", "dimension": {"low": 0, "high": 3}}}
# loss(step) = a + b / step: curves cross, so who is best depends on the budget
SCRIPT = """
import hpogrid.trial

def objective(config):
    for step in range(1, 1000):  # the budget (the trial's stop) ends it
        if hpogrid.trial.report(step, loss=config["a"] + config["b"] / step):
            return
"""
BUDGETS = (1, 3, 9)
RUN = ("--search", "central", "--trials", "9", "--n_jobs", "3", "--trials_per_job", "3")


def _loss(t, step):
    return t.params["a"] + t.params["b"] / step


def make_waves_project(run_cli, tmp_path, name, script, space, rungs):
    """Project ``name``: ``script``'s ``objective`` over ``space``, ASHA with ``rungs`` (its
    ``max_t`` is the stop), a grid_config for the test site: what a central search in waves runs."""
    (tmp_path / "train.py").write_text(textwrap.dedent(script))
    for cmd in [("model_config", "create", "m", "--script", "train.py", "--model", "objective"),
                ("search_space", "create", "s", json.dumps(space)),
                ("hpo_config", "create", "h", "--algorithm", "random", "--metric", "loss", "--mode", "min",
                 "--scheduler", "asynchyperband", "--scheduler_param", json.dumps(rungs),
                 "--stop", json.dumps({"training_iteration": rungs["max_t"]})),
                ("grid_config", "create", "g", "--site", "ANALY_TEST", "--container", "docker://hpogrid:test"),
                ("project", "create", name, "--scripts_path", tmp_path / "train.py", "--model_config", "m",
                 "--search_space", "s", "--hpo_config", "h", "--grid_config", "g")]:
        r = run_cli(*cmd)
        assert r.exit_code == 0, r.output


def _make(panda_server, monkeypatch, run_cli, tmp_path):
    monkeypatch.setenv("RUCIO_ACCOUNT", "alice")
    monkeypatch.setenv("HPOGRID_GRID_POLL_S", "0.3")
    make_waves_project(run_cli, tmp_path, "wv", SCRIPT, SPACE, {"grace_period": 1, "reduction_factor": 3, "max_t": 9})


def test_waves_run_promoted_points_at_growing_budgets(panda_server, monkeypatch, run_cli, tmp_path):
    _make(panda_server, monkeypatch, run_cli, tmp_path)
    r = run_cli("run", "wv", *RUN, "--seed", "5")
    assert r.exit_code == 0, r.output
    assert ("asynchyperband as waves of grid tasks: 9 point(s) at training_iteration=1, 3 point(s) at "
            "training_iteration=3, 1 point(s) at training_iteration=9") in r.output, r.output
    _check_waves(run_cli, panda_server)


def _check_waves(run_cli, panda_server):
    """Every point ran at the first rung, the promoted ones at the later rungs, each in one task."""
    with StudyStore(sqlite_url(paths.study_db("wv"))) as store:
        got = sorted(store.trials("wv"), key=lambda t: t.number)
    assert len(got) == 9 and [t.state for t in got] == ["COMPLETED"] * 9, [t.error for t in got]

    # the waves, one task each: 3 jobs of 3 points at budget 1, then 1 job of the 3 promoted, then 1 of the 1
    subs = sorted(load_submissions(paths.project_dir("wv")), key=lambda s: s.task_id)
    waves = [sorted(subs[0].extra["uids"]), subs[1].extra["uids"], subs[2].extra["uids"]]
    assert len(subs) == len(panda_server.tasks) == 3 and waves[0] == sorted(t.uid for t in got)
    assert [s.n_jobs for s in subs] == [len(t.latest_jobs()) for t in panda_server.tasks.values()] == [3, 1, 1]
    # promoted: the best third at each rung, by the value the point had there
    by_uid = {t.uid: t for t in got}
    expect1 = sorted(got, key=lambda t: _loss(t, 1))[:3]
    expect2 = sorted(expect1, key=lambda t: _loss(t, 3))[:1]
    assert sorted(waves[1]) == sorted(t.uid for t in expect1)
    assert waves[2] == [expect2[0].uid]

    for t in got:
        reached = [r for r, members in enumerate(waves) if t.uid in members]
        rec = t.annotations["rungs"]
        # each rung it ran at, with its budget, its value there and the task that ran it
        assert [e["rung"] for e in rec] == reached and [e["budget"] for e in rec] == [BUDGETS[r] for r in reached]
        for e in rec:
            assert e["state"] == "COMPLETED" and e["value"] == pytest.approx(_loss(t, e["budget"]))
            assert e["task"] in {s.taskname for s in subs if t.uid in s.extra["uids"]}
        top = BUDGETS[reached[-1]]
        # the per-iteration values up to its last budget; its result is the value there
        assert [i["training_iteration"] for i in t.intermediate] == list(range(1, top + 1))
        assert [i["loss"] for i in t.intermediate] == pytest.approx([_loss(t, s) for s in range(1, top + 1)])
        assert t.metrics["loss"] == pytest.approx(_loss(t, top))
        # a point left below max_t is stopped early at its budget; the last one ran to the end
        assert t.stopped_at == (None if top == 9 else top)
    # report: the point that reached max_t names its rungs, the others where they were left
    r = run_cli("report", "wv")
    assert r.exit_code == 0, r.output
    rows = {int(line.split()[0]): line for line in r.output.splitlines() if line.strip()[:1].isdigit()}
    for t in got:
        top = BUDGETS[[r for r, members in enumerate(waves) if t.uid in members][-1]]
        shown = "COMPLETED (rungs 1,3,9)" if top == 9 else f"COMPLETED (stopped at {top})"
        assert shown in rows[t.number], r.output


def test_a_driver_killed_during_a_wave_is_taken_over_by_resume(panda_server, monkeypatch, run_cli, tmp_path):
    """The driver dies (kill -9) while the second wave's task waits in PanDA: --resume follows
    that task (never submitted again), records its points at the second rung, and runs the last."""
    _make(panda_server, monkeypatch, run_cli, tmp_path)
    panda_server.max_parallel_jobs = 3
    panda_server.hold_endings = True  # the first wave's jobs end only when released
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    driver = subprocess.Popen([sys.executable, "-m", "hpogrid", "run", "wv", *RUN, "--seed", "5"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def until(what, done):
        deadline = time.monotonic() + 120
        while not done():
            assert driver.poll() is None, driver.stderr.read().decode()
            assert time.monotonic() < deadline, f"never: {what}"
            time.sleep(0.05)

    until("the first wave's payloads exited", lambda: panda_server.exited_payloads() == 3)
    panda_server.max_parallel_jobs = 0  # the second wave's job will wait in PanDA
    panda_server.hold_endings = False
    until("the second wave submitted", lambda: len(load_submissions(paths.project_dir("wv"))) == 2)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    promoted = load_submissions(paths.project_dir("wv"))[-1].extra["uids"]
    assert {t.state for t in trials_so_far("wv") if t.uid in promoted} == {"PENDING"}
    panda_server.max_parallel_jobs = 3
    r = run_cli("run", "wv", *RUN, "--resume")
    assert r.exit_code == 0, r.output
    _check_waves(run_cli, panda_server)
