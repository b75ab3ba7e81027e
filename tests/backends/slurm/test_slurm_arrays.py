"""``slurm_run`` submits the trials it starts together as ONE job array (real single-node Slurm):
one sbatch per fill, a trial is task ``<array>_<index>`` (cancelled alone by ``scancel``), and a
driver killed with an array in flight is resumed from the job ids the study holds."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hpogrid.backends.slurm import SlurmOptions, run_slurm
from hpogrid.project import load_project
from tests.conftest import REPO
from tests.backends.slurm.helpers import CLI_CODE, UNI, grid_of_kinds, in_squeue, make_slurm_project, trials

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("slurm_cluster")]
QUICK = "def objective(config):\n    return {'loss': config['x'] ** 2}\n"
#: "hold" trials mark that they run, then wait for the release file - on their first start only
#: (a re-run after resume finds its earlier mark and ends at once); the others end at once
HELD = """
import time, uuid
from pathlib import Path
from hpogrid.trial import trial_uid

def objective(config):
    marks = Path(config["marks"])
    again = any(m.name.startswith(trial_uid() + ".") for m in marks.iterdir())
    (marks / f"{trial_uid()}.{uuid.uuid4().hex}").write_text(config["kind"])
    if config["kind"].startswith("hold") and not again:
        deadline = time.time() + 300
        while not (marks / "release").exists() and time.time() < deadline:
            time.sleep(0.05)
    return {"loss": float(len(config["kind"]))}
"""


def _arrays(recorded) -> dict:
    """array id -> sorted task indices, from the job ids the study recorded"""
    out: dict = {}
    for t in recorded:
        array, _, index = t.job_id.partition("_")
        out.setdefault(array, []).append(int(index))
    return {a: sorted(i) for a, i in out.items()}


def _held_project(tmp_path: Path, kinds, **hpo):
    marks = tmp_path / "marks"
    marks.mkdir()
    name = make_slurm_project(tmp_path, HELD, grid_of_kinds(*kinds), algorithm="tune", trials=len(kinds),
                              model={"script": "train.py", "model": "objective", "param": {"marks": str(marks)}},
                              **hpo)
    return name, marks


def _wait_for(condition, what: str, limit: float = 120, proc=None):
    deadline = time.monotonic() + limit
    while not condition():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the driver ended (exit {proc.returncode}) before {what}:\n{err[-3000:]}")
        assert time.monotonic() < deadline, f"no {what} within {limit} s"
        time.sleep(0.1)


def test_trials_started_together_are_one_sbatch_array(tmp_path):
    name = make_slurm_project(tmp_path, QUICK, UNI, trials=8, slurm={"workers": 8})
    summary = run_slurm(load_project(name), SlurmOptions(seed=1, progress=False))
    done = trials(name)
    assert summary.counts["COMPLETED"] == 8 and {t.state for t in done} == {"COMPLETED"}
    # one fill of 8 places: one sbatch, tasks 0-7, each trial's own folder and result
    assert list(_arrays(done).values()) == [list(range(8))], [t.job_id for t in done]
    assert all(t.value == pytest.approx(t.params["x"] ** 2) for t in done)
    for t in done:
        folder = Path(t.annotations["trial_dir"])
        assert (folder / "stdout.log").exists() and (folder / "result.json").exists()
        index = t.job_id.partition("_")[2]
        assert (folder.parent / "array-0001" / index).resolve() == folder.resolve()


def test_one_cancelled_task_of_an_array_is_interrupted_and_the_others_complete(tmp_path):
    name, marks = _held_project(tmp_path, ["hold", "a", "bb", "ccc"], slurm={"workers": 4})
    result = {}
    runner = threading.Thread(target=lambda: result.update(
        summary=run_slurm(load_project(name), SlurmOptions(progress=False))))
    runner.start()
    victim = []
    _wait_for(lambda: victim.extend(t for t in trials(name, states=["RUNNING"]) if t.params["kind"] == "hold")
              or victim, "running held trial")
    subprocess.run(["scancel", victim[0].job_id], check=True)  # that task alone: 123_4
    runner.join(timeout=120)
    assert not runner.is_alive()
    got = {t.params["kind"]: t for t in trials(name)}
    assert got["hold"].state == "INTERRUPTED" and got["hold"].error.startswith("Slurm: CANCELLED"), got["hold"].error
    assert {got[k].state for k in ("a", "bb", "ccc")} == {"COMPLETED"}
    assert len(_arrays(got.values())) == 1  # the four were one array
    assert result["summary"].counts == {**result["summary"].counts, "COMPLETED": 3, "INTERRUPTED": 1}


def test_a_driver_killed_with_an_array_in_flight_is_resumed(tmp_path):
    name, marks = _held_project(tmp_path, ["hold", "hold2", "q"], slurm={"workers": 3})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", CLI_CODE, "slurm_run", name], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    held = lambda: len([m for m in marks.iterdir() if m.read_text().startswith("hold")]) == 2  # noqa: E731
    _wait_for(lambda: held() and len(trials(name, states=["COMPLETED"])) == 1, "2 held and 1 completed trial",
              proc=proc)
    _wait_for(lambda: all(t.job_id for t in trials(name)), "job ids recorded", proc=proc)
    before = {t.uid: t for t in trials(name)}
    assert len(_arrays(before.values())) == 1  # one array, two of its tasks still running
    in_flight = [t.job_id for t in before.values() if t.state != "COMPLETED"]
    os.kill(proc.pid, signal.SIGKILL)  # the driver only: the array's tasks live on
    proc.communicate(timeout=60)
    assert sorted(in_squeue(in_flight)) == sorted(in_flight)

    summary = run_slurm(load_project(name), SlurmOptions(resume=True, progress=False))
    after = {t.uid: t for t in trials(name)}
    assert {t.state for t in after.values()} == {"COMPLETED"} and len(after) == 3
    assert any(all(j in n for j in in_flight) for n in summary.notes), summary.notes  # scancelled by task id
    assert in_squeue(in_flight) == []
    starts = {}
    for mark in marks.iterdir():
        starts.setdefault(mark.name.split(".")[0], []).append(mark)
    assert sorted(len(v) for v in starts.values()) == [1, 2, 2]  # the held ones ran once more, q kept
    rerun = [t for t in after.values() if t.params["kind"].startswith("hold")]
    assert all(t.job_id not in in_flight for t in rerun)  # in a new array of the resumed run
