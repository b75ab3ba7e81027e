"""The scheduler contract: one deterministic workload stops the same trials at the same steps on
every backend, exactly where the engine's rule says: each early-stopping scheduler the engine
applies (ASHA, synchronous Hyperband, median stopping) on the in-process backends, Hyperband on
Ray and Slurm.

The workload: nine configurations (a grid, fed in :data:`ORDER`, one trial at a time), each a
fixed learning curve ``loss(step) = final * (1 + a / step)`` reported with
``hpogrid.trial.report``. The expected stops come from the rule alone (:func:`expected`), so
each backend is checked against the same answer. A backend joins with one entry in
:data:`CASES` (and its options in :func:`run_on`).
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from hpogrid.backends import RunOptions, get_backend
from hpogrid.engine.early_stop import EarlyStopper, make_rule
from hpogrid.project import load_project
from tests.backends.helpers import trials_so_far
from tests.conftest import REPO
from tests.engine.conftest import backend_params
from tests.projects import make_project as _make

CURVES = {0: (1.0, 4.0), 1: (0.5, 1.0), 2: (2.0, 0.5), 3: (0.8, 8.0), 4: (0.3, 6.0),
          5: (1.5, 0.1), 6: (0.6, 2.0), 7: (0.9, 0.2), 8: (0.4, 3.0)}
SCRIPT = """
import os
import time

from hpogrid.trial import report

CURVES = {curves!r}
HOLD = {hold!r}  # a folder: config 4 waits there at step 5 until a file 'release' is in it


def objective(config):
    final, a = CURVES[config["c"]]
    for step in range(1, 100):
        if HOLD and config["c"] == 4 and step == 5 and not os.path.exists(os.path.join(HOLD, "release")):
            open(os.path.join(HOLD, "held"), "w").close()
            while not os.path.exists(os.path.join(HOLD, "release")):
                time.sleep(0.01)
        if report(step, loss=final * (1 + a / step)):
            return
"""
#: the order configurations start in (Hyperband's second bracket, positions 3-7, gets its two
#: best first, so even one trial at a time stops some)
ORDER = [0, 1, 2, 4, 7, 3, 5, 6, 8]
MAX_T = 9
SCHEDULERS = {
    "asynchyperband": {"max_t": MAX_T, "grace_period": 1, "reduction_factor": 3},
    "hyperband": {"max_t": MAX_T, "reduction_factor": 3},
    "median": {"grace_period": 2, "min_samples_required": 2},
}
#: every scheduler on the in-process backends; on Ray and Slurm one (Hyperband, whose waiting and
#: forced answers use the most of a backend's report/answer path): which trials stop is the
#: engine's rule, the same code for every scheduler, so more real runs would test nothing new
CASES = [pytest.param(scheduler, backend, marks=case.marks, id=f"{scheduler}-{backend}")
         for scheduler in ("asynchyperband", "hyperband", "median")
         for backend, case in zip(("fake", "pool", "ray", "slurm"), backend_params("fake", "pool", "ray", "slurm"))
         if backend in ("fake", "pool") or scheduler == "hyperband"]
#: small Slurm jobs polled quickly (ignored by the other backends)
SLURM = {"mem": "200M", "time": "5", "workers": 1, "poll_interval": 0.2}


def project(tmp_path, scheduler, order=ORDER, hold=None):
    grid = {"c": {"method": "categorical", "dimension": {"categories": list(order), "grid_search": 1}}}
    return _make(tmp_path, "", grid, model={"script": "contract.py", "model": "objective"},
                 files={"contract.py": SCRIPT.format(curves=CURVES, hold=hold and str(hold))}, algorithm="tune", trials=len(order), scheduler=scheduler,
                 scheduler_param=SCHEDULERS[scheduler], stop={"training_iteration": MAX_T}, slurm=SLURM)


def run_on(backend, name, n_jobs=1):
    if backend == "ray":
        from hpogrid.backends.local import LocalOptions

        return get_backend("local").run(load_project(name), LocalOptions(progress=False, n_jobs=n_jobs, ray=True))
    if backend == "slurm":  # one job per trial, n_jobs at once
        from hpogrid.backends.slurm import SlurmOptions

        return get_backend("slurm").run(load_project(name), SlurmOptions(progress=False, workers=n_jobs))
    return get_backend(backend).run(load_project(name), RunOptions(progress=False, n_jobs=n_jobs))


def stops(name):
    """config -> the iteration its trial was stopped at, of the trials stopped early; every
    other trial ran to its stop criterion."""
    got = trials_so_far(name)
    assert len(got) == len(CURVES) and {t.state for t in got} == {"COMPLETED"}, [t.error for t in got]
    out = {}
    for t in got:
        note = t.annotations.get("stopped_early")
        assert len(t.intermediate) == (note["at"] if note else MAX_T), (t.params, note, len(t.intermediate))
        if note:
            assert note["by"] and t.metrics["loss"] == t.intermediate[-1]["loss"]  # its last report
            out[t.params["c"]] = note["at"]
    return out


def expected(scheduler, order=ORDER):
    """The stops the engine's rule gives with the trials run one after another in ``order``."""
    stopper = EarlyStopper(make_rule(scheduler, SCHEDULERS[scheduler]), "loss", "min", scheduler)
    out = {}
    for c in order:
        uid = f"t{c}"
        stopper.restart(uid)
        final, a = CURVES[c]
        for step in range(1, MAX_T + 1):
            if stopper.decide(uid, {"training_iteration": step, "loss": final * (1 + a / step)}, force=True).stop:
                break
        stopper.finish(uid)
        if uid in stopper.stopped:
            out[c] = stopper.stopped[uid]["at"]
    return out


