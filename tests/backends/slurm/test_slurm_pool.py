"""``slurm_run --pool K`` on the real single-node Slurm: K long-lived worker jobs take trial
after trial from the study store (SQLite here, and the real PostgreSQL and MariaDB), and a
worker killed with scancel loses its trial, which the engine runs once more (max_retries 1),
nothing lost."""
import subprocess
import threading
import time
from pathlib import Path

import pytest

from hpogrid.backends.slurm import SlurmOptions, run_slurm
from hpogrid.project import load_project
from tests.backends.slurm.helpers import UNI, grid_of_kinds, make_slurm_project, trials

pytestmark = pytest.mark.slow
QUICK = "def objective(config):\n    return {'loss': config['x'] ** 2}\n"
BLOCKING = """
import time
from pathlib import Path

def objective(config):
    if config["kind"] == "block":  # held until the test says go (it kills its worker meanwhile)
        Path(config["flag"] + ".started").touch()  # (its process took SIGTERM in hand by now)
        while not Path(config["flag"]).exists():
            time.sleep(0.05)
    return {"loss": float(len(config["kind"]))}
"""


def _url(kind, tmp_path):
    if kind == "sqlite":
        return None
    from tests.study.conftest import SERVER_URLS
    from hpogrid.study import StudyStore

    try:
        StudyStore(SERVER_URLS[kind]).list_studies()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"{kind} server unreachable: {exc}")
    return SERVER_URLS[kind]


#: each run of a trial appends its uid to the ``runs`` file: a trial two workers ran shows twice
COUNTED = """
from hpogrid.trial import trial_uid

def objective(config):
    with open(config["runs"], "a") as fh:
        fh.write(trial_uid() + "\\n")
    return {"loss": config["x"] ** 2}
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_workers_run_every_trial_from_the_study_once(tmp_path, slurm_cluster, kind):
    url = _url(kind, tmp_path)
    runs = tmp_path / "runs.txt"
    runs.touch()
    name = make_slurm_project(tmp_path, COUNTED, UNI, trials=16, slurm={"pool": 4},
                              model={"script": "train.py", "model": "objective", "param": {"runs": str(runs)}})
    summary = run_slurm(load_project(name), SlurmOptions(study_url=url, seed=3, progress=False))
    from hpogrid.study import StudyStore, sqlite_url
    from hpogrid import paths

    store = StudyStore(url or sqlite_url(paths.study_db(name)))
    try:
        got = store.trials(name)
        assert summary.counts["COMPLETED"] == 16 and [t.state for t in got] == ["COMPLETED"] * 16, \
            [t.error for t in got]
        assert all(t.backend == "slurm-pool" and t.value == pytest.approx(t.params["x"] ** 2) for t in got)
        assert len({t.job_id for t in got}) <= 4  # sixteen trials, four Slurm jobs
        # nothing lost, nothing run twice: each trial's objective ran exactly once, by one of the workers
        assert sorted(runs.read_text().split()) == sorted(t.uid for t in got)
    finally:
        if url:
            store.delete_study(name)
        store.close()


def test_a_scancelled_worker_leaves_its_trial_to_run_once_more(tmp_path, slurm_cluster):
    flag = tmp_path / "go"
    name = make_slurm_project(tmp_path, BLOCKING, grid_of_kinds("block", "a", "b", "c"), algorithm="tune", trials=4,
                              max_retries=1,
                              slurm={"pool": 2}, model={"script": "train.py", "model": "objective",
                                                        "param": {"flag": str(flag)}})
    result = {}
    runner = threading.Thread(target=lambda: result.update(
        summary=run_slurm(load_project(name), SlurmOptions(progress=False))))
    runner.start()
    deadline = time.time() + 90
    victim = None
    while time.time() < deadline and victim is None:  # the blocked trial, claimed by a worker
        time.sleep(0.1)
        victim = next((t for t in trials(name, states=["RUNNING"]) if t.params["kind"] == "block" and t.job_id), None)
    assert victim is not None, "no worker took the blocked trial"
    # the model runs: the trial's process catches SIGTERM and writes a result saying so (a
    # cancelled worker's trial must still run again, not end as failed)
    while time.time() < deadline and not Path(f"{flag}.started").exists():
        time.sleep(0.1)
    subprocess.run(["scancel", victim.job_id], check=True)
    while time.time() < deadline:  # queued again by the driver, then taken by another worker
        again = next(t for t in trials(name) if t.uid == victim.uid)
        if again.state == "RUNNING" and again.job_id != victim.job_id:
            break
        time.sleep(0.1)
    flag.write_text("go")
    runner.join(timeout=120)
    assert not runner.is_alive()
    got = {t.params["kind"]: t for t in trials(name)}
    assert len(got) == 4 and {t.state for t in got.values()} == {"COMPLETED"}
    assert got["block"].job_id != victim.job_id and got["block"].value == 5.0
    (attempt,) = got["block"].annotations["attempts"]
    assert attempt["reason"] == "CANCELLED" and attempt["attempt"] == 1 and attempt["where"]["node"]
    assert result["summary"].counts["COMPLETED"] == 4
