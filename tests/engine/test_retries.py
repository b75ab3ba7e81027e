"""Retries of trials that did not finish: from the trial's checkpoint, same uid, attempts recorded.

The retry rule is the engine's (backend-independent: on the fake backend, where a trial's own
error stands in for a lost process with ``retry_on: ["error"]``); each backend says only how a
trial was lost (one real run each: the pool's worker killed by SIGKILL, Slurm, Ray).
"""
from pathlib import Path

import pytest

from hpogrid import paths
from hpogrid.backends import RunOptions, get_backend
from hpogrid.errors import BackendError
from hpogrid.project import load_project
from hpogrid.study import StudyStore, sqlite_url
from hpogrid.study.records import ATTEMPTS, COMPLETED, FAILED
from tests.projects import make_project

#: ten epochs with a checkpoint after each; the first attempt dies at epoch 5 (``DIE`` says how:
#: "raise" its own error, "kill" SIGKILL to its own process); ``DIE_AGAIN``: the second too
CHECKPOINTED = """
import json, os, signal
from hpogrid import trial

DIE, DIE_AGAIN = {die!r}, {again!r}

def objective(config):
    last = trial.last_checkpoint()
    start = json.loads((last / "state.json").read_text())["epoch"] + 1 if last else 1
    trial.annotate("started_at_" + str(start), trial.restored())
    for epoch in range(start, 11):
        (trial.checkpoint_dir() / "state.json").write_text(json.dumps({{"epoch": epoch}}))
        if (epoch == 5 and start == 1) or (DIE_AGAIN and epoch == 7):
            if DIE == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError(f"CUDA out of memory at epoch {{epoch}}")
        trial.report(epoch, loss=config["x"] + 10 - epoch, epoch=epoch)
    return {{"loss": config["x"], "epoch": 10}}
"""


def _project(tmp_path: Path, die: str = "raise", again: bool = False, **hpo) -> str:
    return make_project(tmp_path, CHECKPOINTED.format(die=die, again=again), trials=1, algorithm="random",
                        scheduler="fifo", stop={"training_iteration": 100}, **hpo)


def _trials(name: str):
    return StudyStore(sqlite_url(paths.study_db(name))).trials(name)


def _run(backend: str, name: str, **options):
    return get_backend(backend).run(load_project(name), RunOptions(progress=False, **options))


def test_an_error_retried_on_request_resumes_from_its_checkpoint(tmp_path):
    name = _project(tmp_path, retry_on=["error"], max_retries=1)
    summary = _run("fake", name)
    (trial,) = _trials(name)
    assert trial.state == COMPLETED and summary.counts[COMPLETED] == 1
    assert trial.annotations["started_at_6"] is True and trial.annotations["started_at_1"] is False
    assert trial.metrics["epoch"] == 10
    (attempt,) = trial.annotations[ATTEMPTS]
    assert attempt["attempt"] == 1 and attempt["reason"] == "error" and "host" in attempt["where"]
    assert attempt["error"] == "RuntimeError: CUDA out of memory at epoch 5"
    assert attempt["ended"].endswith("+00:00")


def test_a_trial_s_own_error_is_not_retried_by_default(tmp_path):
    name = _project(tmp_path, max_retries=3)
    _run("fake", name)
    (trial,) = _trials(name)
    assert trial.state == FAILED
    assert [(a["attempt"], a["reason"]) for a in trial.annotations[ATTEMPTS]] == [(1, "error")]


def test_a_second_loss_fails_the_trial_with_both_attempts_recorded(tmp_path):
    """max_retries 1: the retry dies again; the run stops at max_failures 0 only then."""
    name = _project(tmp_path, again=True, retry_on=["error"], max_retries=1, max_failures=0)
    with pytest.raises(BackendError, match="stopped after 1 failed trials"):
        _run("fake", name)
    (trial,) = _trials(name)
    assert trial.state == FAILED
    first, second = trial.annotations[ATTEMPTS]
    assert (first["attempt"], second["attempt"]) == (1, 2)
    assert first["error"] == "RuntimeError: CUDA out of memory at epoch 5"
    assert second["error"] == "RuntimeError: CUDA out of memory at epoch 7"
    assert "CUDA out of memory at epoch 7" in trial.error
    # the attempt the trial ended with is its failure: `report --failures` counts it once
    assert second["final"] is True and "final" not in first
    from hpogrid.report import failure_digest

    digest = failure_digest([trial])
    assert (digest.failed, digest.lost_attempts) == (1, 1)


