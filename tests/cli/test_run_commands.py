"""Run commands are built from the options a backend declares: a new backend lists its options
dataclass in ``hpogrid.backends.RUN_COMMANDS`` and gets a command, with no CLI module."""
from dataclasses import dataclass
from types import SimpleNamespace
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
    assert [name for name, _ in declared_options(LocalOptions)] == ["address", "ray", "container", "container_runtime",
                                                                 "container_args", "setup"]
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


@pytest.fixture
def grid_run(monkeypatch):
    """``hpogrid run`` with what it calls recorded: the central search's run, the independent submission."""
    import hpogrid.backends.panda as panda
    import hpogrid.cli.run as run_module
    import hpogrid.project as project

    calls = []
    monkeypatch.setattr(run_module, "run_project", lambda *args: calls.append(("central", *args)))
    monkeypatch.setattr(run_module, "_grid_job", lambda *args: calls.append(("grid_job", *args)))
    monkeypatch.setattr(project, "load_project", lambda name: name)
    monkeypatch.setattr(panda, "dry_run", lambda proj, opts: {"project": proj, "n_jobs": opts.n_jobs})
    submitted = SimpleNamespace(task_id=42, taskname="t", n_jobs=1, site="Q", out_ds="user.me.t")
    monkeypatch.setattr(panda, "submit_project",
                        lambda proj, opts: calls.append(("submit", proj, opts)) or submitted)
    monkeypatch.setattr(panda, "output_containers", lambda out_ds: [out_ds + "_out"])
    return run_module.run, calls


def test_grid_run_options_are_declared_in_their_help_order():
    from hpogrid.backends.panda import GridCommandOptions

    assert [name for name, _ in declared_options(GridCommandOptions)] == [
        "n_jobs", "search", "trials_per_job", "site", "dry_run", "architecture", "mode", "seed", "trials",
        "algorithm", "max_failures"]

    @dataclass
    class Misordered(QueueOptions):
        help_order: ClassVar[tuple] = ("lane", "nosuch")
    with pytest.raises(ValueError, match="help_order names no declared option: nosuch"):
        declared_options(Misordered)
    with pytest.raises(ValueError, match="choices go with kind 'choice' only"):
        OptionSpec(("--x",), "help", kind="choice")


def test_grid_run_central_gets_the_grid_backends_options(grid_run):
    from hpogrid.backends.panda import CentralOptions

    command, calls = grid_run
    result = CliRunner().invoke(command, ["p", "--search", "central", "--n_jobs", "3", "--trials_per_job", "2",
                                          "--site", "Q", "--algorithm", "optuna", "--seed", "0", "--resume",
                                          "--rerun", "FAILED", "--top", "2"])
    assert result.exit_code == 0, result.output
    (what, backend, project, opts, top, name, study), = calls
    assert (what, backend, project, top, name, study) == ("central", "grid", "p", 2, "run --search central", None)
    assert type(opts) is CentralOptions  # the backend's options, none of the command's own
    assert (opts.n_jobs, opts.trials_per_job, opts.site, opts.algorithm, opts.seed) == (3, 2, "Q", "optuna", 0)
    assert opts.resume and opts.rerun is not None and opts.architecture is None


def test_grid_run_independent_submits_or_shows_one_task(grid_run):
    command, calls = grid_run
    result = CliRunner().invoke(command, ["p", "--dry-run", "--n_jobs", "4"])
    assert result.exit_code == 0 and '"n_jobs": 4' in result.output and calls == []
    result = CliRunner().invoke(command, ["p", "--site", "Q", "--trials", "5", "--seed", "7", "--architecture", ""])
    assert "Submitted task 42 (t): 1 job at Q; outputs in user.me.t_out" in result.output, result.output
    (what, proj, opts), = calls
    assert (what, proj, opts.n_jobs, opts.site, opts.trials, opts.seed, opts.architecture) == (
        "submit", "p", 1, "Q", 5, 7, "")
    calls.clear()
    assert CliRunner().invoke(command, ["p", "--mode", "grid", "--seed", "2", "--trials", "3"]).exit_code == 0
    assert calls == [("grid_job", "p", 2, 3)]


def test_grid_run_checks_its_modes_and_ranges(grid_run):
    command, calls = grid_run
    for args, message in ((["--study", "s", "--max_failures", "0"],
                           "--study, --max_failures go with --search central"),
                          (["--search", "central", "--dry-run"], "--dry-run shows an independent task"),
                          (["--search", "central", "--no-backup"], "go with --resume"),
                          (["--n_jobs", "10001"], "--n_jobs"), (["--seed", "-1"], "--seed"),
                          (["--search", "sideways"], "--search")):
        result = CliRunner().invoke(command, ["p", *args])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    assert calls == []
