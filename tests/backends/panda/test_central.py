"""``hpogrid run --search central`` end to end: the real panda-client, the loopback PanDA
server executing every job (each runs ``hpogrid grid_job`` on the points of its task), the
study store. One search across the grid: later points come from a searcher told the earlier
results; a driver killed with -9 is taken over by --resume without a second submission."""
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
SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
         "k": {"method": "uniformint", "dimension": {"low": 1, "high": 3}}}
SCRIPT = """
import os, signal

def objective(config):
    if config.get("die"):  # take the whole grid job down: PanDA sees the payload killed
        os.kill(os.getppid(), signal.SIGKILL)
    return {"loss": (config["x"] - 0.3) ** 2 + config["k"]}
"""


@pytest.fixture
def central_env(panda_server, monkeypatch):
    monkeypatch.setenv("RUCIO_ACCOUNT", "alice")
    monkeypatch.setenv("HPOGRID_GRID_POLL_S", "0.3")
    return panda_server


def _make(run_cli, tmp_path, name, param=None, retry=False, algorithm="optuna"):
    scripts = tmp_path / f"scripts-{name}"
    scripts.mkdir()
    (scripts / "train.py").write_text(textwrap.dedent(SCRIPT))
    for cmd in [("model_config", "create", name, "--script", "train.py", "--model", "objective",
                 "--param", json.dumps(param or {})),
                ("search_space", "create", name, json.dumps(SPACE)),
                ("hpo_config", "create", name, "--algorithm", algorithm, "--metric", "loss", "--mode", "min",
                 "--scheduler", "fifo"),
                ("grid_config", "create", name, "--site", "ANALY_TEST", "--container", "docker://hpogrid:test",
                 *(["--retry"] if retry else [])),
                ("project", "create", name, "--scripts_path", scripts, "--model_config", name, "--search_space",
                 name, "--hpo_config", name, "--grid_config", name)]:
        r = run_cli(*cmd)
        assert r.exit_code == 0, r.output


