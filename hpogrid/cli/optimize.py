"""``hpogrid optimize TARGET --param NAME=SPEC ...``: configs, project and run in one command.

Parses, then calls :func:`hpogrid.quickstart.prepare` (create or reuse the named configs and the
project, decide how the study continues) and runs the project as ``local_run``/``slurm_run``/
``run --search central`` would (:func:`hpogrid.cli._run_options.run_project`).
"""
from typing import Optional, Tuple

import click

from hpogrid.cli._types import SEED, count
from hpogrid.search.names import ALGORITHMS

_ON = ("local", "slurm", "grid")  # hpogrid.quickstart.ON (not imported here: --help stays light)


@click.command("optimize")
@click.argument("target")
@click.option("--param", "-p", "params", multiple=True, required=True, metavar="NAME=SPEC",
              help="A parameter, e.g. lr=loguniform:1e-5:1e-1, layers=int:1:8, opt=choice:adam,sgd, "
              "dropout=uniform:0:0.5, units=quniform:16:512:16 (README 'One command' lists every form).")
@click.option("--metric", default="loss", show_default=True, help="The metric to optimise.")
@click.option("--mode", default="min", show_default=True, help="min or max (one per metric: --metric loss,latency "
              "--mode min,min).")
@click.option("--trials", type=count(1), default=20, show_default=True,
              help="Trials of this run (a run again adds as many; an interrupted one is resumed).")
@click.option("--algorithm", type=click.Choice(ALGORITHMS), default="auto", show_default=True)
@click.option("--on", "on", type=click.Choice(_ON), default="local", show_default=True,
              help="Where trials run: this machine (as local_run), Slurm (slurm_run), the grid (run --search "
              "central).")
@click.option("--project", metavar="NAME", help="Name of the project and its configs (default: from TARGET, "
              "e.g. train_objective for train.py:objective).")
@click.option("--scripts", metavar="PATH", help="Script or folder copied into the project (default: the "
              "script of TARGET, or the file of this folder its command names).")
@click.option("--slurm_config", "--slurm-config", "slurm_config", metavar="NAME", help="A stored slurm_config "
              "for --on slurm (partition, gres, mem, ...; default: slurm_config's defaults).")
@click.option("--grid_config", "--grid-config", "grid_config", metavar="NAME", help="A stored grid_config for "
              "--on grid (site, container, ...).")
@click.option("--n_jobs", "--n-jobs", "n_jobs", type=count(1), help="Trials at once (worker processes, Slurm "
              "jobs, grid jobs in flight).")
@click.option("--seed", type=SEED, help="Random seed of the search algorithm.")
@click.option("--study", metavar="NAME", help="Study to record into (default: the project name).")
@click.option("--force", is_flag=True, help="Replace configs and project of the same name that have other "
              "settings (the old project and its trials move to projects_backup).")
@click.option("--top", type=count(0), default=5, show_default=True, help="Best trials shown at the end.")
def optimize(target: str, params: Tuple[str, ...], metric: str, mode: str, trials: int, algorithm: str, on: str,
             project: Optional[str], scripts: Optional[str], slurm_config, grid_config, n_jobs, seed, study, force: bool, top: int) -> None:
    """Optimise TARGET in one command: TARGET is a Python entry point (train.py:objective) or a
    program whose command holds ($name) placeholders ('python train.py --lr ($lr)').

    Creates, or reuses when unchanged, the model_config, search_space and hpo_config named like
    the project, and the project, then runs it and prints the best trials. Running the same
    command again continues the study: an interrupted run is resumed, a finished one gets
    --trials new trials.

    \b
    Example:
      hpogrid optimize train.py:objective --param lr=loguniform:1e-5:1e-1 --param layers=int:1:8
      hpogrid optimize 'python train.py --lr ($lr)' --param lr=loguniform:1e-5:1e-1 --on slurm
    """
    from hpogrid.cli._run_options import run_project
    from hpogrid.errors import ValidationError
    from hpogrid.objectives import split_list
    from hpogrid.quickstart import parse_target, prepare, run_options
    from hpogrid.space import parse_param

    space = {}
    for text in params:
        name, spec = parse_param(text)
        if name in space:
            raise ValidationError(f"--param {name}", "is given twice")
        space[name] = spec
    found = parse_target(target, scripts)
    metrics, modes = split_list(metric, "--metric"), split_list(mode, "--mode")
    hpo = {"metric": metrics[0] if len(metrics) == 1 else metrics,
           "mode": modes[0] if len(modes) == 1 else modes, "algorithm": algorithm}
    name = project or found.name
    attach = {k: v for k, v in (("slurm_config", slurm_config), ("grid_config", grid_config)) if v}
    prepared = prepare(name, found.scripts_path, found.model_config, space, hpo, trials, force=force, study=study,
                       attach=attach)
    for line in prepared.lines:
        click.echo(line, err=True)
    backend, command, options = run_options(on, prepared, n_jobs=n_jobs, seed=seed)
    run_project(backend, name, options, top, command, options.study)
    click.echo(f"Continue with: hpogrid report {name} | hpogrid {command} {name} --trials N | the same "
               "hpogrid optimize command again", err=True)
