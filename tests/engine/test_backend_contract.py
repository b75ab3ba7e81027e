"""The backend contract: every behaviour of a run, once, for every backend.

Each test runs over the fake backend (in-process threads), Ray Tune on this machine and the
real single-node Slurm. Tests synchronise on what trials write (marker files, rows in the
study), never on the clock.
"""
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from hpogrid import paths
from hpogrid.backends import RunOptions, get_backend
from hpogrid.configs import NamedStore
from hpogrid.errors import BackendError
from hpogrid.project import load_project
from hpogrid.study import StudyStore, sqlite_url
from tests.conftest import REPO
from tests.engine.conftest import backend_params
from tests.projects import make_project as make

ALL = backend_params("fake", "pool", "ray", "slurm")
UNI = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
#: small Slurm jobs polled quickly (ignored by the other backends)
SLURM = {"mem": "200M", "time": "5", "workers": 4, "poll_interval": 0.2}


def make_project(tmp_path: Path, script: str, space: dict, param: dict = None, **hpo) -> str:
    return make(tmp_path, script, space, prefix="c", param=param or {}, slurm=SLURM,
                grid={"site": "ANALY_TEST_GPU", "container": "docker://hpogrid:test"}, **{"scheduler": "fifo", **hpo})


def run(backend: str, name: str, **options):
    if backend == "slurm":
        from hpogrid.backends.slurm import SlurmOptions

        options["workers"] = options.pop("n_jobs", None)
        return get_backend(backend).run(load_project(name), SlurmOptions(progress=False, **options))
    return get_backend(backend).run(load_project(name), RunOptions(progress=False, **options))


def trials(name: str, states=None):
    db = paths.study_db(name)
    if not db.exists():
        return []
    try:
        return StudyStore(sqlite_url(db)).trials(name, states=states)
    except Exception:  # noqa: BLE001 - the file exists a moment before the study row
        return []


# -- trials, failures, stop criteria, annotations, seeds -------------------------------------------
RECORDING = """
from ray import tune
from hpogrid.trial import annotate

def objective(config):
    annotate("double", config["x"] * 2)
    if config["x"] > 0.6:
        raise ValueError(f"x too large: {config['x']:.4f}")
    for i in range(1, 10):
        tune.report({"loss": config["x"] / i, "step": i})
"""


@pytest.fixture(scope="module")
def fake_points(tmp_path_factory):
    """The points the fake backend draws for seed 11: every backend must draw the same."""
    home = tmp_path_factory.mktemp("fake-points")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HPOGRID_HOME", str(home))
        name = make_project(home, RECORDING, UNI, algorithm="random", trials=8, stop={"training_iteration": 3})
        run("fake", name, seed=11)
        return sorted(t.params["x"] for t in trials(name))


@pytest.mark.parametrize("backend", ALL, indirect=True)
def test_trials_are_recorded_with_params_metrics_errors_and_annotations(tmp_path, backend, fake_points):
    name = make_project(tmp_path, RECORDING, UNI, algorithm="random", trials=8, stop={"training_iteration": 3})
    summary = run(backend, name, seed=11, n_jobs=2)
    got = trials(name)
    assert len(got) == 8
    # the same seed gives the same random points on every backend
    assert sorted(t.params["x"] for t in got) == pytest.approx(fake_points)
    failed = [t for t in got if t.params["x"] > 0.6]
    assert failed and len(failed) < 8  # seed 11 draws both kinds
    for t in got:
        assert t.annotations["double"] == pytest.approx(2 * t.params["x"])
        if t.params["x"] > 0.6:  # a raising objective is FAILED with its error; the run went on
            assert t.state == "FAILED" and "ValueError: x too large" in t.error
        else:  # stopped by the stop criteria at iteration 3, each iteration recorded
            assert t.state == "COMPLETED", t.error
            assert t.metrics["loss"] == pytest.approx(t.params["x"] / 3) and t.metrics["step"] == 3
            assert [h["step"] for h in t.intermediate] == [1, 2, 3]
    assert summary.counts["FAILED"] == len(failed) and summary.counts["COMPLETED"] == 8 - len(failed)
    assert not summary.interrupted


@pytest.mark.slow
def test_grid_jobs_record_the_same_points_metrics_errors_and_annotations(tmp_path, panda_server, monkeypatch,
                                                                         run_cli, fake_points):
    """The grid: a task of one job on the PanDA test server, which executes it; its trials reach
    the study through `report` (job metadata carries no per-iteration history)."""
    monkeypatch.setenv("RUCIO_ACCOUNT", "alice")
    name = make_project(tmp_path, RECORDING, UNI, algorithm="random", trials=8, stop={"training_iteration": 3})
    r = run_cli("run", name, "--n_jobs", "1", "--seed", "10")  # PanDA numbers jobs from 1: seed 11
    assert r.exit_code == 0, r.output
    task = int(r.output.split()[2])
    assert panda_server.wait_task(task, timeout=300) == "done"
    r = run_cli("report", name)
    assert r.exit_code == 0, r.output
    got = trials(name)
    assert len(got) == 8 and {t.annotations["seed"] for t in got} == {11}
    assert sorted(t.params["x"] for t in got) == pytest.approx(fake_points)
    for t in got:
        assert t.annotations["double"] == pytest.approx(2 * t.params["x"]) and t.backend == "panda"
        if t.params["x"] > 0.6:
            assert t.state == "FAILED" and "ValueError: x too large" in t.error
        else:
            assert t.state == "COMPLETED", t.error
            assert t.metrics["loss"] == pytest.approx(t.params["x"] / 3) and t.metrics["step"] == 3