def test_failure_rules_retry_what_they_match_and_fail_the_rest(tmp_path):
    name = _project(tmp_path, max_retries=2, failure_rules=[{"match": "CUDA out of memory", "action": "retry"}])
    _run("fake", name)
    (trial,) = _trials(name)
    assert trial.state == COMPLETED
    assert trial.annotations[ATTEMPTS][0]["reason"] == "rule: CUDA out of memory"

    name = _project(tmp_path, retry_on=["error"], max_retries=2,
                    failure_rules=[{"match": "out of memory", "action": "fail"}])
    _run("fake", name)
    (trial,) = _trials(name)
    assert trial.state == FAILED and len(trial.annotations[ATTEMPTS]) == 1


def test_max_retries_on_the_command_line_overrides_the_hpo_config(tmp_path):
    name = _project(tmp_path, retry_on=["error"])
    _run("fake", name, max_retries=1)
    assert _trials(name)[0].state == COMPLETED


def test_pool_worker_killed_by_sigkill_is_retried_from_its_checkpoint(tmp_path, run_cli):
    """The real pool (``local_run``): the trial's worker process dies of SIGKILL at epoch 5 (as
    from the out-of-memory killer); the retry, in a fresh worker, resumes at epoch 6 and
    completes, and the command exits 0."""
    name = _project(tmp_path, die="kill")
    result = run_cli("local_run", name, "--n_jobs", "1", "--max_retries", "1")
    assert result.exit_code == 0, result.output
    (trial,) = _trials(name)
    assert trial.state == COMPLETED and trial.backend == "local", trial.error
    assert trial.annotations["started_at_6"] is True
    (attempt,) = trial.annotations[ATTEMPTS]
    assert attempt["reason"] == "killed by SIGKILL" and "signal SIGKILL" in attempt["error"]


@pytest.mark.slow
def test_ray_retries_a_trial_whose_worker_was_killed_from_its_checkpoint(tmp_path):
    """Real Ray Tune: the trial's worker process dies of SIGKILL at epoch 5; Tune runs it again
    (FailureConfig from max_retries) in the same trial folder, and it resumes at epoch 6."""
    name = _project(tmp_path, die="kill", max_retries=1)
    summary = _run("ray", name, n_jobs=1)
    (trial,) = _trials(name)
    assert trial.state == COMPLETED and summary.counts[COMPLETED] == 1, trial.error
    assert trial.annotations["started_at_6"] is True and trial.metrics["epoch"] == 10
    (attempt,) = trial.annotations[ATTEMPTS]
    assert attempt["reason"] == "worker died" and attempt["attempt"] == 1, attempt


TRAINABLE = """
import json, os
from ray.tune import Trainable

class Model(Trainable):
    def setup(self, config):
        self.epoch, self.first = 0, True

    def step(self):
        self.epoch += 1
        if self.epoch == 5 and self.first:
            raise RuntimeError("lost at epoch 5")
        return {"loss": 10.0 - self.epoch, "epoch": self.epoch, "done": self.epoch >= 8}

    def save_checkpoint(self, checkpoint_dir):
        return {"epoch": self.epoch}

    def load_checkpoint(self, state):
        self.epoch, self.first = state["epoch"], False
"""


def test_a_trainable_saves_and_loads_through_the_trial_checkpoint_folder(tmp_path):
    """Off Ray, a Trainable's save_checkpoint runs after each step into the trial's checkpoint
    folder and a retry's load_checkpoint gets it back: it resumes after epoch 4."""
    name = make_project(tmp_path, TRAINABLE, model={"script": "train.py", "model": "Model"}, trials=1,
                        algorithm="random", stop={"training_iteration": 100}, retry_on=["error"], max_retries=1)
    _run("fake", name)
    (trial,) = _trials(name)
    assert trial.state == COMPLETED, trial.error
    assert [h["epoch"] for h in trial.intermediate] == [5, 6, 7, 8]


