"""``python -m tests.engine.runner BACKEND PROJECT [--resume] [--n_jobs N] [--seed S]``.

Runs a project on any registered backend exactly as the CLI's run commands do (the same
``run_project``: notes, summary, exit code 130 when interrupted), so tests can signal or kill
a driver of the fake backend, which has no command of its own, the same way as the others.

With ``$HPOGRID_TEST_DRAINED`` set to a path, the driver creates that file once it has taken in a
drain (SIGQUIT): from then on no new trial may start, so a test can wait on the file instead of
guessing how long the signal takes to arrive.
"""
import os
import sys

import click


@click.command()
@click.argument("backend")
@click.argument("project")
@click.option("--resume", is_flag=True)
@click.option("--n_jobs", type=int)
@click.option("--seed", type=int)
def main(backend, project, resume, n_jobs, seed):
    _mark_drains(os.environ.get("HPOGRID_TEST_DRAINED"))
    from hpogrid.cli._run_options import run_project
    from hpogrid.engine import RunOptions

    if backend == "slurm":
        from hpogrid.backends.slurm import SlurmOptions

        options = SlurmOptions(resume=resume, seed=seed, workers=n_jobs)
    else:
        options = RunOptions(resume=resume, seed=seed, n_jobs=n_jobs)
    run_project(backend, project, options, 5, f"<{backend}>", None)


def _mark_drains(marker):
    if not marker:
        return
    from hpogrid.engine import RunControl

    drain = RunControl.drain

    def drain_and_mark(self):
        drain(self)
        if self.draining:
            open(marker, "a").close()

    RunControl.drain = drain_and_mark


if __name__ == "__main__":
    from hpogrid.cli._base import RootGroup

    group = RootGroup(commands={"run": main})
    group.main(["run", *sys.argv[1:]], prog_name="runner")
