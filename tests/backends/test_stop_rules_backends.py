"""Stop rules once per real backend (the rules themselves: tests/engine/test_stop_rules.py):
--patience on the pool through local_run, --timeout (stop and drain) and --max-cost on the pool,
--timeout on Ray Tune with a clock the trials move (files they write; nothing waits on time),
--target and --timeout with action stop on the real Slurm, whose GPUs (gres) and CPUs are what
a trial's cost is counted from, --patience and --max-cost on a Slurm worker pool; the central
grid search's are in tests/backends/panda/test_central.py."""
import os
import threading
import time
import uuid
from pathlib import Path

import pytest

from hpogrid import paths
from hpogrid.backends import RunOptions, get_backend
from hpogrid.budgets import ATTRS_KEY
from hpogrid.project import load_project
from hpogrid.study import StudyStore, sqlite_url
from tests.backends.helpers import make_project

UNI = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
CONSTANT = """
def objective(config):
    return {"loss": 1.0}
"""
#: each trial leaves a file in config["dir"]: the clock of FileClock
TOUCH = """
from pathlib import Path
import uuid

def objective(config):
    Path(config["dir"], uuid.uuid4().hex).touch()
    return {"loss": 1.0}
"""

#: each trial leaves a file in config["dir"] (the clock moves on an hour) and then holds until
#: the file config["release"] exists: it is provably running when the rules look
HOLD = """
import time
from pathlib import Path
import uuid

def objective(config):
    Path(config["dir"], uuid.uuid4().hex).touch()
    deadline = time.time() + 240
    while not Path(config["release"]).exists() and time.time() < deadline:
        time.sleep(0.05)
    return {"loss": 1.0}
"""


class FileClock:
    """One hour per file the trials wrote."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __call__(self) -> float:
        return 3600.0 * len(os.listdir(self.folder))


#: like HOLD, and says it runs with a file in config["started"] (no clock moves)
HOLD_SAYS = """
import time
from pathlib import Path
import uuid

def objective(config):
    Path(config["started"], uuid.uuid4().hex).touch()
    deadline = time.time() + 240
    while not Path(config["release"]).exists() and time.time() < deadline:
        time.sleep(0.05)
    return {"loss": 1.0}
"""


class MovedClock:
    """The test moves it: :meth:`move_when` sets it to ``at`` once ``ready()`` holds (a thread)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def move_when(self, ready, at: float) -> None:
        def wait():
            deadline = time.monotonic() + 180
            while not ready() and time.monotonic() < deadline:
                time.sleep(0.1)
            self.now = at

        threading.Thread(target=wait, daemon=True).start()


def running_in_jobs(name, folder, count):
    """``count`` trials run in their jobs (each said so in ``folder``) and the driver counts
    their cost (its sink recorded them RUNNING with the resources they hold)."""
    def ready():
        from tests.backends.helpers import trials_so_far

        held = [t for t in trials_so_far(name) if t.state == "RUNNING" and "resources" in (t.annotations or {})]
        return len(os.listdir(folder)) >= count and len(held) >= count
    return ready


