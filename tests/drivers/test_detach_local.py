"""``local_run --detach``, ``hpogrid status`` and ``hpogrid stop`` through the CLI, on the pool
backend with tiny trials held by a file the test creates (never by time)."""
import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from hpogrid import paths
from hpogrid.errors import NotFoundError
from hpogrid.study import StudyStore, sqlite_url
from tests.conftest import tree_snapshot
from tests.drivers.helpers import driver_record, wait_driver

#: the first trial waits for the file ``release`` (in the folder $HELD_DIR, which the driver and
#: its workers inherit)
HELD = """
import os, time
from pathlib import Path
from hpogrid.trial import trial_uid

def objective(config):
    folder = Path(os.environ["HELD_DIR"])
    with open(folder / "runs.txt", "a") as fh:
        fh.write(trial_uid() + "\\n")
    if len((folder / "runs.txt").read_text().splitlines()) == 1:
        deadline = time.time() + 120
        while not (folder / "release").exists() and time.time() < deadline:
            time.sleep(0.05)
    return {"loss": config["x"]}
"""


def _wait(what, check, deadline_s=90.0):
    return wait_driver(what, check, deadline_s, poll_s=0.1)


_record = driver_record


def _reap(pid):
    """The driver is this test process's child (CliRunner runs the CLI in-process): collect it."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _trials(name):
    """The study's trials ([] until the driver has created it)."""
    try:
        return StudyStore(sqlite_url(paths.study_db(name))).trials(name)
    except NotFoundError:
        return []


@pytest.fixture
def held(project_factory, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HELD_DIR", str(work))
    name = project_factory(HELD, trials=3)
    return name, work


def test_detach_then_status_then_drain(run_cli, held):
    name, work = held
    r = run_cli("local_run", name, "--n_jobs", "1", "--seed", "4", "--detach")
    assert r.exit_code == 0, r.output
    assert f"Detached driver " in r.output and f"hpogrid status {name}" in r.output
    record = _wait("the held trial", lambda: (work / "runs.txt").exists() and _record(name))
    assert record["state"] == "running" and record["args"] == [name, "--n_jobs", "1", "--seed", "4"]
    _wait("the running trial in the study", lambda: any(t.state == "RUNNING" for t in _trials(name)))

    r = run_cli("status", name)
    assert r.exit_code == 0, r.output
    row = next(line for line in r.output.splitlines() if record["id"] in line)
    assert "running" in row and f":{record['pid']}" in row and "0/3 completed, 1 running" in row
    assert record["log"] in r.output

    # one driver per study at a time
    r = run_cli("local_run", name, "--detach")
    assert r.exit_code != 0 and f"--detach: driver {record['id']} of study {name!r} is running" in r.output

    r = run_cli("stop", name)
    assert r.exit_code == 0, r.output
    assert f"Draining driver {record['id']}" in r.output
    (work / "release").touch()
    done = _wait("the drained driver's end",
                 lambda: (d := _record(name) or {}).get("state") in ("stopped", "failed") and d)
    _reap(record["pid"])
    assert done["state"] == "stopped" and done["exit_code"] == 130
    # drained: the running trial finished, no other started
    assert [t.state for t in _trials(name)] == ["COMPLETED"]
    assert len((work / "runs.txt").read_text().splitlines()) == 1
    r = run_cli("status")
    assert "stopped" in r.output and "1/3 completed" in r.output
    assert "Interrupted" in Path(done["log"]).read_text()
    # a stopped driver is not stopped again
    r = run_cli("stop", name)
    assert r.exit_code == 1 and "has no running detached driver" in r.output


def test_sigkilled_driver_is_dead_and_resumes_with_the_printed_command(run_cli, held):
    name, work = held
    r = run_cli("local_run", name, "--n_jobs", "1", "--seed", "5", "--detach")
    assert r.exit_code == 0, r.output
    _wait("the running trial in the study", lambda: any(t.state == "RUNNING" for t in _trials(name)))
    record = _record(name)
    os.kill(record["pid"], signal.SIGKILL)
    _wait("the driver's death", lambda: _reap(record["pid"]) or not psutil.pid_exists(record["pid"])
          or psutil.Process(record["pid"]).status() == psutil.STATUS_ZOMBIE)

    r = run_cli("status", name)
    assert r.exit_code == 0, r.output
    assert "dead" in next(line for line in r.output.splitlines() if record["id"] in line)
    command = f"hpogrid local_run {name} --n_jobs 1 --seed 5 --resume --detach"
    assert f"Driver {record['id']} of {name} is dead (killed without notice); resume it with: {command}" in r.output

    (work / "release").touch()
    r = run_cli(*shlex.split(command)[1:])
    assert r.exit_code == 0, r.output
    # the resuming driver's record: not the killed one's (two ids of one second do not sort by start)
    (newest,) = [p for p in (paths.project_dir(name) / "drivers").glob("*.json") if p.stem != record["id"]]
    second = _wait("the resumed driver's end",
                   lambda: (d := json.loads(newest.read_text()))["state"] in ("finished", "failed") and d)
    _reap(second["pid"])
    assert second["state"] == "finished", Path(second["log"]).read_text()[-2000:]
    final = _trials(name)
    assert [t.state for t in final] == ["COMPLETED"] * 3 and len({t.uid for t in final}) == 3
    # the killed trial ran again (the same uid, the same values); nothing else ran twice
    runs = (work / "runs.txt").read_text().splitlines()
    assert len(runs) == 4 and runs[0] == runs[1] and sorted(set(runs)) == sorted(t.uid for t in final)
    r = run_cli("status", name)
    rows = {line.split()[1]: line.split()[2] for line in r.output.splitlines()[2:]}
    assert rows == {record["id"]: "resumed", second["id"]: "finished"} and "resume it with" not in r.output


def test_bad_detach_input_is_one_line_and_changes_nothing(run_cli, project_factory, tmp_path, hpogrid_home,
                                                          monkeypatch):
    name = project_factory(trials=2)
    (tmp_path / "a-file").write_text("x")
    before = tree_snapshot(hpogrid_home)
    cases = [
        (["local_run", name, "--detach", "--driver-log", str(tmp_path / "a-file" / "logs")], "--driver-log"),
        (["local_run", name, "--driver-log", str(tmp_path)], "--driver-log and --driver-time go with --detach"),
        (["local_run", name, "--detach", "--no-backup"], "--no-backup go with --resume"),
        (["run", name, "--detach"], "--detach goes with --search central"),
    ]
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))
    cases.append((["slurm_run", name, "--detach"], "--detach: slurm_run submits its driver as a Slurm job, and "
                   "sbatch is not found here"))
    for args, message in cases:
        r = run_cli(*args)
        assert r.exit_code != 0 and message in r.output, (args, r.output)
        assert len(r.output.strip().splitlines()) == 1, r.output
    monkeypatch.undo()
    monkeypatch.setenv("HPOGRID_HOME", str(hpogrid_home))
    r = run_cli("slurm_run", name, "--detach", "--driver-time", "soon")
    assert r.exit_code != 0 and "--driver-time: 'soon' is not a Slurm time" in r.output
    assert tree_snapshot(hpogrid_home) == before
    r = run_cli("status", name)
    assert r.exit_code == 0 and "No detached drivers of project" in r.output


