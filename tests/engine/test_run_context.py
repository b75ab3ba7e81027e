"""The one :class:`~hpogrid.engine.Run` a backend's hooks are handed, and what ``--resume`` asks."""
import pytest

from hpogrid.backends.fake import FakeBackend
from hpogrid.engine import RerunSelection, RunOptions
from hpogrid.project import load_project
from hpogrid.study.records import COMPLETED, FAILED, INTERRUPTED
from tests.backends.helpers import ECHO, make_project

UNI = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}


class _Recording(FakeBackend):
    """The fake backend, noting what each hook's run holds when the hook is called."""

    def __init__(self):
        self.seen = {}

    def prepare(self, run):
        super().prepare(run)
        with pytest.raises(AttributeError):  # the study is not open before prepare has checked the project
            run.store
        self.seen["prepare"] = (run.project.name, run.study, run.plan.spec.trials)

    def executor(self, run, run_dir):
        self.seen["executor"] = (len(run.store.trials(run.study)), run.workload.total, list(run.sink.uids),
                                 run.control.stopping)
        return super().executor(run, run_dir)


def test_every_hook_is_handed_the_run_with_the_parts_that_exist_by_then(tmp_path):
    name = make_project(tmp_path, ECHO, UNI, trials=3, scheduler="fifo")
    backend = _Recording()
    summary = backend.run(load_project(name), RunOptions(progress=False, study="first"))
    assert backend.seen["prepare"] == (name, "first", 3)
    # executor: the study is open (no trial yet), the workload counted, the sink and control live
    assert backend.seen["executor"] == (0, 3, [], False)
    assert summary.study == "first" and summary.counts[COMPLETED] == 3


def test_resume_request_joins_rerun_and_rerun_failed_and_keeps_no_backup():
    chosen = RerunSelection.parse("INTERRUPTED,abc-1")
    request = RunOptions(resume=True, rerun=chosen, rerun_failed=True, backup=False).resume_request()
    assert request.rerun.states == {FAILED, INTERRUPTED} and request.rerun.uids == ("abc-1",)
    assert request.backup is False
    plain = RunOptions(resume=True).resume_request()
    assert not plain.rerun and plain.backup is True