def wait_out_of_squeue(job_ids):
    from tests.backends.slurm.helpers import in_squeue

    deadline = time.monotonic() + 60
    while in_squeue(job_ids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return in_squeue(job_ids)


def study(name):
    store = StudyStore(sqlite_url(paths.study_db(name)))
    return store.get_study(name), store.trials(name)


def test_patience_on_the_pool_through_local_run(tmp_path, run_cli):
    # the first trial sets the best, the next two do not improve it: patience 2 is used up
    name = make_project(tmp_path, CONSTANT, UNI, trials=10, algorithm="random")
    r = run_cli("local_run", name, "--n_jobs", "1", "--patience", "2")
    assert r.exit_code == 0, r.output
    assert "Stopped by the patience rule: patience 2: no improvement of the best in the last 2 completed" in r.output
    info, trials = study(name)
    assert len(trials) == 3 and info.attrs[ATTRS_KEY]["stopped_by"] == "patience"


def held_project(tmp_path, **hpo):
    """A project of HOLD trials, its clock and the file that releases them."""
    folder, release = tmp_path / "clock", tmp_path / "release"
    folder.mkdir()
    name = make_project(tmp_path, HOLD, UNI, param={"dir": str(folder), "release": str(release)}, algorithm="random",
                        **hpo)
    return name, FileClock(folder), release


def release_when_stopped(name, release, rule):
    """Releases the held trials once the study says ``rule`` ended the run (a thread)."""
    def wait():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if (study(name)[0].attrs.get(ATTRS_KEY) or {}).get("stopped_by") == rule:
                    break
            except Exception:  # (the study is not there yet)
                pass
            time.sleep(0.05)
        release.touch()

    threading.Thread(target=wait, daemon=True).start()


def test_timeout_stop_stops_the_pools_running_trials(tmp_path):
    # both workers' trials run (held) when the second moves the clock to 2h: past 1h30m, both are stopped
    name, clock, release = held_project(tmp_path, trials=10)
    try:
        summary = get_backend("local").run(load_project(name), RunOptions(
            progress=False, n_jobs=2, timeout="1h30m", timeout_action="stop", clock=clock))
    finally:
        release.touch()
    info, trials = study(name)
    assert summary.backend == "pool" and summary.stopped_by == "timeout" and not summary.interrupted
    assert [t.state for t in trials] == ["INTERRUPTED", "INTERRUPTED"]
    assert {t.error for t in trials} == {"run stopped: timeout 1h30m passed"}
    assert info.attrs[ATTRS_KEY]["stopped_by"] == "timeout"


def test_timeout_drain_lets_the_pools_running_trials_finish(tmp_path):
    # the same two held trials pass 1h30m; drained, they are released once the rule fired and complete
    name, clock, release = held_project(tmp_path, trials=10)
    release_when_stopped(name, release, "timeout")
    summary = get_backend("local").run(load_project(name), RunOptions(progress=False, n_jobs=2, timeout="1h30m",
                                                                      clock=clock))
    info, trials = study(name)
    assert summary.backend == "pool" and summary.stopped_by == "timeout" and not summary.interrupted
    assert [t.state for t in trials] == ["COMPLETED", "COMPLETED"]  # nothing new started after the timeout
    assert info.attrs[ATTRS_KEY]["described"] == ["timeout 1h30m (then drain)"]


def test_max_cost_ends_a_pool_run_by_its_cpu_hours(tmp_path):
    # each trial holds 2 CPUs (hpo_config resource): at 2h the two running trials have used at
    # least 6 cpu-h (at 1h at most 4: one CPU each would never reach 5), so they are stopped
    name, clock, release = held_project(tmp_path, trials=10, resource={"cpu": 2})
    try:
        summary = get_backend("local").run(load_project(name), RunOptions(progress=False, n_jobs=2,
                                                                          max_cost="5cpu-h", clock=clock))
    finally:
        release.touch()
    info, trials = study(name)
    assert summary.backend == "pool" and summary.stopped_by == "max_cost"
    assert [t.state for t in trials] == ["INTERRUPTED", "INTERRUPTED"]
    assert all(t.annotations["resources"] == {"cpu": 2.0, "gpu": 0.0} for t in trials)
    used = info.attrs[ATTRS_KEY]["used_h"]
    assert used["cpu"] >= 5 and used["cpu"] == pytest.approx(sum(t.annotations["cost_h"]["cpu"] for t in trials))


@pytest.mark.slow
def test_timeout_on_ray_tune(tmp_path):
    folder = tmp_path / "clock"
    folder.mkdir()
    name = make_project(tmp_path, TOUCH, UNI, param={"dir": str(folder)}, trials=10, algorithm="random",
                        scheduler_param={"max_concurrent": 1})
    # trial 1 ends at 1h; trial 2 starts before 1h30m, moves the clock to 2h and drains
    summary = get_backend("ray").run(load_project(name), RunOptions(progress=False, timeout="1h30m",
                                                                   clock=FileClock(folder)))
    info, trials = study(name)
    assert summary.stopped_by == "timeout" and not summary.interrupted
    assert sorted(t.state for t in trials) == ["COMPLETED", "COMPLETED"]


@pytest.mark.slow
def test_target_on_slurm_and_gpus_of_gres_are_the_trials_cost(tmp_path, slurm_cluster):
    from hpogrid.backends.slurm import SlurmOptions
    from hpogrid.backends.slurm._backend import slurm_settings
    from hpogrid.backends.slurm._sbatch import sbatch_argv
    from hpogrid.engine import Run, plan_search
    from hpogrid.study import StudyTarget

    slurm = {"mem": "200M", "time": "5", "workers": 1, "poll_interval": 0.2}
    name = make_project(tmp_path, CONSTANT, UNI, trials=5, algorithm="random", slurm=slurm)
    summary = get_backend("slurm").run(load_project(name), SlurmOptions(progress=False, target="2"))
    info, trials = study(name)
    assert summary.stopped_by == "target" and [t.state for t in trials] == ["COMPLETED"]
    assert trials[0].annotations["resources"] == {"cpu": 1.0, "gpu": 0.0}
    assert info.attrs[ATTRS_KEY]["used_h"]["gpu"] == 0

    # a trial of a project asking for 2 GPUs (gres) and 4 CPUs holds them in its job, and is charged them
    gpus = make_project(tmp_path, CONSTANT, UNI, trials=1, slurm={**slurm, "gres": "gpu:tesla:2", "cpus": 4})
    project = load_project(gpus)
    options = SlurmOptions(max_cost="10gpu-h")
    settings = slurm_settings(project, options)
    argv = sbatch_argv(settings, job_name="j", workdir=tmp_path, script=tmp_path / "s.sh", args=[])
    assert "--gres=gpu:tesla:2" in argv and "--cpus-per-task=4" in argv
    run = Run(project, options, options.resolved_settings(), StudyTarget.resolve(project, None, None,
              options.resolved_settings()), plan_search(project, options, "fifo", native=True))
    assert get_backend("slurm").trial_resources(run) == {"cpu": 4.0, "gpu": 2.0}


@pytest.mark.slow
def test_patience_on_a_slurm_worker_pool(tmp_path, slurm_cluster):
    """The rules are checked where every backend's trials end (the one sink): a Slurm `--pool`
    worker's trials too; its worker job is released when the rule fires."""
    from hpogrid.backends.slurm import SlurmOptions

    slurm = {"mem": "200M", "time": "5", "workers": 1, "poll_interval": 0.2}
    name = make_project(tmp_path, CONSTANT, UNI, trials=10, algorithm="random", slurm=slurm)
    summary = get_backend("slurm").run(load_project(name), SlurmOptions(progress=False, pool=1, patience=1))
    info, trials = study(name)
    assert summary.stopped_by == "patience" and info.attrs[ATTRS_KEY]["stopped_by"] == "patience"
    done = [t for t in trials if t.state == "COMPLETED"]
    assert len(done) >= 2 and len(trials) < 10  # the second did not improve on the first: no more started


def held_slurm_project(tmp_path, **hpo):
    folder, release = tmp_path / "started", tmp_path / "release"
    folder.mkdir()
    slurm = {"mem": "200M", "time": "5", "workers": 2, "poll_interval": 0.2}
    name = make_project(tmp_path, HOLD_SAYS, UNI, param={"started": str(folder), "release": str(release)},
                        trials=10, algorithm="random", slurm=slurm, **hpo)
    return name, folder, release


@pytest.mark.slow
def test_timeout_stop_cancels_the_running_slurm_jobs(tmp_path, slurm_cluster):
    """Two trials run in their jobs (held) when the clock passes the timeout: their jobs are
    cancelled (they would hold for minutes), nothing more is submitted."""
    from hpogrid.backends.slurm import SlurmOptions

    name, folder, release = held_slurm_project(tmp_path)
    clock = MovedClock()
    clock.move_when(running_in_jobs(name, folder, 2), 7200)
    try:
        summary = get_backend("slurm").run(load_project(name), SlurmOptions(
            progress=False, timeout="1h30m", timeout_action="stop", clock=clock))
        info, trials = study(name)
        assert summary.stopped_by == "timeout" and not summary.interrupted
        assert [t.state for t in trials] == ["INTERRUPTED", "INTERRUPTED"], [(t.state, t.error) for t in trials]
        assert all(t.error.startswith("run stopped: timeout 1h30m passed") for t in trials), [t.error for t in trials]
        assert wait_out_of_squeue([t.job_id for t in trials]) == []
    finally:
        release.touch()


@pytest.mark.slow
def test_max_cost_stops_a_slurm_worker_pools_trial_and_releases_its_worker(tmp_path, slurm_cluster):
    """The trial claimed by the pool's worker job has run 2 hours of the clock on its one CPU:
    past 1.5cpu-h it is stopped and the worker job ends."""
    from hpogrid.backends.slurm import SlurmOptions

    name, folder, release = held_slurm_project(tmp_path)
    clock = MovedClock()
    clock.move_when(running_in_jobs(name, folder, 1), 7200)
    try:
        summary = get_backend("slurm").run(load_project(name), SlurmOptions(progress=False, pool=1,
                                                                            max_cost="1.5cpu-h", clock=clock))
        info, trials = study(name)
        assert summary.stopped_by == "max_cost" and info.attrs[ATTRS_KEY]["stopped_by"] == "max_cost"
        [ran] = [t for t in trials if t.job_id]
        assert ran.state == "INTERRUPTED" and ran.error.startswith("run stopped: max_cost 1.5cpu-h used up"), ran.error
        assert ran.annotations["cost_h"] == {"cpu": 2.0, "gpu": 0.0}
        assert "COMPLETED" not in {t.state for t in trials} and len(trials) < 10
        assert wait_out_of_squeue([ran.job_id]) == []
    finally:
        release.touch()