def _driver(name, trials, *extra, stderr=subprocess.DEVNULL, text=False):
    """A central-search driver in its own process (a test kills it -9), two jobs of two points."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "hpogrid", "run", name, "--search", "central", "--trials",
                             str(trials), "--n_jobs", "2", "--trials_per_job", "2", *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=stderr, text=text)


def _trials(name):
    with StudyStore(sqlite_url(paths.study_db(name))) as store:
        return store.trials(name)


def test_one_search_across_waves_of_grid_jobs(central_env, run_cli, tmp_path):
    _make(run_cli, tmp_path, "cs")
    r = run_cli("run", "cs", "--search", "central", "--trials", "10", "--n_jobs", "2", "--trials_per_job", "2",
                "--seed", "4")
    assert r.exit_code == 0, r.output
    got = sorted(_trials("cs"), key=lambda t: t.number)
    assert [t.state for t in got] == ["COMPLETED"] * 10, [t.error for t in got]
    subs = load_submissions(paths.project_dir("cs"))
    # one task per wave: the first wave is one task of 2 jobs of 2 points; each later wave is the
    # points freed by the jobs that ended since the last poll (10 points, 2 per job: 5 jobs in all)
    assert len(central_env.tasks) == len(subs) < 5 and subs[0].n_jobs == 2
    assert [len(t.latest_jobs()) for t in central_env.tasks.values()] == [s.n_jobs for s in subs]
    assert sum(s.n_jobs for s in subs) == 5 and all(len(s.extra["uids"]) == 2 * s.n_jobs for s in subs)
    assert sorted(u for s in subs for u in s.extra["uids"]) == sorted(t.uid for t in got)
    for t in got:
        sub = next(s for s in subs if t.uid in s.extra["uids"])
        assert t.task_id == str(sub.task_id) and t.job_id and t.backend == "panda"
        assert t.annotations["taskname"] == sub.taskname
        assert t.metrics["loss"] == pytest.approx((t.params["x"] - 0.3) ** 2 + t.params["k"])
    told = [t.annotations["searcher_told"] for t in got]
    # the first wave (2 jobs x 2 points) was asked blind; every later point by a searcher that had
    # been told at least one whole job's results, and never more than had finished
    assert told[:4] == [0, 0, 0, 0] and all(n >= 2 for n in told[4:]) and told == sorted(told)
    assert all(n <= i - (i % 2) for i, n in enumerate(told))
    r = run_cli("report", "cs")
    assert r.exit_code == 0, r.output
    assert "10 completed" in r.output  # the sync stores the same trials, not copies
    assert len(_trials("cs")) == 10
    r = run_cli("tasks", "show")
    assert r.exit_code == 0, r.output
    assert all(str(s.task_id) in r.output for s in subs) and r.output.count(" done ") + r.output.count(
        " finished ") == len(subs), r.output


def test_target_ends_the_central_search_and_a_jobs_cores_and_gpu_are_shared_by_its_points(central_env, run_cli,
                                                                                             tmp_path):
    # every loss is below 10: the first job's points reach the target, and nothing more is submitted
    _make(run_cli, tmp_path, "ct")
    r = run_cli("run", "ct", "--search", "central", "--trials", "6", "--n_jobs", "1", "--trials_per_job", "2",
                "--target", "10")
    assert r.exit_code == 0, r.output
    assert "Stopped by the target rule: target 10 reached" in r.output
    got = _trials("ct")
    assert [t.state for t in got] == ["COMPLETED"] * 2 and len(central_env.tasks) == 1
    # one job: one core and one GPU (the default architecture asks for a GPU queue), half each per point
    assert all(t.annotations["resources"] == {"cpu": 0.5, "gpu": 0.5} for t in got)
    with StudyStore(sqlite_url(paths.study_db("ct"))) as store:
        assert store.get_study("ct").attrs["stop_rules"]["stopped_by"] == "target"


def test_timeout_with_action_stop_kills_the_central_searchs_running_task(central_env, run_cli, tmp_path):
    """The clock the rules read (injected: nothing waits on time) is an hour per task PanDA
    received; the jobs are held in PanDA, so the first task is running when it passes 30m."""
    from hpogrid.backends import get_backend
    from hpogrid.backends.panda.options import CentralOptions
    from hpogrid.project import load_project

    _make(run_cli, tmp_path, "cto", algorithm="random")
    central_env.max_parallel_jobs = 0
    summary = get_backend("grid").run(load_project("cto"), CentralOptions(
        progress=False, trials=6, n_jobs=1, trials_per_job=2, timeout="30m", timeout_action="stop",
        clock=lambda: 3600.0 * len(central_env.tasks)))
    assert summary.stopped_by == "timeout" and not summary.interrupted
    got = _trials("cto")
    [task] = central_env.tasks.values()  # nothing submitted after the timeout
    assert len(got) == 2 and {t.state for t in got} == {"INTERRUPTED"}
    assert all(t.error.startswith("run stopped: timeout 30m passed; grid task") and "killed" in t.error for t in got)
    assert task.status in {"aborted", "aborting", "toabort"}
    with StudyStore(sqlite_url(paths.study_db("cto"))) as store:
        assert store.get_study("cto").attrs["stop_rules"]["stopped_by"] == "timeout"


def test_a_job_failing_every_attempt_fails_its_points_with_pandas_error(central_env, run_cli, tmp_path):
    _make(run_cli, tmp_path, "cf", param={"die": True}, retry=True, algorithm="random")
    r = run_cli("run", "cf", "--search", "central", "--trials", "2", "--trials_per_job", "2")
    assert r.exit_code == 0, r.output
    got = _trials("cf")
    assert len(got) == 2 and {t.state for t in got} == {"FAILED"}
    for t in got:
        assert "payload exited with code -9 (attempt 3 of 3)" in t.error, t.error
    [task] = central_env.tasks.values()
    assert len(task.jobs) == 3  # PanDA ran the job three times with the same points


def test_kill_minus_9_of_the_driver_then_resume_submits_nothing_twice(central_env, run_cli, tmp_path):
    _make(run_cli, tmp_path, "ck")
    driver = _driver("ck", 8, "--seed", "1", stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until some points are done and some still with PanDA
        got = trials_so_far("ck")
        if any(t.state == "COMPLETED" for t in got) and any(t.state in ("PENDING", "RUNNING") and t.task_id
                                                              for t in got):
            break
        assert driver.poll() is None, driver.stderr.read().decode()
        time.sleep(0.1)
    else:
        pytest.fail("the driver never had finished and running points at once")
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    central_env.wait_idle()  # a submission the driver had under way is done (test_a_task_created_after_...)
    before = {t.uid: t.state for t in trials_so_far("ck")}
    r = run_cli("run", "ck", "--search", "central", "--trials", "8", "--n_jobs", "2", "--trials_per_job", "2",
                "--resume")
    assert r.exit_code == 0, r.output
    got = _trials("ck")
    assert len(got) == 8 and {t.state for t in got} == {"COMPLETED"}, [(t.uid, t.state, t.error) for t in got]
    assert all(before.get(t.uid) in (None, "COMPLETED", "PENDING", "RUNNING", "INTERRUPTED") for t in got)
    subs = load_submissions(paths.project_dir("ck"))
    uids = [u for s in subs for u in s.extra["uids"]]
    assert len(uids) == len(set(uids)) == 8  # every point in exactly one task
    assert len(central_env.tasks) == len(subs)  # and PanDA has no task the project does not know


def test_a_task_created_after_the_take_over_looked_for_it_is_followed_not_submitted_again(central_env, run_cli,
                                                                                          tmp_path):
    """The driver dies while PanDA is still creating its task: the resumed driver finds no such task
    at take-over, looks again before it submits those points, and follows the task PanDA made."""
    import threading

    _make(run_cli, tmp_path, "cl")
    held, release, lookups = threading.Event(), threading.Event(), []
    name: list = []

    def hold_submit(args):  # the first submission stays in the server until released
        if not name:
            params = args["task_parameters"]
            name.append((json.loads(params) if isinstance(params, str) else params)["taskName"].rstrip("/"))
            held.set()
            release.wait(60)

    def lookup(args):  # the resumed driver's second look for that name: PanDA creates the task first
        if name and name[0] in json.dumps(args, default=str):
            lookups.append(1)
            if len(lookups) == 2:
                release.set()
                deadline = time.monotonic() + 60
                while not any(t.name.rstrip("/") == name[0] for t in list(central_env.tasks.values())):
                    assert time.monotonic() < deadline
                    time.sleep(0.01)

    central_env.gates.update({"task/submit": hold_submit, "task/get_tasks_detailed_info_since": lookup})
    driver = _driver("cl", 4)
    try:
        assert held.wait(120), "the driver never submitted"
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        r = run_cli("run", "cl", "--search", "central", "--trials", "4", "--n_jobs", "2", "--trials_per_job", "2",
                    "--resume")
    finally:
        release.set()
    assert r.exit_code == 0, r.output
    assert len(lookups) == 2  # take-over did not find the task; the look before submitting did
    got = _trials("cl")
    assert len(got) == 4 and {t.state for t in got} == {"COMPLETED"}, [(t.uid, t.state, t.error) for t in got]
    subs = load_submissions(paths.project_dir("cl"))
    [late] = [s for s in subs if s.taskname.rstrip("/") == name[0]]
    # the first wave (2 jobs x 2 points) was that one task: all its points follow it, by their jobs
    assert sorted(t.task_id for t in got if t.annotations["taskname"].rstrip("/") == name[0]) == [str(late.task_id)] * 4
    assert sorted(t.annotations["task_job"] for t in got) == [1, 1, 2, 2]
    uids = [u for s in subs for u in s.extra["uids"]]
    assert len(uids) == len(set(uids)) == 4 and len(central_env.tasks) == len(subs) == 1


def test_a_task_submitted_but_not_recorded_when_the_driver_died_is_taken_over_and_recorded(central_env, run_cli,
                                                                                           tmp_path):
    """PanDA made the task; the driver died before it heard so (and recorded it): the resumed driver
    finds the task by its name, follows it and records it in the project."""
    import threading

    _make(run_cli, tmp_path, "cr")
    answered, release = threading.Event(), threading.Event()

    def hold_answer(args):  # the first task exists; its submitter never gets the answer
        if not answered.is_set():
            answered.set()
            release.wait(60)

    central_env.answer_gates["task/submit"] = hold_answer
    driver = _driver("cr", 4)
    try:
        assert answered.wait(120), "the driver never submitted"
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        assert load_submissions(paths.project_dir("cr")) == []
        r = run_cli("run", "cr", "--search", "central", "--trials", "4", "--n_jobs", "2", "--trials_per_job", "2",
                    "--resume")
    finally:
        release.set()
    assert r.exit_code == 0, r.output
    assert "4 still running taken over, 0 to re-run, 0 new" in r.output  # the first wave: one task of 4 points
    got = _trials("cr")
    assert len(got) == 4 and {t.state for t in got} == {"COMPLETED"}, [(t.uid, t.state, t.error) for t in got]
    subs = load_submissions(paths.project_dir("cr"))
    uids = [u for s in subs for u in s.extra["uids"]]
    assert len(uids) == len(set(uids)) == 4 and len(central_env.tasks) == len(subs) == 1
    assert subs[0].extra["jobs"] == {t.uid: t.annotations["task_job"] for t in got}  # the record knows each job's points
    assert all(t.task_id == str(next(s.task_id for s in subs if t.uid in s.extra["uids"])) for t in got)


def test_resume_takes_over_tasks_still_waiting_in_panda(central_env, run_cli, tmp_path):
    """Jobs held in PanDA (the server starts none) while the driver is killed: the resumed driver
    follows those tasks, and only then are the jobs let run."""
    import threading

    _make(run_cli, tmp_path, "ch")
    central_env.max_parallel_jobs = 0
    driver = _driver("ch", 6)
    deadline = time.monotonic() + 120
    while len(load_submissions(paths.project_dir("ch"))) < 1:  # the first wave (one task of 2 jobs) is with PanDA
        assert time.monotonic() < deadline and driver.poll() is None
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    asked = central_env.request_counts["task/get_tasks_modified_since"]

    def release():  # once the resumed driver has looked at the tasks twice (take-over, first poll)
        while central_env.request_counts["task/get_tasks_modified_since"] < asked + 2:
            time.sleep(0.02)
        central_env.max_parallel_jobs = 2

    threading.Thread(target=release, daemon=True).start()
    r = run_cli("run", "ch", "--search", "central", "--trials", "6", "--n_jobs", "2", "--trials_per_job", "2",
                "--resume")
    assert r.exit_code == 0, r.output
    assert "4 still running taken over, 0 to re-run, 2 new" in r.output
    got = _trials("ch")
    assert len(got) == 6 and {t.state for t in got} == {"COMPLETED"}
    assert len(central_env.tasks) == len(load_submissions(paths.project_dir("ch"))) == 2  # a task per wave


def test_ctrl_c_stops_submitting_and_a_second_one_kills_the_tasks(central_env, run_cli, tmp_path):
    _make(run_cli, tmp_path, "cc")
    central_env.max_parallel_jobs = 0  # the jobs wait in PanDA: the driver has tasks to follow
    driver = _driver("cc", 6, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(load_submissions(paths.project_dir("cc"))) < 1:
        assert time.monotonic() < deadline and driver.poll() is None
        time.sleep(0.05)
    driver.send_signal(signal.SIGINT)
    seen = ""
    while "Ctrl-C again kills them" not in seen:  # the driver says what it does now
        line = driver.stderr.readline()
        assert line, seen
        seen += line
    assert driver.poll() is None  # still following its tasks
    driver.send_signal(signal.SIGINT)
    assert driver.wait(timeout=60) == 130
    got = _trials("cc")
    assert len(got) == 4 and {t.state for t in got} == {"INTERRUPTED"}  # nothing submitted after Ctrl-C
    assert all("grid task" in t.error and "killed" in t.error for t in got)
    assert {task.status for task in central_env.tasks.values()} <= {"aborted", "aborting", "toabort"}


def test_a_detached_central_search_runs_to_its_end_and_status_lists_it(central_env, run_cli, tmp_path, monkeypatch):
    """``run --search central --detach`` without a batch system: a background process on this
    machine drives the search against the loopback PanDA server to its end."""
    from pathlib import Path

    from tests.drivers.helpers import driver_record, wait_driver

    _make(run_cli, tmp_path, "cdet", algorithm="random")
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{tmp_path / 'no-slurm-here'}")  # no sbatch
    r = run_cli("run", "cdet", "--search", "central", "--trials", "4", "--n_jobs", "2", "--trials_per_job", "2",
                "--detach")
    assert r.exit_code == 0 and "process " in r.output, r.output
    done = wait_driver("the detached central search's end", lambda: (d := driver_record("cdet") or {}).get(
        "state") in ("failed", "finished", "stopped", "dead") and d, deadline_s=240, poll_s=0.2)
    try:
        os.waitpid(done["pid"], os.WNOHANG)  # (CliRunner ran the CLI in-process: the driver is our child)
    except ChildProcessError:
        pass
    assert (done["state"], done["where"]) == ("finished", "local"), Path(done["log"]).read_text()[-3000:]
    r = run_cli("status", "cdet")
    assert r.exit_code == 0 and done["id"] in r.output and "finished" in r.output, r.output
    assert "4/4 completed" in r.output, r.output  # the study's progress: complete
    got = _trials("cdet")
    assert len(got) == 4 and {t.state for t in got} == {"COMPLETED"}, [(t.state, t.error) for t in got]
    assert all(t.backend == "panda" for t in got) and len(load_submissions(paths.project_dir("cdet"))) >= 1


def test_central_only_options_need_search_central(run_cli, hpogrid_home):
    for args in (["--resume"], ["--trials_per_job", "3"], ["--algorithm", "optuna"], ["--timeout", "2h"],
                 ["--target", "0.5"]):
        r = run_cli("run", "anything", *args)
        assert r.exit_code == 2 and f"{args[0]} go with --search central" in r.output, r.output
    r = run_cli("run", "anything", "--search", "central", "--dry-run")
    assert r.exit_code == 2 and "--dry-run shows an independent task" in r.output
