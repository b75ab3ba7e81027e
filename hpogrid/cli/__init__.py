"""The ``hpogrid`` command line: ``hpogrid <noun> <action> [NAME] [options]``.

Subcommands load lazily so ``--help`` and config commands never import Ray, torch or Ax.
"""
import os

import click

from hpogrid import __version__
from hpogrid.cli._base import RootGroup

_COMMANDS = {
    "hpo_config": "hpogrid.cli.configs:hpo_config",
    "grid_config": "hpogrid.cli.configs:grid_config",
    "model_config": "hpogrid.cli.configs:model_config",
    "search_space": "hpogrid.cli.configs:search_space",
    "slurm_config": "hpogrid.cli.configs:slurm_config",
    "project": "hpogrid.cli.project:project",
    "optimize": "hpogrid.cli.optimize:optimize",
    "local_run": "hpogrid.cli.runs:local_run",
    "enqueue": "hpogrid.cli.enqueue:enqueue",
    "report": "hpogrid.cli.report:report",
    "study": "hpogrid.cli.study:study",
    "dashboard": "hpogrid.cli.dashboard:dashboard",
    "slurm_run": "hpogrid.cli.runs:slurm_run",
    "workflow": "hpogrid.cli.workflow:workflow",
    "import": "hpogrid.cli.importing:import_group",
    "dataset": "hpogrid.cli.dataset:dataset",
    "sites": "hpogrid.cli.sites:sites",
    "run": "hpogrid.cli.run:run",
    "grid_job": "hpogrid.cli.run:grid_job",
    "tasks": "hpogrid.cli.tasks:tasks",
    "status": "hpogrid.cli.drivers:status",
    "stop": "hpogrid.cli.drivers:stop",
    "detached_driver": "hpogrid.cli.drivers:detached_driver",
}


@click.group(cls=RootGroup, lazy=_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="hpogrid")
@click.option("--debug", is_flag=True, help="Show Python tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """Hyperparameter optimisation on a laptop, Slurm, a Ray cluster and the ATLAS grid.

    Keep named configs (hpo_config, grid_config, model_config, search_space), bundle them
    with training scripts into a project, then run it. Files live in $HPOGRID_HOME
    (default ~/.hpogrid).

    \b
    In one command (configs and project made for you, then run):
      hpogrid optimize train.py:objective --param lr=loguniform:1e-5:1e-1 --param layers=int:1:8

    \b
    Example:
      hpogrid model_config create m --script simple_objective.py --model simple_objective
      hpogrid search_space create s '{"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}'
      hpogrid hpo_config create h --metric loss --mode min --trials 20
      hpogrid project create p --scripts_path example/scripts --model_config m --search_space s --hpo_config h
    """
    if debug:
        os.environ["HPOGRID_DEBUG"] = "1"  # the CLI edge: child processes inherit it too
    from hpogrid.settings import Settings

    # every HPOGRID_* variable, read once for this command (a bad value is a one-line error)
    click.get_current_context().obj = Settings.from_env()


def main() -> None:
    cli(prog_name="hpogrid")
