"""``hpogrid project <create|recreate|update|remove|list|show>``."""

import click

from hpogrid.cli._base import confirm_if_interactive, echo_json, echo_table


def _config_options(required: bool):
    """--model_config/--search_space/--hpo_config/--grid_config (dashed spellings too)."""
    specs = [
        ("model_config", "Model config to use (see 'hpogrid model_config list')."),
        ("search_space", "Search space to use (see 'hpogrid search_space list'); not needed for a define-by-run "
                         "model, def objective(trial), which declares its parameters with trial.suggest_float(...), "
                         "suggest_int and suggest_categorical as it runs."),
        ("hpo_config", "HPO config to use (see 'hpogrid hpo_config list')."),
        ("grid_config", "Grid config to use; only needed for 'hpogrid run' on the grid."),
        ("slurm_config", "Slurm config to use; only needed for 'hpogrid slurm_run'."),
    ]

    def decorate(func):
        for name, help_text in reversed(specs):
            needed = required and name not in ("grid_config", "slurm_config", "search_space")
            func = click.option(f"--{name}", f"--{name.replace('_', '-')}", name,
                                required=needed, metavar="NAME", help=help_text)(func)
        return func
    return decorate


def _scripts_option(required: bool):
    return click.option("--scripts_path", "--scripts-path", "-p", "scripts_path", required=required,
                        metavar="PATH", help="Training script, or a directory of scripts, to copy "
                        "into the project.")


@click.group()
def project() -> None:
    """Bundle configs and training scripts into a project (a self-contained folder)."""


@project.command()
@click.argument("name")
@_scripts_option(required=True)
@_config_options(required=True)
def create(name, scripts_path, **names) -> None:
    """Create project NAME from stored configs and a copy of the scripts.

    A project whose model takes a trial (def objective(trial): lr = trial.suggest_float("lr",
    1e-5, 1e-1, log=True); ...) needs no search_space: it runs define-by-run with algorithm
    optuna or random."""
    from hpogrid.project import create_project
    from hpogrid.workflow import check_scripts_workflow

    check_scripts_workflow(scripts_path)
    proj = create_project(name, scripts_path, names)
    click.echo(f"Created project {name!r} at {proj.path} (hash {proj.content_hash[:12]}).")
    _warn(proj)


@project.command()
@click.argument("name")
@_scripts_option(required=True)
@_config_options(required=True)
def recreate(name, scripts_path, **names) -> None:
    """Replace project NAME; the old folder (with its study) is kept as a backup."""
    from hpogrid.project import recreate_project
    from hpogrid.workflow import check_scripts_workflow

    check_scripts_workflow(scripts_path)
    proj, backup = recreate_project(name, scripts_path, names)
    if backup:
        click.echo(f"Moved the old project {name!r} to {backup}.")
    click.echo(f"Created project {name!r} at {proj.path} (hash {proj.content_hash[:12]}).")
    _warn(proj)


@project.command()
@click.argument("name")
@_scripts_option(required=False)
@_config_options(required=False)
def update(name, scripts_path, **names) -> None:
    """Re-read the project's named configs and scripts (or switch to the ones given).

    The project's trials are kept.
    """
    from hpogrid.project import load_project, update_project
    from hpogrid.workflow import check_scripts_workflow

    source = scripts_path or load_project(name).scripts_path  # (the scripts update copies again)
    if source:
        check_scripts_workflow(source)
    proj = update_project(name, scripts_path, names)
    click.echo(f"Updated project {name!r} (hash {proj.content_hash[:12]}).")
    _warn(proj)


@project.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def remove(name: str, yes: bool) -> None:
    """Delete project NAME with its scripts and trials (asks first only at a terminal)."""
    from hpogrid.project import remove_project, require_project

    require_project(name)  # exists; its config may be unreadable: remove must still work
    confirm_if_interactive(f"Remove project {name!r} and all its trials?", yes)
    remove_project(name)
    click.echo(f"Removed project {name!r}.")


@project.command("list")
def list_() -> None:
    """List the projects."""
    from hpogrid.project import list_projects, load_project

    rows = []
    for name in list_projects():
        try:
            p = load_project(name)
            hpo = p.hpo_config
            rows.append([name, hpo["algorithm"], _listed(hpo["metric"]), _listed(hpo["mode"]), hpo["trials"],
                         (p.created_at or "")[:19], (p.content_hash or "")[:12]])
        except Exception as exc:  # one broken project must not hide the others
            rows.append([name, f"<unreadable: {exc}>", "", "", "", "", ""])
    if not rows:
        click.echo("No projects yet; create one with 'hpogrid project create NAME ...'.")
        return
    echo_table(rows, ["name", "algorithm", "metric", "mode", "trials", "created", "hash"])


@project.command()
@click.argument("name")
def show(name: str) -> None:
    """Print project NAME's configuration as JSON."""
    from hpogrid.project import load_project

    echo_json(load_project(name).to_json_dict())


def _warn(project) -> None:
    for line in project.warnings:
        click.echo(f"Warning: {line}", err=True)


def _listed(value) -> str:
    """A metric/mode of the hpo_config: one, or several (a multi-objective project) as ``a,b``."""
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
