"""``slurm_run`` end to end on a REAL single-node Slurm: every trial is an sbatch job."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from hpogrid.backends.slurm import SlurmOptions, run_slurm
from hpogrid.project import load_project
from hpogrid.study import load
from tests.backends.helpers import ECHO
from tests.conftest import EXAMPLE_SCRIPTS
from tests.slurm.helpers import (CLI_CODE, KINDS_SCRIPT, UNI, grid_of_kinds, in_squeue, job_state,
                                 make_slurm_project, trials)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("slurm_cluster")]


@pytest.fixture(autouse=True, scope="module")
def _timeout_run_starts_first(timeout_run):
    """The 60-90 s time-limit study runs in the background while the other tests do."""

SPACE = {
    "lr": {"method": "loguniform", "dimension": {"low": 1e-4, "high": 1e-1}},
    "units": {"method": "categorical", "dimension": {"categories": [16, "wide", [1, 2]]}},
    "depth": {"method": "uniformint", "dimension": {"low": 1, "high": 4}},
    "drop": {"method": "quniform", "dimension": {"low": 0, "high": 0.5, "q": 0.1}},
}
def test_batch_of_trials_records_decoded_params_and_metrics(tmp_path, slurm_cli, slurm_cluster):
    name = make_slurm_project(tmp_path, ECHO, SPACE, algorithm="hyperopt", trials=6, slurm={"workers": 3})
    r = slurm_cli("slurm_run", name, "--seed", "3")
    assert r.exit_code == 0, r.output
    assert "This run (hyperopt, fifo): 6 completed, 0 failed, 0 interrupted" in r.output
    assert "[hpogrid] 6/6 trials: 6 done, 0 failed, 0 running, 0 pending | best loss=" in r.output
    done = trials(name)
    assert len(done) == 6 and {t.state for t in done} == {"COMPLETED"}
    assert {t.backend for t in done} == {"slurm"} and {t.host for t in done} == {slurm_cluster}
    assert len({t.job_id for t in done}) == 6 and all(t.job_id.isdigit() for t in done)
    for t in done:
        # the job saw exactly the decoded values the store recorded, and the metric is its echo
        echo = json.loads(t.metrics["echo"])
        assert echo == {k: t.params[k] for k in sorted(t.params)}
        assert t.value == pytest.approx(len(t.metrics["echo"]))
        assert t.params["units"] in (16, "wide", [1, 2]) and isinstance(t.params["depth"], int)
        assert 1e-4 <= t.params["lr"] <= 1e-1 and t.metrics["training_iteration"] == 1
        assert job_state(t.job_id) == "COMPLETED" and t.started_at is not None and t.finished_at is not None
        folder = t.annotations["trial_dir"]
        assert {"trial.json", "result.json", "stdout.log", "stderr.log"} <= set(os.listdir(folder))
    # what report reads: the same study store as local_run
    df = load(name).to_dataframe()
    assert len(df) == 6 and {"param.lr", "param.units", "metric.loss"} <= set(df.columns)


def test_gpu_gres_reaches_the_job(tmp_path):
    script = """
    import os

    def objective(config):
        return {"loss": config["x"], "cvd": os.environ.get("CUDA_VISIBLE_DEVICES", "unset"),
                "gpus": os.environ.get("SLURM_JOB_GPUS", "unset")}
    """
    name = make_slurm_project(tmp_path, script, UNI, trials=2, slurm={"gres": "gpu:1", "workers": 2})
    summary = run_slurm(load_project(name), SlurmOptions(progress=False))
    done = trials(name)
    assert summary.counts["COMPLETED"] == 2, [t.error for t in done]
    assert {t.metrics["cvd"] for t in done} <= {"0", "1"}
    assert all(t.metrics["gpus"] != "unset" for t in done)


def test_failing_trials_are_recorded_with_the_reason_and_the_run_goes_on(tmp_path):
    name = make_slurm_project(tmp_path, KINDS_SCRIPT, grid_of_kinds("raise", "exit", "ok"), algorithm="tune", trials=3)
    summary = run_slurm(load_project(name), SlurmOptions(progress=False))
    by_kind = {t.params["kind"]: t for t in trials(name)}
    assert summary.counts["FAILED"] == 2 and summary.counts["COMPLETED"] == 1
    raised, exited, ok = by_kind["raise"], by_kind["exit"], by_kind["ok"]
    assert raised.state == "FAILED" and "ValueError: boom from the objective" in raised.error
    assert "Traceback" in raised.error and job_state(raised.job_id) == "FAILED"
    assert exited.state == "FAILED" and exited.error.startswith("Slurm: FAILED with exit code 3:0")
    assert "about to exit with 3" in exited.error
    assert ok.state == "COMPLETED" and ok.value == 2.0


def test_scancel_from_outside_interrupts_that_trial_and_the_run_goes_on(tmp_path):
    name = make_slurm_project(tmp_path, KINDS_SCRIPT, grid_of_kinds("sleep60", "a", "b"), algorithm="tune", trials=3,
                              slurm={"workers": 1})
    result = {}
    runner = threading.Thread(target=lambda: result.update(
        summary=run_slurm(load_project(name), SlurmOptions(progress=False))))
    runner.start()
    deadline = time.time() + 60
    victim = None
    while time.time() < deadline and victim is None:
        time.sleep(0.2)
        victim = next((t for t in trials(name, states=["RUNNING"]) if t.params["kind"] == "sleep60"), None)
    assert victim is not None, "the sleeping trial never ran"
    subprocess.run(["scancel", victim.job_id], check=True)
    runner.join(timeout=90)
    assert not runner.is_alive()
    by_kind = {t.params["kind"]: t for t in trials(name)}
    cut = by_kind["sleep60"]
    assert cut.state == "INTERRUPTED" and cut.error.startswith("Slurm: CANCELLED"), cut.error
    assert by_kind["a"].state == by_kind["b"].state == "COMPLETED"  # submitted after the cancel
    assert result["summary"].counts == {**result["summary"].counts, "COMPLETED": 2, "INTERRUPTED": 1}
    assert result["summary"].stop_reason is None


def test_max_failures_stops_the_study_with_a_clear_message(tmp_path, slurm_cli):
    script = """
    def objective(config):
        raise RuntimeError(f"always fails ({config['x']:.2f})")
    """
    name = make_slurm_project(tmp_path, script, UNI, trials=20, slurm={"workers": 2, "max_failures": 2})
    r = slurm_cli("slurm_run", name)
    assert r.exit_code == 1, r.output
    assert "Error: stopped after 2 failed trials (max_failures=2); last error: RuntimeError: always fails" in r.output
    recorded = trials(name)
    states = [t.state for t in recorded]
    assert states.count("FAILED") == 2 and len(recorded) < 20
    assert set(states) <= {"FAILED", "INTERRUPTED"}
    assert not in_squeue([t.job_id for t in recorded])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGQUIT, signal.SIGTERM], ids=["SIGINT", "SIGQUIT", "SIGTERM"])
def test_cancelling_the_driver_scancels_its_jobs_and_exits_130(tmp_path, hpogrid_home, sig):
    script = """
    import time

    def objective(config):
        time.sleep(120)
        return config["x"]
    """
    name = make_slurm_project(tmp_path, script, UNI, trials=10, slurm={"workers": 3})
    env = {**os.environ, "HPOGRID_HOME": str(hpogrid_home)}
    proc = subprocess.Popen([sys.executable, "-c", CLI_CODE, "slurm_run", name], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(trials(name, states=["RUNNING"])) < 3:
            time.sleep(0.2)
        assert len(trials(name, states=["RUNNING"])) == 3
        if sig in (signal.SIGINT, signal.SIGQUIT):  # Ctrl-C / Ctrl-\: the foreground process group gets it
            os.killpg(proc.pid, sig)
        else:  # kill PID
            proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    recorded = trials(name)
    seen = [(t.state, t.error, t.job_id) for t in recorded]
    assert proc.returncode == 130, (err[-2000:], seen)
    assert len(recorded) == 3 and {t.state for t in recorded} == {"INTERRUPTED"}, seen
    assert all("interrupted by the user" in t.error for t in recorded), seen
    assert not in_squeue([t.job_id for t in recorded])
    assert {job_state(t.job_id) for t in recorded} == {"CANCELLED"}
    assert "Interrupted: running jobs were cancelled" in err and "Traceback" not in err, err[-2000:]
    assert f"Continue with: hpogrid slurm_run {name} --resume" in err


#: the 3rd and 4th trials hang on their first attempt (until scancelled); every re-run is quick
HANGS_ONCE = """
import os, time