#: ten epochs, reported and then checkpointed; the first attempt is killed (SIGKILL) at epoch 5
#: after reporting it but before its checkpoint: the retry resumes from epoch 4's and does 5 again
REPORT_THEN_SAVE = """
import json, os, signal
from hpogrid import trial

def objective(config):
    last = trial.last_checkpoint()
    start = json.loads((last / "state.json").read_text())["epoch"] + 1 if last else 1
    for epoch in range(start, 11):
        trial.report(epoch, loss=config["x"] + 10 - epoch + (0.5 if start == 1 else 0.0))
        if epoch == 5 and start == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        (trial.checkpoint_dir() / "state.json").write_text(json.dumps({"epoch": epoch}))
"""


def test_a_retried_trial_s_curve_keeps_the_lost_attempt_s_steps(tmp_path, run_cli):
    """The real pool: killed at epoch 5 (reported, not checkpointed), the retry resumes at 5.
    The study's curve has steps 1..10 once each (1-4 from the lost attempt, 5-10 from the
    retry, training_iteration 1..10 so a plot continues) and the lost attempt's own reports,
    its epoch 5 too, stay readable in its attempt record."""
    name = make_project(tmp_path, REPORT_THEN_SAVE, trials=1, algorithm="random", scheduler="fifo",
                        stop={"training_iteration": 100})
    result = run_cli("local_run", name, "--n_jobs", "1", "--max_retries", "1")
    assert result.exit_code == 0, result.output
    (trial,) = _trials(name)
    assert trial.state == COMPLETED, trial.error
    curve = trial.intermediate
    assert [h["step"] for h in curve] == list(range(1, 11))
    assert [h["training_iteration"] for h in curve] == list(range(1, 11))
    assert [h["attempt"] for h in curve] == [1] * 4 + [2] * 6
    # step 5 is the retry's (no +0.5 of the lost attempt's values)
    assert curve[4]["loss"] == pytest.approx(trial.params["x"] + 5)
    (attempt,) = trial.annotations[ATTEMPTS]
    assert [h["step"] for h in attempt["intermediate"]] == [1, 2, 3, 4, 5]
    assert attempt["intermediate"][4]["loss"] == pytest.approx(trial.params["x"] + 5.5)


def test_the_curve_of_a_trial_retried_twice_goes_on_from_each_checkpoint(tmp_path):
    """The fake backend, CHECKPOINTED (it saves epoch N, then dies at N before reporting it):
    attempt 1 reports 1-4 and dies at 5, attempt 2 resumes at 6 and dies at 7, attempt 3 resumes
    at 8. The curve holds each attempt's reports in turn, each once, numbered 1..N."""
    name = _project(tmp_path, again=True, retry_on=["error"], max_retries=2)
    _run("fake", name)
    (trial,) = _trials(name)
    assert trial.state == COMPLETED, trial.error
    reported = [(h.get("step"), h["attempt"]) for h in trial.intermediate]
    # (the last item: the objective's returned result, reported without a step)
    assert reported == [(1, 1), (2, 1), (3, 1), (4, 1), (6, 2), (8, 3), (9, 3), (10, 3), (None, 3)]
    assert [h["training_iteration"] for h in trial.intermediate] == list(range(1, 10))
    assert [a["attempt"] for a in trial.annotations[ATTEMPTS]] == [1, 2]
    assert [h["step"] for h in trial.annotations[ATTEMPTS][1]["intermediate"]] == [6]


STDERR_EXIT = """
import os, sys
from hpogrid import trial

def objective(config):
    if not trial.restored():
        (trial.checkpoint_dir() / "started").write_text("1")
        sys.stderr.write("RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\\n")
        sys.stderr.flush()
        {exit}
    return {{"loss": config["x"]}}
"""


