"""Issue #34 item 1: Ctrl-C on the pool backend stops every running worker at once, waits for
them together (one grace period, not one per worker), and a second Ctrl-C kills them (their
process groups, the user's child processes too) without waiting; the trials are recorded
INTERRUPTED and ``--resume`` runs them again.

Real processes through the CLI: the model writes a marker once it runs, so the signal is sent
when all workers are busy (never guessed from the clock). The model ignores SIGTERM, the worst
case: only the grace period or the second signal ends it. The time bounds are generous; what
they tell apart is one grace period (5 s) from one per worker (4 x 5 s) and from none at all.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpogrid.backends.pool import TERM_GRACE_S
from tests.waiting import wait_for

WORKERS = 4

MODEL = """
import os, pathlib, signal, subprocess, sys, time

MARKS = pathlib.Path({marks!r})

def model(config):
    if (MARKS / "hold").exists():  # the first run: hold until stopped; --resume: finish at once
        pid = os.getpid()
        signal.signal(signal.SIGTERM, lambda *a: (MARKS / f"term-{{pid}}").touch())
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        (MARKS / f"child-{{pid}}").write_text(str(child.pid))
        (MARKS / f"run-{{pid}}").touch()
        end = time.monotonic() + 30
        while time.monotonic() < end:
            time.sleep(0.05)
    return {{"loss": config["x"]}}
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def held_run(run_cli, hpogrid_home, scripts, configs, tmp_path):
    """Start ``local_run p --n_jobs 4`` of 4 held trials in another process; returns it once
    all 4 workers run their trial, with the marker folder."""
    marks = tmp_path / "marks"
    marks.mkdir()
    (marks / "hold").touch()
    (scripts / "m.py").write_text(MODEL.format(marks=str(marks)))
    r = run_cli("project", "create", "p", "--scripts_path", scripts, "--model_config", "m",
                "--search_space", "sp", "--hpo_config", "h")
    assert r.exit_code == 0, r.output
    env = {**os.environ, "HPOGRID_HOME": str(hpogrid_home),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "hpogrid", "local_run", "p", "--n_jobs", str(WORKERS),
                             "--trials", str(WORKERS)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        wait_for(lambda: len(list(marks.glob("run-*"))) == WORKERS, proc, "4 running workers", poll=0.05)
        yield proc, marks
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        for child in marks.glob("child-*"):
            try:
                os.kill(int(child.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def _ended_interrupted_and_resumes(run_cli, proc, marks, output):
    assert proc.returncode == 130, output
    assert "--resume" in output and "Traceback" not in output, output
    from hpogrid import paths
    from hpogrid.study.engine import sqlite_url
    from hpogrid.study.store import StudyStore

    with StudyStore(sqlite_url(paths.study_db("p")), access="read") as store:
        assert sorted(t.state for t in store.trials("p")) == ["INTERRUPTED"] * WORKERS
    children = [int(c.read_text()) for c in marks.glob("child-*")]
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in children), "a worker's child process outlived the run"
    (marks / "hold").unlink()
    r = run_cli("local_run", "p", "--resume", "--n_jobs", str(WORKERS), "--trials", str(WORKERS))
    assert r.exit_code == 0, r.output
    with StudyStore(sqlite_url(paths.study_db("p")), access="read") as store:
        assert sorted(t.state for t in store.trials("p")) == ["COMPLETED"] * WORKERS


def test_ctrl_c_waits_for_all_workers_together(run_cli, held_run):
    proc, marks = held_run
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    took = time.monotonic() - sent
    # one shared grace period (plus start-up of the final table), never one per worker
    assert TERM_GRACE_S <= took + 0.5 and took < (WORKERS - 1) * TERM_GRACE_S - 3, (took, output)
    assert len(list(marks.glob("term-*"))) == WORKERS  # all were asked to stop
    _ended_interrupted_and_resumes(run_cli, proc, marks, output)


def test_a_second_ctrl_c_stops_waiting_and_kills_the_workers(run_cli, held_run):
    proc, marks = held_run
    proc.send_signal(signal.SIGINT)
    # the first signal reached every worker (SIGTERM, which the model ignores): now the second
    wait_for(lambda: len(list(marks.glob("term-*"))) == WORKERS, proc, "SIGTERM to every worker", poll=0.05)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    took = time.monotonic() - sent
    assert took < TERM_GRACE_S, (took, output)  # it did not wait out the grace period
    _ended_interrupted_and_resumes(run_cli, proc, marks, output)
