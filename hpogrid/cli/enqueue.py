"""``hpogrid enqueue PROJECT POINTS``: points the next run evaluates first."""
from typing import Optional

import click


@click.command("enqueue")
@click.argument("project")
@click.argument("points", required=False)
@click.option("--file", "file", type=click.Path(dir_okay=False), help="Read the points from a JSON file (an "
              "object or a list of objects), the same in YAML (.yaml/.yml) or a CSV file (a header of parameter "
              "names, one row per point; an empty cell gives no value).")
@click.option("--list", "show", is_flag=True, help="Show the points waiting for the next run.")
@click.option("--clear", is_flag=True, help="Drop the points waiting for the next run (not with --list).")
def enqueue(project: str, points: Optional[str], file: Optional[str], show: bool, clear: bool) -> None:
    """Have the next run of PROJECT evaluate POINTS first, before its search algorithm
    proposes anything: the current production tuning, a colleague's best.

    POINTS is JSON: '{"lr": 0.01, "layers": 3}' or a list of such objects. Each point names a
    value for every parameter of the project's search space, as the model receives it (a
    conditional parameter whose condition does not hold may be omitted; given, it is dropped). The
    points count towards the run's trials; every backend runs them (local_run, slurm_run,
    run --search central), and a searcher driven by its own ask/tell learns from their results.
    """
    from hpogrid.cli._base import echo_json
    from hpogrid.project import enqueue as add, enqueued, load_project, read_points, take_enqueued

    proj = load_project(project)
    if show and clear:
        raise click.UsageError("give --list or --clear, not both (--list first to see what --clear drops)")
    if show or clear:
        if points or file:
            raise click.UsageError("--list and --clear take no points")
        if show:
            echo_json(enqueued(proj.path))
        else:
            click.echo(f"Dropped {len(take_enqueued(proj.path))} enqueued point(s) of {project!r}.")
        return
    if (points is None) == (file is None):
        raise click.UsageError("give the points as a JSON argument or with --file PATH (one of the two)")
    if file is not None:
        from pathlib import Path

        from hpogrid.jsontext import MAX_BYTES, decode

        try:
            if Path(file).stat().st_size > MAX_BYTES:
                raise click.UsageError(f"{file} is larger than the {MAX_BYTES // 2 ** 20} MB read")
            data = Path(file).read_bytes()
        except OSError as exc:
            raise click.UsageError(f"cannot read {file}: {exc.strerror}") from None
        text = decode(data, "points", what=file)
        from hpogrid.datafile import is_yaml

        parsed = read_points(text, "points", csv_text=file.lower().endswith(".csv"),
                             yaml_source=file if is_yaml(file) else None)
    else:
        parsed = read_points(points, "points")
    waiting = add(proj, parsed)
    click.echo(f"Enqueued {len(parsed)} point(s) for {project!r} ({waiting} waiting): the next run evaluates them "
               "first.")
