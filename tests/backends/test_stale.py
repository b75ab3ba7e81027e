"""Nothing shows RUNNING forever: trials of a dead run become INTERRUPTED when read, while a
live run's trials - however long they stay silent - keep running (its heartbeat)."""
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from hpogrid import paths
from hpogrid.backends import RunOptions, get_backend
from hpogrid.project import load_project
from hpogrid.study import StudyStore, sqlite_url
from tests.conftest import REPO
from tests.backends.helpers import make_project, trials_so_far

UNI = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
LONG_AGO = datetime.now(timezone.utc) - timedelta(hours=3)


def _store(name):
    return StudyStore(sqlite_url(paths.study_db(name)))


def _seed_dead_trial(store, study, uid, backend="local"):
    """A trial as a run killed with -9 leaves it: RUNNING, silent for hours."""
    store.upsert_trial(study, uid, state="RUNNING", params={"x": 0.25}, backend=backend,
                       started_at=LONG_AGO, heartbeat_at=LONG_AGO)


def test_report_shows_a_dead_runs_trial_as_interrupted(tmp_path, run_cli):
    name = make_project(tmp_path, "def objective(config):\n    return config['x']\n", UNI, trials=3)
    store = _store(name)
    store.get_or_create_study(name, metric="loss", mode="min")
    store.upsert_trial(name, "done", state="COMPLETED", params={"x": 0.5}, metrics={"loss": 0.5}, backend="local")
    _seed_dead_trial(store, name, "dead")
    _seed_dead_trial(store, name, "dead-slurm", backend="slurm")
    store.upsert_trial(name, "alive", state="RUNNING", params={"x": 0.75}, backend="local")  # beat just now
    _seed_dead_trial(store, name, "grid", backend="panda")  # grid trials have no heartbeat: left alone
    r = run_cli("report", name)
    assert r.exit_code == 0, r.output
    states = {t.uid: t for t in store.trials(name)}
    assert states["dead"].state == states["dead-slurm"].state == "INTERRUPTED"
    assert states["dead"].error.startswith("no heartbeat for ") and states["dead"].finished_at is not None
    assert states["alive"].state == "RUNNING" and states["grid"].state == "RUNNING"
    assert states["done"].state == "COMPLETED"
    assert "INTERRUPTED" in r.output and "RUNNING" in r.output, r.output


def test_bad_stale_timeout_is_one_line(tmp_path, run_cli, monkeypatch):
    name = make_project(tmp_path, "def objective(config):\n    return config['x']\n", UNI, trials=1)
    store = _store(name)
    store.get_or_create_study(name, metric="loss", mode="min")
    store.upsert_trial(name, "done", state="COMPLETED", params={"x": 0.5}, metrics={"loss": 0.5})
    monkeypatch.setenv("HPOGRID_STALE_AFTER_S", "soon")
    r = run_cli("report", name)
    assert r.exit_code == 1 and r.output.strip() == (
        "Error: HPOGRID_STALE_AFTER_S: expected a number of seconds > 0, got 'soon'"), r.output


WAITS = """
import os, time

def objective(config):
    flag = os.environ.get("HPOGRID_TEST_WAIT_FOR")
    while flag and not os.path.exists(flag):  # silent: reports nothing while it waits
        time.sleep(0.2)
    return config["x"]
"""


@pytest.mark.slow
def test_a_live_silent_trial_stays_running_while_readers_mark_dead_ones(tmp_path, hpogrid_home, run_cli,
                                                                        monkeypatch):
    stale = 8.0  # heartbeats every 2 s: a loaded machine may delay a few without a false "dead"
    monkeypatch.setenv("HPOGRID_STALE_AFTER_S", str(stale))
    monkeypatch.delenv("HPOGRID_TEST_WAIT_FOR", raising=False)
    name = make_project(tmp_path, WAITS, UNI, trials=1, scheduler="fifo")
    flag = tmp_path / "go"
    env = {**os.environ, "HPOGRID_HOME": str(hpogrid_home), "HPOGRID_TEST_WAIT_FOR": str(flag)}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    # the fake backend: heartbeats are the engine's, the same under every backend
    live = subprocess.Popen([sys.executable, "-m", "tests.engine.runner", "fake", name], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not trials_so_far(name, states=["RUNNING"]):
            time.sleep(0.3)
        (waiting,) = trials_so_far(name, states=["RUNNING"])
        store = _store(name)
        # silent (it reports nothing) for longer than the stale timeout: the row shows the run's
        # heartbeats carried it past that timeout, counted from the trial's start
        while time.time() < deadline and waiting.heartbeat_at - waiting.started_at <= timedelta(seconds=stale):
            assert live.poll() is None, live.communicate()[1][-2000:]
            time.sleep(0.2)
            waiting = store.trial(name, waiting.uid)
        assert waiting.state == "RUNNING" and waiting.heartbeat_at - waiting.started_at > timedelta(seconds=stale)
        _seed_dead_trial(store, name, "dead")
        # another local_run on the same study: marks the dead run's trial, not the live one's
        summary = get_backend("fake").run(load_project(name), RunOptions(progress=False))
        assert summary.counts["COMPLETED"] == 1
        assert any("1 trial(s) of a run that stopped sending heartbeats" in n for n in summary.notes)
        assert store.trial(name, "dead").state == "INTERRUPTED"
        assert store.trial(name, waiting.uid).state == "RUNNING"
        r = run_cli("report", name)  # and so does the report
        assert r.exit_code == 0, r.output
        assert store.trial(name, waiting.uid).state == "RUNNING"
        assert live.poll() is None
        flag.touch()
        out, err = live.communicate(timeout=120)
    finally:
        if live.poll() is None:
            live.kill()
    assert live.returncode == 0, err[-2000:]
    final = store.trial(name, waiting.uid)
    assert final.state == "COMPLETED" and final.error is None
    assert sorted(t.state for t in store.trials(name)) == ["COMPLETED", "COMPLETED", "INTERRUPTED"]
