"""``python -m tests.engine.runner BACKEND PROJECT [--resume] [--n_jobs N] [--seed S]``.

Runs a project on any registered backend exactly as the CLI's run commands do (the same
``run_project``: notes, summary, exit code 130 when interrupted), so tests can signal or kill
a driver of the fake backend, which has no command of its own, the same way as the others.
"""
import sys

import click


@click.command()
@click.argument("backend")
@click.argument("project")
@click.option("--resume", is_flag=True)
@click.option("--n_jobs", type=int)
@click.option("--seed", type=int)
def main(backend, project, resume, n_jobs, seed):
    from hpogrid.cli._run_options import run_project
    from hpogrid.engine import RunOptions

    if backend == "slurm":
        from hpogrid.backends.slurm import SlurmOptions

        options = SlurmOptions(resume=resume, seed=seed, workers=n_jobs)
    else:
        options = RunOptions(resume=resume, seed=seed, n_jobs=n_jobs)
    run_project(backend, project, options, 5, f"<{backend}>", None)


if __name__ == "__main__":
    from hpogrid.cli._base import RootGroup

    group = RootGroup(commands={"run": main})
    group.main(["run", *sys.argv[1:]], prog_name="runner")