@pytest.mark.parametrize("backend", ALL, indirect=True)
def test_max_failures_stops_every_backend_with_the_same_message(tmp_path, backend):
    script = "def objective(config):\n    raise RuntimeError('always fails')\n"
    name = make_project(tmp_path, script, UNI, algorithm="random", trials=8, max_failures=1)
    with pytest.raises(BackendError) as info:
        run(backend, name, seed=1, n_jobs=1)
    assert str(info.value) == (f"stopped after 2 failed trials (hpo_config max_failures = 1); last error: "
                               f"RuntimeError: always fails; finished trials are kept in study '{name}'")
    got = trials(name)
    assert 2 <= len(got) < 8 and {t.state for t in got} <= {"FAILED", "INTERRUPTED"}
    for t in (t for t in got if t.state == "FAILED"):  # the user's exception, nothing of Ray or hpogrid
        assert t.error.startswith("Traceback (most recent call last):\n  File ") and "train.py\", line 2" in t.error
        assert t.error.endswith("RuntimeError: always fails"), t.error
        assert "\x1b" not in t.error and "Failure #" not in t.error and "ray::" not in t.error
        assert "site-packages" not in t.error and "/hpogrid/" not in t.error.replace(str(tmp_path), "")


CRASHING = """
import ctypes, os

def objective(config):
    if config["kind"] == "exit":
        os._exit(3)
    if config["kind"] == "segfault":
        ctypes.string_at(0)
    return {"loss": 1.0}
"""


@pytest.mark.parametrize("backend", backend_params("pool", "ray", "slurm"), indirect=True)
def test_a_trial_that_kills_its_process_is_failed_and_the_run_goes_on(tmp_path, backend):
    kinds = {"kind": {"method": "categorical", "dimension": {"categories": ["exit", "segfault", "ok"],
                                                              "grid_search": 1}}}
    name = make_project(tmp_path, CRASHING, kinds, algorithm="tune", trials=3)
    run(backend, name, n_jobs=1)  # one at a time: the trial after a crash runs in a new process
    states = {t.params["kind"]: t for t in trials(name)}
    assert states["ok"].state == "COMPLETED"
    for kind in ("exit", "segfault"):
        assert states[kind].state == "FAILED" and states[kind].error, kind


@pytest.mark.parametrize("backend", ALL, indirect=True)
def test_a_trial_without_the_metric_is_failed_and_says_what_it_reported(tmp_path, backend):
    script = "def objective(config):\n    return {'accuracy': 0.5}\n"
    name = make_project(tmp_path, script, UNI, algorithm="random", trials=1)
    run(backend, name, seed=1)
    [t] = trials(name)
    assert t.state == "FAILED"
    assert "the trial did not report metric 'loss' (it reported: accuracy)" in t.error


@pytest.mark.parametrize("backend", ALL, indirect=True)
def test_n_jobs_trials_run_at_once_and_never_more(tmp_path, backend):
    from tests.backends.helpers import BARRIER

    meet = tmp_path / "meet"
    meet.mkdir()
    name = make_project(tmp_path, BARRIER, UNI, param={"dir": str(meet), "n": 2, "total": 5},
                        algorithm="random", trials=5)
    run(backend, name, seed=2, n_jobs=2)
    got = trials(name)
    assert len(got) == 5 and {t.state for t in got} == {"COMPLETED"}, [t.error for t in got]
    # two trials met while running (parallel), and no trial ever saw a third one live
    assert max(t.metrics["peak"] for t in got) == 2


# -- signals and kill -9 -----------------------------------------------------------------------------
#: "quick" ends at once; "slow" marks that it started, then waits for the release file - on its
#: first start only: a re-run (of a resumed study) finds its earlier mark and ends at once
SIGNALLED = """
import os, time, uuid
from pathlib import Path
from hpogrid.trial import trial_uid

def objective(config):
    marks = Path(config["marks"])
    again = any(m.name.startswith(trial_uid() + ".") for m in marks.iterdir())
    (marks / f"{trial_uid()}.{uuid.uuid4().hex}").write_text(config["kind"])
    if config["kind"] == "slow" and not again:
        deadline = time.time() + 300
        while not (marks / "release").exists() and time.time() < deadline:
            time.sleep(0.05)
    return {"loss": 1.0 if config["kind"] == "slow" else 0.5}
"""
KINDS = {"kind": {"method": "categorical", "dimension": {"categories": ["quick", "slow", "slow2"],
                                                          "grid_search": 1}}}