def test_the_expected_stops_are_not_trivial():
    for scheduler in SCHEDULERS:
        assert 0 < len(expected(scheduler)) < len(CURVES) - 1, scheduler
    assert expected("hyperband") == {3: 3, 5: 3, 6: 3}  # the bracket's two best (4, 7) go on


@pytest.mark.parametrize("scheduler, backend", CASES, indirect=["backend"])
def test_every_backend_stops_the_same_trials_at_the_same_steps(tmp_path, hpogrid_home, backend, scheduler):
    name = project(tmp_path, scheduler)
    summary = run_on(backend, name)
    assert summary.scheduler == scheduler
    assert stops(name) == expected(scheduler)


@pytest.mark.parametrize("backend", ["fake", "pool"])
def test_hyperband_with_enough_workers_waits_for_the_whole_rung(tmp_path, hpogrid_home, backend):
    """Synchronous: in the order 0..8 the second bracket (configs 3-7) has its best two last, so
    one trial at a time stops none of them; with five workers the early ones wait at rung 3
    until the bracket is there, and the bracket's two best (4, 7) go on, as Hyperband says."""
    order = list(range(9))
    assert expected("hyperband", order) == {}
    name = project(tmp_path, "hyperband", order)
    run_on(backend, name, n_jobs=5)
    assert stops(name) == {3: 3, 5: 3, 6: 3}


@pytest.mark.parametrize("backend", ["fake", "pool"])
def test_hyperband_with_fewer_workers_than_its_bracket_does_not_wait_forever(tmp_path, hpogrid_home, backend):
    name = project(tmp_path, "hyperband", list(range(9)))
    run_on(backend, name, n_jobs=2)  # brackets of 5: the waiting trials are answered all the same
    stops(name)  # every trial ended, stopped or at its stop criterion


@pytest.mark.parametrize("scheduler", list(SCHEDULERS))
def test_a_killed_and_resumed_run_stops_what_one_run_stops(tmp_path, hpogrid_home, scheduler):
    """kill -9 the driver while the fourth trial (config 4) is half way, then --resume: it runs
    again from its start and every trial stops where the uninterrupted run stops it."""
    import json

    from click.testing import CliRunner

    from hpogrid.cli import cli

    hold = tmp_path / "hold"
    hold.mkdir()
    name = project(tmp_path, scheduler, hold=hold)
    # the points in ORDER, queued in the study: a resumed run takes up the ones not run yet
    r = CliRunner().invoke(cli, ["enqueue", name, json.dumps([{"c": c} for c in ORDER])], prog_name="hpogrid",
                           env={"HPOGRID_HOME": str(hpogrid_home)})
    assert r.exit_code == 0, r.output
    env = {**os.environ, "HPOGRID_HOME": str(hpogrid_home),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    args = [sys.executable, "-m", "tests.engine.runner", "fake", name, "--n_jobs", "1"]
    proc = subprocess.Popen(args, env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "stderr", "w"))
    try:
        deadline = time.monotonic() + 120
        while not (hold / "held").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (hold / "held").exists(), (tmp_path / "stderr").read_text()[-2000:]
        # the results of the three trials before it are written by a background writer: wait
        # for them in the store (config 4 stays held), then kill it mid-trial
        while len(trials_so_far(name, states=["COMPLETED"])) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        (hold / "release").touch()
        if proc.poll() is None:
            proc.kill()
    done = {t.params["c"] for t in trials_so_far(name, states=["COMPLETED"])}
    assert done == set(ORDER[:3])  # killed with config 4 running
    r = subprocess.run(args + ["--resume"], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert stops(name) == expected(scheduler)
