"""Run commands are built from the options a backend declares: a new backend lists its options
dataclass in ``hpogrid.backends.RUN_COMMANDS`` and gets a command, with no CLI module."""
from dataclasses import dataclass
from typing import ClassVar, Optional

import pytest
from click.testing import CliRunner

from hpogrid.backends.declared import OptionSpec, RunCommand, declared_options, option
from hpogrid.engine import RunOptions


@dataclass
class QueueOptions(RunOptions, RunCommand):
    backend: ClassVar[str] = "fake"
    command: ClassVar[str] = "queue_run"
    n_jobs_help: ClassVar[str] = "Slots of the queue."
    n_jobs_field: ClassVar[str] = "slots"
    help: ClassVar[str] = "Run PROJECT on a queue. {signals}"

    slots: Optional[int] = option(None, "--slots", kind="int", low=1, hidden=True, help="Slots (as --n_jobs).")
    lane: Optional[str] = option(None, "--lane", metavar="LANE", help="Queue lane to use.")
    fast: bool = option(False, "--fast", "--quick", kind="flag", help="Skip the queue.")


@pytest.fixture
def queue_run(monkeypatch):
    import hpogrid.backends as backends
    import hpogrid.cli.runs as runs

    monkeypatch.setattr(backends, "RUN_COMMANDS", (*backends.RUN_COMMANDS, ("queue_run", f"{__name__}:QueueOptions")))
    calls = []
    monkeypatch.setattr(runs, "run_project", lambda *args: calls.append(args))
    return runs.run_command("queue_run"), calls


def test_declared_options_keep_their_order_and_a_redeclared_field_its_place():
    from hpogrid.backends.local import LocalOptions

    assert [name for name, _ in declared_options(QueueOptions)] == ["slots", "lane", "fast"]
    assert [name for name, _ in declared_options(LocalOptions)] == ["address", "ray"]
    with pytest.raises(ValueError, match="kind"):
        OptionSpec(("--x",), "help", kind="list")


def test_a_declared_backend_gets_a_run_command(queue_run):
    command, calls = queue_run
    out = CliRunner().invoke(command, ["--help"]).output
    assert "Run PROJECT on a queue. Ctrl-C (or SIGTERM) stops now" in out
    assert "--lane LANE" in out and "Queue lane to use." in out and "--fast, --quick" in out
    assert "--slots" not in out  # hidden
    assert "--n_jobs, --n-jobs" in out and "Slots of the queue." in out and "--study-url" in out
    result = CliRunner().invoke(command, ["p", "--n_jobs", "3", "--lane", "b", "--quick", "--trials", "4",
                                          "--resume", "--no-backup", "--study", "s"])
    assert result.exit_code == 0, result.output
    (backend, project, opts, top, name, study), = calls
    assert (backend, project, top, name, study) == ("fake", "p", 5, "queue_run", "s")
    assert isinstance(opts, QueueOptions)
    assert (opts.slots, opts.n_jobs, opts.lane, opts.fast, opts.trials) == (3, None, "b", True, 4)
    assert opts.resume and not opts.backup and opts.study == "s"


def test_a_declared_range_is_checked_and_the_resume_family_too(queue_run):
    command, calls = queue_run
    result = CliRunner().invoke(command, ["p", "--slots", "0"])
    assert result.exit_code == 2 and "--slots" in result.output
    result = CliRunner().invoke(command, ["p", "--no-backup"])
    assert result.exit_code == 2 and "go with --resume" in result.output
    assert calls == []


def test_local_run_ray_and_slurm_n_jobs_reach_their_options(monkeypatch):
    import hpogrid.cli.runs as runs
    from hpogrid.backends.local import LocalOptions
    from hpogrid.backends.slurm import SlurmOptions

    calls = []
    monkeypatch.setattr(runs, "run_project", lambda *args: calls.append(args))
    assert CliRunner().invoke(runs.run_command("local_run"), ["p", "--ray", "--address", "ray://h:1"]).exit_code == 0
    assert CliRunner().invoke(runs.run_command("slurm_run"), ["p", "--n_jobs", "2", "--pool", "1"]).exit_code == 0
    (b1, _, local, *_), (b2, _, slurm, *_) = calls
    assert b1 == "local" and isinstance(local, LocalOptions) and local.ray and local.address == "ray://h:1"
    assert b2 == "slurm" and isinstance(slurm, SlurmOptions) and (slurm.workers, slurm.n_jobs, slurm.pool) == (2, None, 1)
