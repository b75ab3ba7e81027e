"""Retries on the real single-node Slurm: a job whose payload is SIGKILLed is lost, and the
engine submits the trial again, which resumes from its checkpoint; a failure rule's
``exclude_node`` keeps the node out of the run's later jobs; a job Slurm requeues is a lost
attempt, and the same job goes on from the checkpoint."""
import contextlib
import subprocess
import threading
import time
from typing import Callable, Dict

import pytest

from hpogrid.backends.slurm import SlurmOptions, run_slurm
from hpogrid.project import load_project
from hpogrid.study.records import ATTEMPTS
from hpogrid.trial import ANNOTATIONS_FILE, read_annotations
from tests.backends.slurm.helpers import UNI, make_slurm_project, trials
from tests.engine.test_retries import CHECKPOINTED

pytestmark = pytest.mark.slow


def _project(tmp_path, die="kill", again=False, **hpo):
    return make_slurm_project(tmp_path, CHECKPOINTED.format(die=die, again=again), UNI, trials=1,
                              algorithm="random", stop={"training_iteration": 100}, **hpo)


def test_a_killed_job_is_retried_from_its_checkpoint_and_completes(tmp_path, slurm_cluster):
    name = _project(tmp_path, max_retries=1)
    summary = run_slurm(load_project(name), SlurmOptions(progress=False))
    (trial,) = trials(name)
    assert trial.state == "COMPLETED" and summary.counts["COMPLETED"] == 1, trial.error
    assert trial.annotations["started_at_6"] is True and trial.metrics["epoch"] == 10
    (attempt,) = trial.annotations[ATTEMPTS]
    assert attempt["reason"] == "killed by SIGKILL" and attempt["where"] == {"node": slurm_cluster}


def test_a_second_loss_fails_the_trial_with_both_attempts_recorded(tmp_path, slurm_cluster):
    name = _project(tmp_path, again=True, max_retries=1)
    run_slurm(load_project(name), SlurmOptions(progress=False))
    (trial,) = trials(name)
    assert trial.state == "FAILED"
    assert [(a["attempt"], a["reason"]) for a in trial.annotations[ATTEMPTS]] == \
        [(1, "killed by SIGKILL"), (2, "killed by SIGKILL")]


def test_an_exclude_node_rule_keeps_the_node_out_of_the_next_job(tmp_path, slurm_cluster, monkeypatch):
    from hpogrid.backends.slurm import _executor

    submitted = []

    def recording_submit(argv, env=None):
        submitted.append(list(argv))
        return real_submit(argv, env=env)

    real_submit = _executor.submit
    monkeypatch.setattr(_executor, "submit", recording_submit)
    name = _project(tmp_path, die="raise", max_retries=1,
                    failure_rules=[{"match": "CUDA out of memory", "action": "exclude_node"}])
    run_slurm(load_project(name), SlurmOptions(progress=False))
    assert len(submitted) == 2
    assert not any(a.startswith("--exclude") for a in submitted[0])
    assert f"--exclude={slurm_cluster}" in submitted[1]
    (trial,) = trials(name)
    # the only node of this cluster is excluded: Slurm refuses the retry, and says so
    assert trial.state == "FAILED" and "could not start the retry" in trial.error
    first = trial.annotations[ATTEMPTS][0]
    assert first["reason"] == "rule: CUDA out of memory" and first["where"] == {"node": slurm_cluster}


#: reports and checkpoints ten epochs; the first attempt asks Slurm to requeue its own job after
#: epoch 5 (as preemption with requeue does) and waits to be stopped
REQUEUES_ITSELF = """
import json, os, subprocess, time
from hpogrid import trial

def objective(config):
    last = trial.last_checkpoint()
    start = json.loads((last / "state.json").read_text())["epoch"] + 1 if last else 1
    trial.annotate("started_at_" + str(start), trial.restored())
    for epoch in range(start, 11):
        trial.report(epoch, loss=config["x"] + 10 - epoch)
        (trial.checkpoint_dir() / "state.json").write_text(json.dumps({"epoch": epoch}))
        if epoch == 5 and start == 1:
            subprocess.run(["scontrol", "requeue", os.environ["SLURM_JOB_ID"]], check=True)
            time.sleep(600)  # Slurm stops this attempt
"""


@contextlib.contextmanager
def _released(prefix: str, ready: Callable[[], bool]):
    """Slurm holds a requeued job for two minutes (``Reason=BeginTime``): while the block runs,
    a job named ``prefix...`` seen held so is released once ``ready()`` says the driver has seen
    it queued again (released at once, the new attempt could start before any poll of the
    driver saw the job wait, and the requeue would go unnoticed), and not in the clock second it
    was first seen held: slurmd refuses a launch whose credential is from the second in which it
    revoked the lost attempt's ("Job credential revoked": the job FAILED), what the hold is for."""
    done = threading.Event()

    def watch():
        held_in: Dict[str, int] = {}  # job -> the clock second it was first seen held
        while not done.wait(0.2):
            out = subprocess.run(["squeue", "--noheader", "--format=%i|%j|%T|%r"], capture_output=True,
                                 text=True).stdout
            for line in out.splitlines():
                job, jname, state, reason = (line.split("|") + ["", "", "", ""])[:4]
                if not (jname.startswith(prefix) and state == "PENDING" and reason == "BeginTime"):
                    held_in.pop(job, None)
                    continue
                held_in.setdefault(job, int(time.time()))
                # (the revocation came before the hold: a launch from a later second is accepted)
                if int(time.time()) > held_in[job] and ready():
                    subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], capture_output=True)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def test_a_requeued_job_is_a_lost_attempt_and_goes_on_from_its_checkpoint(tmp_path, slurm_cluster):
    """``scontrol requeue`` (what preemption with requeue does): Slurm runs the same job again;
    the run records the attempt it lost (REQUEUED, on the node, with its steps) and the new
    attempt resumes at epoch 6 from the checkpoint of epoch 5: the curve has steps 1..10 once."""
    name = make_slurm_project(tmp_path, REQUEUES_ITSELF, UNI, trials=1, algorithm="random",
                              stop={"training_iteration": 100}, max_retries=1)
    project = load_project(name)

    def lost_attempt_recorded() -> bool:
        return any(ATTEMPTS in read_annotations(p.parent) for p in project.path.rglob(ANNOTATIONS_FILE))

    with _released(f"hpogrid-{name}", lost_attempt_recorded):  # the array's job name
        summary = run_slurm(project, SlurmOptions(progress=False))
    (trial,) = trials(name)
    assert trial.state == "COMPLETED" and summary.counts["COMPLETED"] == 1, trial.error
    assert trial.annotations["started_at_6"] is True
    (attempt,) = trial.annotations[ATTEMPTS]
    assert attempt["reason"] == "REQUEUED" and attempt["where"] == {"node": slurm_cluster}
    assert [h["step"] for h in attempt["intermediate"]] == [1, 2, 3, 4, 5]
    assert [(h["step"], h["attempt"]) for h in trial.intermediate] == [(s, 1 if s <= 5 else 2) for s in range(1, 11)]
