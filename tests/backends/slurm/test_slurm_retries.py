"""Retries on the real single-node Slurm: a job whose payload is SIGKILLed is lost, and the
engine submits the trial again, which resumes from its checkpoint; a failure rule's
``exclude_node`` keeps the node out of the run's later jobs."""
import pytest

from hpogrid.backends.slurm import SlurmOptions, run_slurm
from hpogrid.project import load_project
from hpogrid.study.records import ATTEMPTS
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
