"""The time grammars of :mod:`hpogrid.budgets` that more than one option reads."""
import pytest

from hpogrid import budgets


@pytest.mark.parametrize("text", ["30", "30:15", "12:00:00", "2-12", "2-12:30", "2-00:00:00", "120:00:00"])
def test_slurm_time_limits_in_every_form_sbatch_accepts(text):
    assert budgets.is_slurm_time(text)


@pytest.mark.parametrize("text", ["1h", "soon", "", "1-123", "12:", ":30", "1-2-3", "12:00:00:00", " 30"])
def test_what_sbatch_would_refuse_is_not_a_slurm_time(text):
    assert not budgets.is_slurm_time(text)


def test_slurm_config_time_and_driver_time_read_the_same_forms(run_cli):
    """One grammar: a value either option refuses, the other refuses too (and names its field)."""
    from hpogrid.drivers import check_driver_time
    from hpogrid.errors import ValidationError

    r = run_cli("slurm_config", "create", "t", "--time", "1-123")
    assert r.exit_code == 1 and "slurm_config.time" in r.output and "D-HH:MM:SS" in r.output
    with pytest.raises(ValidationError, match="--driver-time.*D-HH:MM:SS"):
        check_driver_time("1-123")
    assert run_cli("slurm_config", "create", "t", "--time", "1-12").exit_code == 0
    assert check_driver_time("1-12") == "1-12"