SEEN = {seen!r}

def objective(config):
    key = os.path.join(SEEN, repr(config["x"]))
    first = not os.path.exists(key)
    open(key, "a").close()
    if first and len(os.listdir(SEEN)) in (3, 4):
        time.sleep(300)
    return {{"loss": config["x"]}}
"""


def test_resume_after_the_driver_was_killed_cancels_its_jobs_and_reruns_them_once(tmp_path, hpogrid_home,
                                                                                slurm_cli):
    seen = tmp_path / "seen"
    seen.mkdir()
    name = make_slurm_project(tmp_path, HANGS_ONCE.format(seen=str(seen)), UNI, trials=5, slurm={"workers": 2})
    env = {**os.environ, "HPOGRID_HOME": str(hpogrid_home)}
    proc = subprocess.Popen([sys.executable, "-c", CLI_CODE, "slurm_run", name], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and (len(trials(name, states=["COMPLETED"])) < 2
                                          or len(trials(name, states=["RUNNING"])) < 2):
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)  # no chance to scancel anything
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = {t.uid: t for t in trials(name)}
    hung = {uid: t for uid, t in before.items() if t.state == "RUNNING"}
    done = {uid: t for uid, t in before.items() if t.state == "COMPLETED"}
    assert len(hung) == 2 and len(done) == 2, [(t.uid, t.state, t.error) for t in before.values()]
    old_jobs = [t.job_id for t in hung.values()]
    assert sorted(in_squeue(old_jobs)) == sorted(old_jobs)  # orphans: their driver is gone

    r = slurm_cli("slurm_run", name, "--resume")
    assert r.exit_code == 0, r.output
    assert "scancelled 2 job(s) of the earlier slurm_run" in r.output
    assert "resuming study" in r.output and "2 trials kept, 2 to re-run, 1 new" in r.output
    after = {t.uid: t for t in trials(name)}
    assert len(after) == 5 and {t.state for t in after.values()} == {"COMPLETED"}, \
        [(t.uid, t.state, t.error) for t in after.values()]
    for uid, t in hung.items():  # re-run once: same uid, same values, a new job
        assert after[uid].params == t.params and after[uid].value == t.params["x"]
        assert after[uid].job_id != t.job_id
    for uid, t in done.items():  # kept as they were
        assert (after[uid].job_id, after[uid].value, after[uid].finished_at) == (t.job_id, t.value, t.finished_at)
    assert not in_squeue(old_jobs) and {job_state(j) for j in old_jobs} == {"CANCELLED"}
    assert len(os.listdir(seen)) == 5  # each configuration ran: 4 before the kill, 1 new one after
    backup = {t.uid: t.state for t in trials(name, study=f"{name}_backup-1")}
    assert backup == {uid: t.state for uid, t in before.items()}


def test_trainable_class_runs_to_its_stop_criteria(tmp_path, hpogrid_home):
    from hpogrid.configs import NamedStore
    from hpogrid.project import create_project

    NamedStore("model_config").create("m", {"script": "simple_trainable.py", "model": "MyTrainableClass"})
    NamedStore("search_space").create("s", {
        "alpha": {"method": "uniform", "dimension": {"low": -10, "high": 10}},
        "beta": {"method": "categorical", "dimension": {"categories": [-1, 0, 1, 2, 3, 4, 5]}}})
    NamedStore("hpo_config").create("h", {"metric": "loss", "mode": "min", "algorithm": "optuna", "trials": 3,
                                          "stop": {"training_iteration": 3}})
    NamedStore("slurm_config").create("sc", {"mem": "300M", "time": "5", "poll_interval": 0.2})
    create_project("ex2", str(EXAMPLE_SCRIPTS / "simple_trainable.py"),
                   {"model_config": "m", "search_space": "s", "hpo_config": "h", "slurm_config": "sc"})
    summary = run_slurm(load_project("ex2"), SlurmOptions(seed=1, progress=False))
    done = trials("ex2")
    assert summary.counts["COMPLETED"] == 3, [t.error for t in done]
    assert any("scheduler 'asynchyperband' is not applied" in n for n in summary.notes)
    for t in done:
        a, b = t.params["alpha"], t.params["beta"]
        assert [m["training_iteration"] for m in t.intermediate] == [1, 2, 3]
        assert t.value == pytest.approx((a - 2) ** 2 + abs(b - 1) + 1.0 / 3)
        assert "trainable" in os.listdir(t.annotations["trial_dir"])  # its logdir, not ~/ray_results


def test_a_function_reporting_with_tune_report_keeps_every_iteration(tmp_path):
    script = """
    from ray import tune

    def objective(config):
        for i in range(1, 10):
            tune.report({"loss": config["x"] * 10 / i})
        raise AssertionError("the stop criteria should have ended the function at iteration 4")
    """
    name = make_slurm_project(tmp_path, script, UNI, trials=2, stop={"training_iteration": 4})
    summary = run_slurm(load_project(name), SlurmOptions(progress=False))
    done = trials(name)
    assert summary.counts["COMPLETED"] == 2, [t.error for t in done]
    for t in done:
        assert [m["training_iteration"] for m in t.intermediate] == [1, 2, 3, 4]
        assert t.value == pytest.approx(t.params["x"] * 10 / 4)


def test_a_program_objective_runs_in_the_job(tmp_path):
    pytest.importorskip("hpogrid.objective.program")
    prog = """
    import sys
    x = float(sys.argv[2])
    print("warming up")
    print(f"RESULT: {(x - 0.5) ** 2}")
    """
    model = {"command": f"{sys.executable} prog.py --x {{x}}"}
    try:
        name = make_slurm_project(tmp_path, "", UNI, model=model, files={"prog.py": prog}, trials=2)
    except Exception as exc:  # noqa: BLE001 - model_config without 'command' in this checkout
        pytest.skip(f"model_config.command is not available: {exc}")
    summary = run_slurm(load_project(name), SlurmOptions(progress=False))
    done = trials(name)
    assert summary.counts["COMPLETED"] == 2, [t.error for t in done]
    assert all(t.value == pytest.approx((t.params["x"] - 0.5) ** 2) for t in done)


def test_sbatch_rejecting_the_request_is_one_line_and_costs_no_trial(tmp_path, slurm_cli):
    name = make_slurm_project(tmp_path, ECHO, UNI, trials=2, slurm={"gres": "gpu:3"})  # the node has 2
    r = slurm_cli("slurm_run", name)
    assert r.exit_code == 1
    lines = r.output.strip().splitlines()
    assert lines[-1].startswith("Error: sbatch rejected the job: ") and "Traceback" not in r.output, r.output
    assert trials(name) == []


@pytest.mark.parametrize("url", [os.environ.get("HPOGRID_TEST_POSTGRES_URL",
                                                 "postgresql+psycopg2://postgres@127.0.0.1:5432/test")],
                         ids=["postgresql"])
def test_trials_land_in_a_shared_study_store(tmp_path, url):
    from hpogrid import paths
    from hpogrid.study import StudyStore

    try:
        StudyStore(url).list_studies()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"database server unreachable: {exc}")
    name = make_slurm_project(tmp_path, ECHO, UNI, trials=2)
    summary = run_slurm(load_project(name), SlurmOptions(study_url=url, progress=False))
    store = StudyStore(url)
    try:
        recorded = store.trials(name)
        assert summary.counts["COMPLETED"] == 2 and [t.state for t in recorded] == ["COMPLETED"] * 2
        assert all(t.backend == "slurm" and t.job_id for t in recorded)
        assert not paths.study_db(name).exists()  # nothing went to the default SQLite file
    finally:
        store.delete_study(name)


def test_finished_jobs_are_found_in_the_jobcomp_log_too(tmp_path):
    from hpogrid.backends.slurm._sbatch import SlurmClient

    name = make_slurm_project(tmp_path, ECHO, UNI, trials=1)
    run_slurm(load_project(name), SlurmOptions(progress=False))
    (trial,) = trials(name)
    client = SlurmClient()
    record = client._from_jobcomp(trial.job_id)  # what the driver uses once scontrol forgot a job
    assert record.state == "COMPLETED" and record.node == trial.host and record.end is not None
    assert client.final(trial.job_id).state == "COMPLETED"


def test_a_job_over_its_time_limit_is_a_failed_trial_with_slurms_reason(timeout_run):
    from hpogrid.study import StudyStore, sqlite_url

    proc, name, home = timeout_run
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-2000:]
    recorded = StudyStore(sqlite_url(home / "projects" / name / "study.db")).trials(name)
    by_kind = {t.params["kind"]: t for t in recorded}
    slow = by_kind["sleep"]
    assert slow.state == "FAILED" and slow.error.startswith("Slurm: TIMEOUT after 00:01:"), slow.error
    assert "(time limit 00:01:00)" in slow.error and job_state(slow.job_id) == "TIMEOUT"
    # what the job reported before Slurm killed it is kept
    assert [m["loss"] for m in slow.intermediate] == [5.0] and slow.metrics["loss"] == 5.0
    assert by_kind["ok"].state == "COMPLETED"
    assert "This run (tune, fifo): 1 completed, 1 failed, 0 interrupted" in out
    assert "Failed trials: 1; last error: Slurm: TIMEOUT after 00:01:" in out
