"""A central search's wave is ONE PanDA task of N jobs (issue 36): job k of the task evaluates the
points the driver gave index k, a retry of job k (a new PandaID, the same serial number) evaluates
the same points, and PanDA counts one task per wave instead of one per job."""
import json

import pytest

from hpogrid import paths
from hpogrid.backends.panda import load_submissions
from tests.backends.panda.test_central import _make, _trials

pytestmark = pytest.mark.slow


def _job_trials(job) -> list:
    """The uids the grid job handed back (its userJobMetadata, as PanDA stores it)."""
    return sorted(t["uid"] for t in json.loads(job.metadata)["user_job_metadata"]["trials"])


def test_a_wave_is_one_task_of_several_jobs_and_a_retried_job_evaluates_its_own_points(panda_server, monkeypatch,
                                                                                        run_cli, tmp_path):
    monkeypatch.setenv("RUCIO_ACCOUNT", "alice")
    monkeypatch.setenv("HPOGRID_GRID_POLL_S", "0.3")
    panda_server.max_parallel_jobs = 3
    panda_server.pilot_failures[(2, 1)] = "pilot: lost heartbeat"  # job 2's first attempt dies before its payload
    _make(run_cli, tmp_path, "cw", retry=True, algorithm="random")
    r = run_cli("run", "cw", "--search", "central", "--trials", "6", "--n_jobs", "3", "--trials_per_job", "2",
                "--seed", "2")
    assert r.exit_code == 0, r.output
    got = _trials("cw")
    assert len(got) == 6 and {t.state for t in got} == {"COMPLETED"}, [(t.uid, t.error) for t in got]
    # one wave (3 jobs x 2 points asked at once): one task, one submission, of 3 jobs
    [sub] = load_submissions(paths.project_dir("cw"))
    [task] = panda_server.tasks.values()
    assert sub.task_id == task.task_id and sub.n_jobs == 3 and sorted(sub.extra["uids"]) == sorted(t.uid for t in got)
    latest = task.latest_jobs()
    assert sorted(latest) == [1, 2, 3] and len(task.jobs) == 4 and latest[2].attempt_nr == 2
    by_index = {k: sorted(t.uid for t in got if t.annotations["task_job"] == k) for k in (1, 2, 3)}
    assert all(len(uids) == 2 for uids in by_index.values())
    for serial, job in latest.items():
        assert f"--job%20{serial}" in job.job_parameters or f"--job {serial}" in job.job_parameters
        assert _job_trials(job) == by_index[serial]  # each job evaluated its own points, the retry too
        for t in got:
            if t.annotations["task_job"] == serial:
                assert t.job_id == str(job.panda_id) and t.task_id == str(task.task_id)
    # the points of the retried job say which attempt ran them and what the lost one died of
    for t in got:
        if t.annotations["task_job"] == 2:
            assert t.annotations["attempt"] == 2
            [lost] = t.annotations["attempts"]
            assert lost["attempt"] == 1 and "lost heartbeat" in lost["reason"]
        else:
            assert t.annotations["attempt"] == 1 and "attempts" not in t.annotations
    r = run_cli("report", "cw")  # the sync reads the same task, job by job: the same 6 trials
    assert r.exit_code == 0, r.output
    assert "6 completed" in r.output and len(_trials("cw")) == 6
    r = run_cli("tasks", "show", "--metadata")
    assert r.exit_code == 0, r.output
    assert str(task.task_id) in r.output


def test_a_job_failing_every_attempt_fails_only_its_own_points(panda_server, monkeypatch, run_cli, tmp_path):
    monkeypatch.setenv("RUCIO_ACCOUNT", "alice")
    monkeypatch.setenv("HPOGRID_GRID_POLL_S", "0.3")
    panda_server.max_parallel_jobs = 2
    panda_server.pilot_failures[(1, 1)] = "pilot: stage-in failed"  # no retries: job 1's points fail
    _make(run_cli, tmp_path, "cx", algorithm="random")
    r = run_cli("run", "cx", "--search", "central", "--trials", "4", "--n_jobs", "2", "--trials_per_job", "2")
    assert r.exit_code == 0, r.output
    got = _trials("cx")
    [task] = panda_server.tasks.values()
    states = {t.annotations["task_job"]: set() for t in got}
    for t in got:
        states[t.annotations["task_job"]].add(t.state)
    assert states == {1: {"FAILED"}, 2: {"COMPLETED"}}, [(t.uid, t.state, t.error) for t in got]
    assert all("stage-in failed" in t.error for t in got if t.state == "FAILED")
    assert task.status == "finished"  # PanDA: a task with a failed job and a finished one
