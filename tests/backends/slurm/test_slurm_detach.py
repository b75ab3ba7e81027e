"""``slurm_run --detach`` on a REAL single-node Slurm: the driver is a Slurm job that resubmits
itself when Slurm ends it, and ``status`` finds it dead when it was killed without notice."""
import json
import os
import signal
import subprocess
import time

import pytest

from hpogrid import paths
from tests.backends.slurm.helpers import in_squeue, job_state, make_slurm_project, trials
from tests.drivers.helpers import driver_record, wait_driver
from tests.projects import UNI

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("slurm_cluster")]

#: every trial writes its uid to $HELD_DIR/runs.txt; the one that writes the second line waits
#: (until Slurm or the driver ends it, or the file $HELD_DIR/release exists): the test acts while it runs
SCRIPT = """
import os, time
from pathlib import Path
from hpogrid.trial import trial_uid

def objective(config):
    runs = Path(os.environ["HELD_DIR"]) / "runs.txt"
    with open(runs, "a") as fh:
        fh.write(trial_uid() + "\\n")
    if len(runs.read_text().splitlines()) == 2:
        deadline = time.time() + 290
        while time.time() < deadline and not (runs.parent / "release").exists():
            time.sleep(0.1)
    return {"loss": config["x"]}
"""


def _wait(what, check, deadline_s=180.0):
    return wait_driver(what, check, deadline_s, poll_s=0.2)


_record = driver_record


