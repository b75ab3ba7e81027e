"""Restoring grid checkpoints, where it can go wrong: a checkpoint that cannot be restored fails
that attempt with the reason; one the earlier job never left starts the trial afresh. And the
lost attempts a retry's sync records. (End to end: test_checkpoints.py.)"""
import io
import json
import tarfile

import pytest

from hpogrid.backends.panda import _checkpoints
from hpogrid.errors import NotFoundError, RucioError


def _archive(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_points_checkpoints_restored_failed_or_afresh(tmp_path):
    archive = _archive(tmp_path / "a.tgz", {"pj/trials/pj/u1/checkpoint/state.json": b'{"step": 4}',
                                            "pj/trials/pj/u1/trial.json": b"{}"})

    def fetch(container, dest):
        if container == "gone/":
            raise NotFoundError("no such container")
        if container == "down/":
            raise RucioError("cannot reach the Rucio server")
        return [archive]

    project = tmp_path / "project"
    failed = _checkpoints.restore_points(project, "pj", {"u1": "ok/", "u2": "ok/", "u3": "gone/", "u4": "down/"},
                                         tmp_path, fetch=fetch)
    assert (project / "trials/pj/u1/checkpoint/state.json").read_bytes() == b'{"step": 4}'
    assert not (project / "trials/pj/u1/checkpoint/trial.json").exists()  # the checkpoint folder only
    assert not (project / "trials/pj/u2").exists() and not (project / "trials/pj/u3").exists()  # afresh
    assert failed == {"u4": "checkpoint not restored: its checkpoint could not be fetched from down/ "
                            "(cannot reach the Rucio server)"}


def test_a_retry_whose_earlier_attempt_cannot_be_fetched_fails_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("PanDA_AttemptNr", "2")
    monkeypatch.setenv("PanDA_TaskID", "10000007")

    def down(container, dest):
        raise RucioError("cannot reach the Rucio server")
    with pytest.raises(Exception, match=r"^attempt 2: the checkpoints of the earlier attempt could not be "
                                        r"restored from out\.ds\.log/ \(cannot reach the Rucio server\)$"):
        _checkpoints.restore_attempt(tmp_path, tmp_path / ".hpogrid-job", "pj", 5, "out.ds", fetch=down)

    marker = json.dumps({"project": "pj", "seed": 5, "attempt": 1, "pandaid": "41", "task_id": "10000007"}).encode()
    other = json.dumps({"project": "pj", "seed": 6, "attempt": 1, "pandaid": "42", "task_id": "10000007"}).encode()
    logs = [_archive(tmp_path / "l1.tgz", {"tarball_PandaJob_41_X/.hpogrid-job/job.json": marker,
                                           "tarball_PandaJob_41_X/.hpogrid-job/projects/pj/study.db": b"db",
                                           "tarball_PandaJob_41_X/.hpogrid-job/projects/pj/config/config.json": b"old",
                                           "tarball_PandaJob_41_X/.hpogrid-job/projects/pj/trials/pj/u/checkpoint/c":
                                               b"5"}),
            _archive(tmp_path / "l2.tgz", {"tarball_PandaJob_42_X/.hpogrid-job/job.json": other,
                                           "tarball_PandaJob_42_X/.hpogrid-job/projects/pj/study.db": b"not mine"})]
    home = tmp_path / "home" / ".hpogrid-job"
    got = _checkpoints.restore_attempt(tmp_path, home, "pj", 5, "out.ds", fetch=lambda c, d: logs)
    assert got["pandaid"] == "41"  # this job's (seed 5) earlier attempt, not its neighbour's
    assert (home / "projects/pj/study.db").read_bytes() == b"db"
    assert (home / "projects/pj/trials/pj/u/checkpoint/c").read_bytes() == b"5"
    assert not (home / "projects/pj/config").exists()  # the sandbox's config stays this attempt's
    monkeypatch.setenv("PanDA_AttemptNr", "1")
    assert _checkpoints.restore_attempt(tmp_path, home, "pj", 5, "out.ds", fetch=down) is None  # a first attempt


def test_lost_attempts_follow_the_chain_of_restored_attempts():
    from hpogrid.backends.panda._outcome import with_lost_attempts
    from hpogrid.engine import Ended

    jobs = [{"pandaid": 1, "attemptnr": 1, "jobstatus": "failed", "computingsite": "A", "piloterrordiag": "lost heartbeat",
             "endtime": "2026-12-01T10:00:00", "metadata": {}},
            {"pandaid": 2, "attemptnr": 2, "jobstatus": "failed", "computingsite": "B", "errordialog": "wall time",
             "metadata": {"restored": {"pandaid": 1, "trials": ["u"]}}},
            {"pandaid": 3, "attemptnr": 3, "jobstatus": "finished", "computingsite": "A",
             "metadata": {"restored": {"pandaid": 2, "trials": ["u"]}}}]
    lost = _checkpoints.lost_attempts(jobs, jobs[2])
    assert [(a["attempt"], a["reason"], a["where"]) for a in lost] == [
        (1, "pilot: lost heartbeat", {"site": "A"}), (2, "grid job failed: wall time", {"site": "B"})]
    assert lost[0]["ended"].startswith("2026-12-01T10:00:00")
    events = with_lost_attempts([Ended("u", "COMPLETED", fields={"annotations": {"attempt": 3}}),
                                 Ended("v", "COMPLETED")], jobs, jobs[2])
    assert events[0].fields["annotations"] == {"attempt": 3, "attempts": lost} and events[1].fields == {}
    assert _checkpoints.lost_attempts(jobs, jobs[0]) == []


def test_a_central_tasks_earlier_attempts_are_lost_attempts_even_without_a_restore():
    from hpogrid.backends.panda._outcome import with_lost_attempts
    from hpogrid.engine import Ended

    jobs = [{"pandaid": 7, "attemptnr": 1, "jobstatus": "failed", "computingsite": "A", "piloterrordiag": "node died"},
            {"pandaid": 8, "attemptnr": 2, "jobstatus": "failed", "computingsite": "B",
             "piloterrordiag": "payload exited with code -9"}]
    (event,) = with_lost_attempts([Ended("u", "FAILED", error="payload exited with code -9")], jobs, jobs[1])
    assert [(a["attempt"], a["reason"], a["where"]) for a in event.fields["annotations"]["attempts"]] == [
        (1, "pilot: node died", {"site": "A"})]