def _signalled_project(tmp_path: Path):
    marks = tmp_path / "marks"
    marks.mkdir()
    script = SIGNALLED.replace('config["kind"] == "slow"', 'config["kind"].startswith("slow")')
    name = make_project(tmp_path, script, KINDS, param={"marks": str(marks)}, algorithm="tune", trials=3)
    return name, marks


def _start(backend: str, name: str, *extra: str, env_extra=None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "tests.engine.runner", backend, name, "--n_jobs", "2", *extra],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _started(marks: Path):
    """uid -> kind of every trial start so far (a re-run adds a second mark)."""
    out = {}
    for mark in marks.iterdir():
        if mark.name != "release":
            out.setdefault(mark.name.split(".")[0], []).append(mark.read_text())
    return out


def _wait(condition, proc: subprocess.Popen, what: str, limit: float = 240):
    deadline = time.monotonic() + limit
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended (exit {proc.returncode}) before {what}:\n{out[-2000:]}\n{err[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {what} within {limit} s")
        time.sleep(0.1)


def _two_slow_running_one_quick_done(name, marks, proc):
    _wait(lambda: sum(k[0].startswith("slow") for k in _started(marks).values()) == 2
          and len(trials(name, states=["COMPLETED"])) == 1, proc, "1 completed and 2 running trials")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("backend", ALL, indirect=True)
def test_sigint_and_sigterm_stop_now_running_trials_interrupted_finished_kept(tmp_path, backend, sig):
    name, marks = _signalled_project(tmp_path)
    proc = _start(backend, name)
    _two_slow_running_one_quick_done(name, marks, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err[-3000:]
    assert "Interrupted: finished trials are kept" in err
    states = sorted((t.params["kind"], t.state) for t in trials(name))
    assert states == [("quick", "COMPLETED"), ("slow", "INTERRUPTED"), ("slow2", "INTERRUPTED")]


@pytest.mark.parametrize("backend", ALL, indirect=True)
def test_sigquit_drains_running_trials_finish_and_none_starts(tmp_path, backend):
    name, marks = _signalled_project(tmp_path)
    NamedStore("hpo_config").update(name, {"trials": 6})  # more to do than the drained run starts
    from hpogrid.project import update_project

    update_project(name)
    drained = tmp_path / "drained"
    proc = _start(backend, name, env_extra={"HPOGRID_TEST_DRAINED": str(drained)})
    _two_slow_running_one_quick_done(name, marks, proc)
    proc.send_signal(signal.SIGQUIT)
    _wait(drained.exists, proc, "the driver taking in the drain")  # only then may the slow trials end
    (marks / "release").write_text("")
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err[-3000:]
    states = sorted((t.params["kind"], t.state) for t in trials(name))
    assert states == [("quick", "COMPLETED"), ("slow", "COMPLETED"), ("slow2", "COMPLETED")]
    assert len(_started(marks)) == 3


@pytest.mark.parametrize("backend", ALL, indirect=True)
def test_kill_9_then_resume_loses_nothing_and_reruns_each_lost_trial_once(tmp_path, backend):
    name, marks = _signalled_project(tmp_path)
    proc = _start(backend, name)
    _two_slow_running_one_quick_done(name, marks, proc)
    [done] = trials(name, states=["COMPLETED"])
    os.kill(proc.pid, signal.SIGKILL)  # the driver only: its Ray processes / Slurm jobs live on
    proc.communicate(timeout=60)
    # the killed run's slow trials still wait (Slurm jobs, orphaned Ray workers): resume must stop
    # them and run them again; their re-runs end at once
    summary = run(backend, name, resume=True, n_jobs=2)
    after = {t.uid: t for t in trials(name)}
    assert len(after) == 3 and {t.state for t in after.values()} == {"COMPLETED"}
    assert after[done.uid].finished_at == done.finished_at  # kept, not re-run
    starts = _started(marks)
    assert len(starts[done.uid]) == 1
    assert sorted(len(v) for uid, v in starts.items() if uid != done.uid) == [2, 2]  # each lost one: once more
    assert summary.counts["COMPLETED"] == 2
    assert any("resuming study" in n for n in summary.notes)
    # the dead driver's Ray processes were reaped by the resumed run (the Slurm jobs: scancelled)
    assert not _ray_processes_of_dead_drivers()


def _ray_processes_of_dead_drivers():
    """Processes running from a Ray folder of a driver that no longer exists."""
    found = set()
    for proc in os.listdir("/proc"):
        if not proc.isdigit():
            continue
        try:
            cmd = open(f"/proc/{proc}/cmdline", "rb").read().decode(errors="replace")
        except OSError:
            continue
        for part in cmd.split("/tmp/hpogrid-ray-")[1:]:
            driver = part.split("/")[0].split("\x00")[0]
            if driver.isdigit() and not os.path.exists(f"/proc/{driver}"):
                found.add(proc)
    return found
