"""Trial checkpoints across grid jobs, end to end: the loopback PanDA server runs the jobs and
registers every output and job log in a real Rucio test server, as the pilot would.

A job killed by the pilot in its first attempt (at epoch 5) is retried by PanDA; the retry takes
its earlier attempt's checkpoint back from that attempt's log in Rucio and resumes at epoch 6.
A point of a central search run again in a later task (a promoted point of a multi-fidelity
search) gets its checkpoint from the earlier task's output.
"""
import json
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

from hpogrid import paths
from hpogrid.study import StudyStore, sqlite_url
from tests.backends.panda.test_artifacts import register_in_rucio
from tests.backends.panda.test_central_waves import make_waves_project

pytestmark = pytest.mark.slow
SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
#: a program that checkpoints every epoch into $HPOGRID_CHECKPOINT_DIR and starts after the last
#: one; in the first attempt of a grid job it stops at epoch 5 (and says so) until the pilot kills it
PROGRAM = """
import json, os, time
from pathlib import Path

ck = Path(os.environ["HPOGRID_CHECKPOINT_DIR"])
state = ck / "state.json"
start = json.loads(state.read_text())["epoch"] + 1 if state.is_file() else 1
for epoch in range(start, 9):
    ck.mkdir(exist_ok=True)
    (ck / "state.tmp").write_text(json.dumps({"epoch": epoch}))
    os.replace(ck / "state.tmp", state)
    print("RESULT step=%d: %s" % (epoch, json.dumps({"loss": 1.0 / epoch, "start": start})), flush=True)
    if epoch == 5 and os.environ.get("PanDA_AttemptNr") == "1" and os.environ.get("HOLD"):
        Path(os.environ["HOLD"]).write_text(os.environ.get("PandaID", ""))
        time.sleep(600)
print("RESULT: " + json.dumps({"loss": 1.0 / 8, "start": start}), flush=True)
"""


def _wait_file(path: Path, deadline_s: float = 180.0) -> str:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if path.is_file() and path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise TimeoutError(f"{path} not written within {deadline_s} s")


def _project(run_cli, tmp_path, name, *grid):
    scripts = tmp_path / f"scripts-{name}"
    scripts.mkdir()
    (scripts / "train.py").write_text(textwrap.dedent(PROGRAM))
    for cmd in [("model_config", "create", name, "--command", "python train.py", "--timeout", "300"),
                ("search_space", "create", name, json.dumps(SPACE)),
                ("hpo_config", "create", name, "--algorithm", "random", "--metric", "loss", "--mode", "min",
                 "--trials", "1", "--scheduler", "fifo"),
                ("grid_config", "create", name, "--site", "ANALY_TEST_GPU", "--container", "docker://hpogrid:test",
                 *grid),
                ("project", "create", name, "--scripts_path", scripts, "--model_config", name, "--search_space",
                 name, "--hpo_config", name, "--grid_config", name)]:
        r = run_cli(*cmd)
        assert r.exit_code == 0, r.output


@pytest.fixture
def grid_with_rucio(panda_server, rucio_client_env, monkeypatch):
    monkeypatch.setenv("RUCIO_ACCOUNT", rucio_client_env.account)
    panda_server.output_hooks.append(register_in_rucio(rucio_client_env))
    return panda_server