def test_stop_now_right_after_detach_ends_the_driver_cleanly(run_cli, held):
    """A stop that comes before the run has started (its signal handlers not yet in place)."""
    name, work = held
    r = run_cli("local_run", name, "--n_jobs", "1", "--detach")
    assert r.exit_code == 0, r.output
    r = run_cli("stop", name, "--now")
    assert r.exit_code == 0 and "Stopping driver" in r.output, r.output
    done = _wait("the stopped driver's end", lambda: (d := _record(name) or {}).get("state") in (
        "stopped", "failed", "finished") and d)
    _reap(done["pid"])
    # (exit code None: it saw the request before it started the run)
    assert done["state"] == "stopped" and done["exit_code"] in (None, 130)
    assert "COMPLETED" not in {t.state for t in _trials(name)}
    (work / "release").touch()


def test_central_grid_search_detaches_here_without_slurm_and_status_says_why_it_failed(
        run_cli, project_factory, tmp_path, monkeypatch):
    name = project_factory(trials=2)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{tmp_path / 'no-slurm-here'}")
    monkeypatch.delenv("RUCIO_ACCOUNT", raising=False)
    r = run_cli("run", name, "--search", "central", "--n_jobs", "2", "--detach")
    assert r.exit_code == 0 and "process " in r.output, r.output
    done = _wait("the driver's end", lambda: (d := _record(name) or {}).get("state") in ("failed", "finished") and d)
    _reap(done["pid"])
    assert done["where"] == "local" and done["args"] == [name, "--n_jobs", "2", "--search", "central"]
    r = run_cli("status", name)
    assert f"Driver {done['id']} of {name} failed: RUCIO_ACCOUNT is not set" in r.output


def test_a_restart_continues_the_study_without_running_the_rerun_selection_again():
    """A driver restarted after its first start resumes the study; the user's --rerun /
    --rerun-failed ran once, in the first start, and are not repeated at every restart."""
    from hpogrid.drivers._record import resume_args

    given = ["p", "--resume", "--rerun", "FAILED,local-1", "--rerun-failed", "--no-backup", "--seed", "3"]
    assert resume_args(given) == ["p", "--seed", "3", "--resume", "--no-backup"]
    assert resume_args(["p", "--trials", "9"]) == ["p", "--trials", "9", "--resume", "--no-backup"]


def test_the_resume_command_shown_for_a_dead_driver_masks_a_study_password(hpogrid_home):
    from hpogrid.drivers import resume_command
    from hpogrid.drivers._record import DriverRecord

    record = DriverRecord(id="d1", project="p", command="local_run", where="local", log="/tmp/x/d1.log",
                          created_at="now", study="p",
                          args=["p", "--trials", "5", "--study-url", "postgresql://hpo:s3cret@127.0.0.1/test"])
    shown = resume_command(record)
    assert "s3cret" not in shown and "postgresql://hpo:***@127.0.0.1/test" in shown and "--resume" in shown