def _runs(work):
    path = work / "runs.txt"
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def held(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HELD_DIR", str(work))  # (sbatch passes the environment on: driver, then trial jobs)
    return work


#: how Slurm ends a driver job: a cancel (SIGTERM to every process of the job, SIGKILL 2 s later),
#: or the warning of its time limit (``--signal=B:USR1@60``: SIGUSR1 to the batch script only)
ENDINGS = {"scancel": ["scancel"], "time-limit-warning": ["scancel", "--batch", "--signal=USR1"]}


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_ended_driver_job_resubmits_itself_and_nothing_is_lost_or_run_twice(tmp_path, held, slurm_cli, ending):
    name = make_slurm_project(tmp_path, SCRIPT, UNI, trials=4, slurm={"workers": 1})
    r = slurm_cli("slurm_run", name, "--seed", "2", "--detach", "--driver-time", "10")
    assert r.exit_code == 0, r.output
    first = _record(name)["job_id"]
    assert f"Slurm job {first}" in r.output
    job = subprocess.run(["scontrol", "--oneliner", "show", "job", first], capture_output=True, text=True).stdout
    assert all(f in job for f in ("Requeue=1", "TimeLimit=00:10:00", "NumCPUs=1", f"StdOut={_record(name)['log']}"))
    _wait("the second trial running", lambda: len(_runs(held)) == 2
          and [t.state for t in trials(name)] == ["COMPLETED", "RUNNING"])
    assert _record(name)["state"] == "running" and in_squeue([first]) == [first]
    r = slurm_cli("status", name)
    row = next(line for line in r.output.splitlines() if name in line)
    assert "running" in row and f"slurm job {first}" in row and "1/4 completed, 1 running" in row

    subprocess.run([*ENDINGS[ending], first], check=True)
    done = _wait("the study's end in the resubmitted driver", lambda: (d := _record(name))["state"] in (
        "finished", "failed", "interrupted", "stopped") and d)
    log = open(done["log"]).read()
    assert done["state"] == "finished", log[-3000:]
    assert done["jobs"][0] == first and len(done["jobs"]) == 2 and done["starts"] == 2
    assert f"resubmitted as job {done['jobs'][1]}" in log
    assert job_state(first) == ("CANCELLED" if ending == "scancel" else "FAILED")  # (the run's exit code 130)
    final = trials(name)
    assert [t.state for t in final] == ["COMPLETED"] * 4 and len({t.uid for t in final}) == 4
    # nothing lost, nothing run twice: the trial the scancel interrupted ran once more (its uid), no other did
    runs = _runs(held)
    assert len(runs) == 5 and runs[1] == runs[2] and sorted(set(runs)) == sorted(t.uid for t in final)
    r = slurm_cli("status", name)
    assert "finished" in r.output and "4/4 completed" in r.output and "dead" not in r.output


def test_killed_driver_job_is_dead_with_the_command_that_resumes_it(tmp_path, held, slurm_cli):
    (held / "runs.txt").write_text("first\n")  # the first trial is the one that sleeps
    name = make_slurm_project(tmp_path, SCRIPT, UNI, trials=2, slurm={"workers": 1})
    r = slurm_cli("slurm_run", name, "--detach", "--driver-time", "10")
    assert r.exit_code == 0, r.output
    job = _record(name)["job_id"]
    running = _wait("the trial running", lambda: [t for t in trials(name) if t.state == "RUNNING"])
    try:
        # SIGKILL to the driver job's batch script (as a node failure: no signal first, nothing can
        # resubmit; Slurm ends the job and kills the rest). (scancel --signal=KILL is a cancel: SIGTERM first)
        record = _wait("the driver running", lambda: (d := _record(name))["state"] == "running" and d)
        os.kill(record["pid"], signal.SIGKILL)
        _wait("the driver job's end", lambda: not in_squeue([job]))
        r = slurm_cli("status", name)
        assert r.exit_code == 0, r.output
        record = _record(name)
        assert next(line for line in r.output.splitlines() if name in line).split()[2] == "dead", (
            r.output, record, open(record["log"]).read()[-3000:])
        assert (f"Driver {record['id']} of {name} is dead (killed without notice); resume it with: "
                f"hpogrid slurm_run {name} --resume --detach --driver-time 10") in r.output
        assert record["jobs"] == [job] and record["state"] == "running"
    finally:
        subprocess.run(["scancel", *[t.job_id for t in running if t.job_id]])


def test_a_driver_whose_run_fails_is_not_resubmitted(tmp_path, slurm_cli, monkeypatch):
    """run --search central --detach where sbatch is: a Slurm job; an error ends it for good."""
    monkeypatch.delenv("RUCIO_ACCOUNT", raising=False)
    name = make_slurm_project(tmp_path, SCRIPT, UNI, trials=2)
    r = slurm_cli("run", name, "--search", "central", "--detach")
    assert r.exit_code == 0 and "Slurm job" in r.output, r.output
    done = _wait("the driver's end", lambda: (d := _record(name))["state"] in (
        "finished", "failed", "interrupted", "stopped") and d)
    assert done["where"] == "slurm" and done["state"] == "failed" and done["exit_code"] == 1
    assert len(done["jobs"]) == 1 and done["starts"] == 1
    r = slurm_cli("status", name)
    assert "RUCIO_ACCOUNT is not set" in r.output


def test_stop_drains_the_driver_job_and_it_is_not_resubmitted(tmp_path, held, slurm_cli):
    name = make_slurm_project(tmp_path, SCRIPT, UNI, trials=4, slurm={"workers": 1})
    r = slurm_cli("slurm_run", name, "--detach", "--driver-time", "10")
    assert r.exit_code == 0, r.output
    _wait("the second trial running", lambda: len(_runs(held)) == 2
          and [t.state for t in trials(name)] == ["COMPLETED", "RUNNING"])
    r = slurm_cli("stop", name)
    assert r.exit_code == 0 and "Draining driver" in r.output, r.output
    # (the driver says so once it has passed SIGQUIT on to the run)
    _wait("the stop request passed on", lambda: "hpogrid stop: draining the run" in open(_record(name)["log"]).read())
    (held / "release").touch()
    done = _wait("the drained driver's end", lambda: (d := _record(name))["state"] in (
        "finished", "failed", "interrupted", "stopped") and d)
    assert done["state"] == "stopped" and len(done["jobs"]) == 1 and done["starts"] == 1
    # drained: the running trial finished, no new one started
    assert [t.state for t in trials(name)] == ["COMPLETED", "COMPLETED"] and len(_runs(held)) == 2
