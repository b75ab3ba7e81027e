"""``slurm_run`` end to end on a REAL single-node Slurm: every trial is an sbatch job."""
import json
import os
import re
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
from tests.backends.slurm.helpers import (KINDS_SCRIPT, UNI, grid_of_kinds, job_state, make_slurm_project, trials)

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
    assert "[hpogrid] 6/6 trials: 6 done, 0 failed, 0 running | best loss=" in r.output
    done = trials(name)
    assert len(done) == 6 and {t.state for t in done} == {"COMPLETED"}
    assert {t.backend for t in done} == {"slurm"} and {t.host for t in done} == {slurm_cluster}
    # each trial is one task of a job array (``<array>_<index>``); the first three started together: one array
    assert len({t.job_id for t in done}) == 6 and all(re.fullmatch(r"\d+_\d+", t.job_id) for t in done)
    first = sorted(done, key=lambda t: t.number)[:3]
    assert len({t.job_id.split("_")[0] for t in first}) == 1, [t.job_id for t in first]
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
    assert not result["summary"].interrupted








def test_trainable_class_runs_to_its_stop_criteria(tmp_path, hpogrid_home):
    from hpogrid.configs import NamedStore
    from hpogrid.project import create_project

    NamedStore("model_config").create("m", {"script": "simple_trainable.py", "model": "MyTrainableClass"})
    NamedStore("search_space").create("s", {
        "alpha": {"method": "uniform", "dimension": {"low": -10, "high": 10}},
        "beta": {"method": "categorical", "dimension": {"categories": [-1, 0, 1, 2, 3, 4, 5]}}})
    NamedStore("hpo_config").create("h", {"metric": "loss", "mode": "min", "algorithm": "optuna", "trials": 3,
                                          "scheduler": "fifo", "stop": {"training_iteration": 3}})
    NamedStore("slurm_config").create("sc", {"mem": "300M", "time": "5", "poll_interval": 0.2})
    create_project("ex2", str(EXAMPLE_SCRIPTS / "simple_trainable.py"),
                   {"model_config": "m", "search_space": "s", "hpo_config": "h", "slurm_config": "sc"})
    summary = run_slurm(load_project("ex2"), SlurmOptions(seed=1, progress=False))
    done = trials("ex2")
    assert summary.counts["COMPLETED"] == 3, [t.error for t in done]
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
