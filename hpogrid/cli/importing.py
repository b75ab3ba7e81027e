"""``hpogrid import echo-opt HYPERPARAMETERS [MODEL_CONFIG]``: another tool's files as a project."""
import click


@click.group("import")
def import_group() -> None:
    """Make a project from another HPO tool's files."""


@import_group.command("echo-opt")
@click.argument("hyperparameters", type=click.Path(dir_okay=False))
@click.argument("model_config", required=False, type=click.Path(dir_okay=False))
@click.option("--name", metavar="NAME", help="Project name (default: optuna name without .db, else the file's stem).")
def echo_opt(hyperparameters: str, model_config, name) -> None:
    """Create a project from echo-opt's HYPERPARAMETERS file (log, slurm, optuna) and its
    MODEL_CONFIG: search space, hpo_config, model_config and slurm_config, each named after
    the project. The scripts are the objective's folder; its Objective class runs as the model
    (import BaseObjective from hpogrid.echo). What hpogrid cannot map is said, one line each."""
    from hpogrid.project import import_echo_opt

    project, notes, lines = import_echo_opt(hyperparameters, model_config, name)
    for note in notes:
        click.echo(f"Not mapped: {note}", err=True)
    click.echo(f"Created project {project.name!r} from {project.scripts_path} ({'; '.join(lines)}).")
    run = "slurm_run" if project.slurm_config else "local_run"
    click.echo(f"Run it: hpogrid {run} {project.name}" + (f"  (or: hpogrid local_run {project.name})"
                                                          if run == "slurm_run" else ""))
