"""``hpogrid status [PROJECT]``, ``hpogrid stop PROJECT [--now]``, and the hidden
``detached_driver`` each detached run is (:mod:`hpogrid.drivers`)."""
import sys
from pathlib import Path
from typing import Optional

import click

from hpogrid.cli._base import echo_table


@click.command("status")
@click.argument("project", required=False)
def status(project: Optional[str]) -> None:
    """List the detached drivers (--detach) of PROJECT (default: every project): state, where
    they run, since when, the study's progress and the log.

    A driver that is gone without ending (killed, its node failed) is shown as dead, with
    the one command that resumes it."""
    from hpogrid import paths
    from hpogrid.drivers import resume_command, statuses

    if project:
        if not paths.project_dir(project).is_dir():
            raise click.ClickException(f"project {project!r} not found")
    found = statuses(project)
    if not found:
        click.echo("No detached drivers" + (f" of project {project!r}" if project else "") +
                   " (start one with --detach).")
        return
    echo_table([[s.record.project, s.record.id, s.state, s.where, s.record.started_at or s.record.created_at,
                 s.progress, s.record.log] for s in found],
               ["project", "driver", "state", "where", "since", "progress", "log"], width=1000)  # (paths whole)
    for s in found:
        if s.dead:
            click.echo(f"Driver {s.record.id} of {s.record.project} is dead (killed without notice); resume it "
                       f"with: {resume_command(s.record)}")
        elif s.state == "failed":
            click.echo(f"Driver {s.record.id} of {s.record.project} failed: {_last_error(Path(s.record.log))}")


def _last_error(log: Path) -> str:
    """The last ``Error: ...`` line of a driver's log (the run's one-line error)."""
    try:
        with open(log, "rb") as fh:
            fh.seek(max(0, fh.seek(0, 2) - 65536))
            lines = fh.read().decode("utf-8", "replace").splitlines()
    except OSError as exc:
        return f"its log cannot be read ({exc.strerror})"
    errors = [line for line in lines if line.startswith("Error: ")]
    return errors[-1][len("Error: "):] if errors else f"see its log {log}"


@click.command("stop")
@click.argument("project")
@click.option("--now", "now_", is_flag=True, help="Stop at once: running trials are stopped and recorded "
              "interrupted (default: drain, running trials finish first).")
def stop(project: str, now_: bool) -> None:
    """Stop the detached drivers of PROJECT: drain them (no new trials; running ones finish) or,
    with --now, stop them as Ctrl-C would. Either way a later --resume continues the study."""
    from hpogrid import paths
    from hpogrid.drivers import stop as stop_drivers

    if not paths.project_dir(project).is_dir():  # (a bad name: one line)
        raise click.ClickException(f"project {project!r} not found")
    for s in stop_drivers(project, now_):
        what = "Stopping" if now_ else "Draining"
        click.echo(f"{what} driver {s.record.id} ({s.where}); follow it with 'hpogrid status {project}', "
                   f"its log is {s.record.log}")


@click.command("detached_driver", hidden=True)
@click.argument("record", type=click.Path(exists=True, dir_okay=False))
def detached_driver(record: str) -> None:
    """Internal: what --detach starts. Runs the recorded command; as a Slurm job, resubmits it."""
    from hpogrid.drivers import begin, end, supervise

    path = Path(record)
    _signals_end_the_driver()
    try:
        found, args = begin(path)
        if found is None:
            return
        rc = supervise(path, args) if found.where == "slurm" else _run_here(args)
    except KeyboardInterrupt:  # a signal before the run (or its supervisor) took the signals
        rc = 130
    end(path, rc)
    sys.exit(0 if rc == 0 else rc if rc > 0 else 1)


def _signals_end_the_driver() -> None:
    """Until the run installs its own signal handlers (and after it restores these), SIGQUIT,
    SIGTERM and SIGUSR2 ('hpogrid stop', scancel) end the driver as Ctrl-C would (exit code
    130, recorded): no trial runs then, so draining and stopping are the same."""
    import signal

    def early(signum, frame):
        raise KeyboardInterrupt(f"{signal.Signals(signum).name} before any trial ran")

    for sig in (signal.SIGQUIT, signal.SIGTERM, signal.SIGUSR2):
        signal.signal(sig, early)


def _run_here(args) -> int:
    """``hpogrid ARGS`` in this process (so the recorded pid is the run's): its exit code."""
    from hpogrid.cli import cli

    try:
        cli.main(list(args), prog_name="hpogrid")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    return 0