@pytest.mark.parametrize("backend, exit", [("fake", "sys.exit(1)"), ("pool", "os._exit(1)")])
def test_failure_rules_match_what_the_trial_printed(tmp_path, backend, exit):
    """A trial that prints "CUDA out of memory" to stderr and exits 1 (no traceback saying so:
    the error is only "exit code 1" / "SystemExit: 1") is retried by a rule matching its output,
    and failed at once by a "fail" rule on its exit status."""
    name = _project_with(tmp_path, STDERR_EXIT.format(exit=exit), max_retries=1,
                         failure_rules=[{"match": "CUDA out of memory", "action": "retry"}])
    _run(backend, name, n_jobs=1)
    (trial,) = _trials(name)
    assert trial.state == COMPLETED, trial.error
    (attempt,) = trial.annotations[ATTEMPTS]
    assert attempt["reason"] == "rule: CUDA out of memory"
    assert "CUDA" not in (attempt["error"] or "")

    if backend == "pool":  # (a thread of the fake backend has no exit status)
        name = _project_with(tmp_path, STDERR_EXIT.format(exit=exit), max_retries=3, retry_on=["lost", "error"],
                             failure_rules=[{"exit_code": 1, "action": "fail"}])
        _run(backend, name, n_jobs=1)
        (trial,) = _trials(name)
        assert trial.state == FAILED and len(trial.annotations[ATTEMPTS]) == 1


def _project_with(tmp_path: Path, script: str, **hpo) -> str:
    return make_project(tmp_path, script, trials=1, algorithm="random", scheduler="fifo",
                        stop={"training_iteration": 100}, **hpo)


#: saves and reports ten epochs; the first attempt, at epoch 5, deletes its checkpoint folder
#: (as if the retry ran on a node where the trial folder is not) and dies of SIGKILL
NO_SHARED_FS = """
import json, os, shutil, signal
from hpogrid import trial

def objective(config):
    last = trial.last_checkpoint()
    start = json.loads((last / "state.json").read_text())["epoch"] + 1 if last else 1
    trial.annotate("started_at_" + str(start), trial.restored())
    for epoch in range(start, 11):
        (trial.checkpoint_dir() / "state.json").write_text(json.dumps({"epoch": epoch}))
        trial.report(epoch, loss=config["x"] + 10 - epoch)
        if epoch == 5 and start == 1:
            shutil.rmtree(trial.checkpoint_dir())
            os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.slow
def test_ray_carries_the_checkpoint_through_its_storage_path(tmp_path):
    """Real Ray Tune, one machine: the lost attempt's checkpoint folder is gone when the retry
    starts (what a retry on another node of a cluster without a shared file system sees), so
    the retry can only get epoch 5's checkpoint from the copy Tune persisted under the run's
    storage path when epoch 5 was reported: it resumes at 6, restored. (One machine shares
    its disk, so this proves the hand-over through Tune, not the network transfer.)"""
    name = _project_with(tmp_path, NO_SHARED_FS, max_retries=1)
    summary = _run("ray", name, n_jobs=1)
    (trial,) = _trials(name)
    assert trial.state == COMPLETED and summary.counts[COMPLETED] == 1, trial.error
    assert trial.annotations["started_at_6"] is True, trial.annotations
    (state,) = paths.project_dir(name).rglob(f"{trial.uid}/checkpoint/state.json")
    assert state.read_text() == '{"epoch": 10}'
    assert sorted(p.name for p in state.parent.iterdir()) == ["state.json"]  # the user's files only
    # Tune restored the trial at its checkpoint's iteration: the curve goes on from there
    assert [h.get("step") for h in trial.intermediate] == list(range(1, 11))


def test_a_retried_trial_under_an_early_stopping_rule_reports_into_the_continued_curve(tmp_path):
    """ASHA judges each report as it comes (the engine reads them live): the retry's reports go
    on from the earlier attempt's curve, in the study while it runs and at its end."""
    name = make_project(tmp_path, CHECKPOINTED.format(die="raise", again=False), trials=1, algorithm="random",
                        scheduler="asynchyperband", scheduler_param={"max_t": 100, "grace_period": 50},
                        stop={"training_iteration": 100}, retry_on=["error"], max_retries=1)
    _run("fake", name)
    (trial,) = _trials(name)
    assert trial.state == COMPLETED, trial.error
    assert [h.get("step") for h in trial.intermediate] == [1, 2, 3, 4, 6, 7, 8, 9, 10, None]
    assert [h["attempt"] for h in trial.intermediate] == [1] * 4 + [2] * 6