def test_a_job_killed_by_the_pilot_is_retried_from_its_checkpoint(grid_with_rucio, run_cli, tmp_path):
    server = grid_with_rucio
    hold = tmp_path / "hold"
    server.job_env["HOLD"] = str(hold)
    _project(run_cli, tmp_path, "ck", "--retry")
    r = run_cli("run", "ck")
    assert r.exit_code == 0, r.output
    task_id = int(r.output.splitlines()[0].split()[2])
    first = int(_wait_file(hold))  # the trial is at epoch 5 of the job's first attempt
    server.kill_job(first, "lost heartbeat")
    assert server.wait_task(task_id, timeout=240) == "done"
    jobs = sorted(server.task(task_id).jobs, key=lambda j: j.attempt_nr)
    assert [(j.attempt_nr, j.status) for j in jobs] == [(1, "failed"), (2, "finished")]

    r = run_cli("report", "ck")
    assert r.exit_code == 0, r.output
    with StudyStore(sqlite_url(paths.study_db("ck"))) as store:
        trials = {t.job_id: t for t in store.trials("ck")}
    retried = trials[str(jobs[1].panda_id)]
    assert retried.state == "COMPLETED" and retried.metrics["start"] == 6  # resumed at epoch 6
    (lost,) = retried.annotations["attempts"]
    assert (lost["attempt"], lost["reason"], lost["where"]) == (1, "pilot: lost heartbeat", {"site": "ANALY_TEST_GPU"})
    killed = trials[str(jobs[0].panda_id)]  # the first attempt's trial stays on record, interrupted
    assert killed.state == "INTERRUPTED" and killed.uid.rsplit(".", 1)[1] == retried.uid.rsplit(".", 1)[1]

    r = run_cli("report", "ck", "--failures", "--no-sync")
    assert r.exit_code == 0, r.output
    assert any(ln.startswith("site ANALY_TEST_GPU") and ln.split()[2:4] == ["0", "1"] for ln in r.output.splitlines())
    assert any(ln.startswith("pilot: lost heartbeat") for ln in r.output.splitlines()), r.output


def test_a_checkpoint_over_the_limit_stays_out_of_the_output_with_a_warning(grid_with_rucio, run_cli, tmp_path):
    server = grid_with_rucio
    _project(run_cli, tmp_path, "cl", "--checkpoint_limit_mb", "0")
    r = run_cli("run", "cl")
    assert r.exit_code == 0, r.output
    task_id = int(r.output.splitlines()[0].split()[2])
    status = server.wait_task(task_id, timeout=240)
    (job,) = server.task(task_id).jobs
    assert status == "done", job.error_diag
    assert "checkpoint_limit_mb (0 MB): not in the job's output" in (job.workdir / "payload.stderr").read_text()
    outputs = [p for p in (server.root / "outds").rglob("*") if p.name.endswith("hpogrid_trials.tgz")]
    with tarfile.open(outputs[0]) as tar:
        names = tar.getnames()
    assert not any("/checkpoint/" in n for n in names) and any(n.endswith("/trial.json") for n in names), names
    assert run_cli("report", "cl").exit_code == 0
    with StudyStore(sqlite_url(paths.study_db("cl"))) as store:
        (t,) = store.trials("cl")
    assert t.state == "COMPLETED" and "over grid_config checkpoint_limit_mb" in t.annotations["checkpoint"]["left_out"]


#: loss(step) = x + 1 / step, checkpointed every step in the trial folder's checkpoint/
WAVES_MODEL = """
import json, os
from pathlib import Path

import hpogrid.trial

def objective(config):
    ck = Path(os.environ.get("HPOGRID_CHECKPOINT_DIR") or hpogrid.trial.trial_dir() / "checkpoint")
    state = ck / "state.json"
    start = json.loads(state.read_text())["step"] + 1 if state.is_file() else 1
    for step in range(start, 100):
        ck.mkdir(exist_ok=True)
        state.write_text(json.dumps({"step": step}))
        if hpogrid.trial.report(step, loss=config["x"] + 1.0 / step, start=start):
            return
"""


def test_a_promoted_point_gets_its_checkpoint_in_the_later_task(grid_with_rucio, run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HPOGRID_GRID_POLL_S", "0.3")
    make_waves_project(run_cli, tmp_path, "pw", WAVES_MODEL, SPACE,
                       {"grace_period": 1, "reduction_factor": 2, "max_t": 2})
    r = run_cli("run", "pw", "--search", "central", "--trials", "2", "--n_jobs", "2", "--trials_per_job", "1",
                "--seed", "3")
    assert r.exit_code == 0, r.output
    with StudyStore(sqlite_url(paths.study_db("pw"))) as store:
        got = {t.uid: t for t in store.trials("pw")}
    assert [t.state for t in got.values()] == ["COMPLETED"] * 2, [t.error for t in got.values()]
    promoted = [t for t in got.values() if len(t.annotations["rungs"]) == 2]
    left = [t for t in got.values() if len(t.annotations["rungs"]) == 1]
    assert len(promoted) == len(left) == 1
    # the later task resumed the promoted point from the step its first task checkpointed
    assert promoted[0].metrics["start"] == 2 and left[0].metrics["start"] == 1
