"""Submission pieces that need no server: the outDS name and the project's task record."""
from datetime import datetime, timezone

import pytest

from hpogrid.backends.panda import Submission, load_submissions, record_submission, resolve_out_ds
from hpogrid.configs._models import DEFAULT_OUTDS
from hpogrid.errors import CredentialsError, ValidationError

NOW = datetime(2026, 12, 2, 1, 15, 0, tzinfo=timezone.utc)


def test_default_outds_is_filled_at_submit_time(monkeypatch):
    monkeypatch.setenv("RUCIO_ACCOUNT", "alice")
    assert resolve_out_ds(DEFAULT_OUTDS, "mnist_cnn", NOW) == "user.alice.hpogrid.mnist_cnn.out.20261202011500"
    assert resolve_out_ds("user.${RUCIO_ACCOUNT}.{HPO_PROJECT_NAME}.$(date +%Y%m%d)", "p", NOW) == "user.alice.p.20261202"
    assert resolve_out_ds("group.phys.fixed_name", "p", NOW) == "group.phys.fixed_name"


def test_outds_needs_the_rucio_account(monkeypatch):
    monkeypatch.delenv("RUCIO_ACCOUNT", raising=False)
    with pytest.raises(CredentialsError, match="^RUCIO_ACCOUNT is not set: export RUCIO_ACCOUNT="):
        resolve_out_ds(DEFAULT_OUTDS, "p", NOW)


def test_outds_whose_output_containers_rucio_would_refuse_is_too_long():
    fits = "user.alice." + "p" * 101  # 112 characters + "_hpogrid_trials.tgz/" = 132, Rucio's limit
    assert resolve_out_ds(fits, "p", NOW) == fits
    with pytest.raises(ValidationError) as err:
        resolve_out_ds(fits + "q", "p", NOW)
    assert str(err.value).startswith(f"grid_config.outDS: '{fits}q' is too long: its output container "
                                     f"'{fits}q_hpogrid_trials.tgz/' has 133 characters, Rucio allows 132")


@pytest.mark.parametrize("template", ["user.a b", "user.a/../b", "user.$(whoami)", "x" * 251])
def test_outds_that_is_no_dataset_name_is_refused(template):
    with pytest.raises(ValidationError) as err:
        resolve_out_ds(template, "p", NOW)
    assert str(err.value).startswith("grid_config.outDS: ") and "is not a dataset name" in str(err.value)


def test_submissions_are_recorded_per_task_and_survive_reloads(tmp_path):
    first = Submission(task_id=10000001, taskname="user.a.x.1", submitted_at="2026-12-02T01:00:00+00:00",
                       site="ANALY_X", out_ds="user.a.x.1", n_jobs=3)
    second = Submission(task_id=10000002, taskname="user.a.x.2", submitted_at="2026-12-02T02:00:00+00:00",
                        site=None, out_ds="user.a.x.2", n_jobs=1)
    record_submission(tmp_path, first)
    record_submission(tmp_path, second)
    record_submission(tmp_path, first)  # recording the same task again replaces it
    assert load_submissions(tmp_path) == [second, first]
