"""``hpogrid tasks show|kill|retry``: follow and steer PanDA tasks."""
import csv
import json
from pathlib import Path

import click

from hpogrid.cli._base import echo_table
from hpogrid.cli._types import DAYS, ID, count

_OUTCOL_DEFAULT = "jeditaskid,status,taskname,computingsite,metastruct"


@click.group("tasks")
def tasks() -> None:
    """Show, kill or retry your PanDA tasks (the grid jobs of `hpogrid run`)."""


def _range(text):
    if text is None:
        return None
    from hpogrid.report import parse_range

    return parse_range(text)


def _value(task, column):
    if column == "computingsite":
        return task.get("computingsite") or task.get("site")
    return task.get(column)


def _write(path: Path, rows, columns) -> None:
    from hpogrid.errors import ValidationError
    from hpogrid.csvtext import csv_safe
    from hpogrid.fileio import dump_json, write_atomic

    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ValidationError("--output", f"{path.name!r}: use a .json or .csv file name")
    if not path.parent.is_dir():
        raise ValidationError("--output", f"folder {str(path.parent)!r} does not exist (create it first)")
    records = [{c: _value(t, c) for c in columns} for t in rows]
    if suffix == ".json":
        write_atomic(path, dump_json(records))
        return
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns))
    writer.writeheader()
    for rec in records:
        writer.writerow({k: csv_safe(json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in rec.items()})
    write_atomic(path, buf.getvalue())


@tasks.command("show")
@click.option("--username", metavar="USER", help="Only tasks of this user (default: yours).")
@click.option("--limit", type=count(1), default=1000, show_default=True, help="At most N tasks.")
@click.option("--days", type=DAYS, default=30, show_default=True,
              help="Tasks modified within the last D days.")
@click.option("--taskname", metavar="PATTERN", help="Task name filter; wildcards * and ? allowed.")
@click.option("--jeditaskid", type=ID, metavar="ID", help="Only this task.")
@click.option("--metadata", is_flag=True, help="Also fetch the jobs' metadata (trials, best result).")
@click.option("--sync", is_flag=True, help="Fetch metadata again instead of using the local cache of "
              "finished tasks.")
@click.option("--range", "id_range", metavar="A-B", help="Tasks with jeditaskid from A to B.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write the rows to FILE (.json or .csv).")
@click.option("--outcol", default=_OUTCOL_DEFAULT, show_default=True, metavar="COLS",
              help="Columns of the table and of --output, comma separated.")
def show(username, limit, days, taskname, jeditaskid, metadata, sync, id_range, output, outcol) -> None:
    """List recent PanDA tasks in a table (one request; --metadata adds the jobs' results)."""
    from hpogrid.backends.panda import TaskQuery, show_tasks

    from hpogrid.objectives import split_list

    if not outcol.strip():
        raise click.BadParameter("give at least one column", param_hint="--outcol")
    columns = [c.lower() for c in split_list(outcol, "--outcol")]
    if not metadata and "metastruct" in columns and outcol == _OUTCOL_DEFAULT:
        columns.remove("metastruct")  # nothing to show without --metadata
    query = TaskQuery(username=username, limit=limit, days=days, taskname=taskname, task_id=jeditaskid,
                      id_range=_range(id_range))
    rows = show_tasks(query, metadata=metadata or sync, sync=sync)
    if output is not None:
        _write(output, rows, columns)
    echo_table([[_value(t, c) for c in columns] for t in rows], columns, width=60)
    click.echo(f"{len(rows)} task{'s' * (len(rows) != 1)}")
    if output is not None:
        click.echo(f"Wrote {output}")


@tasks.command("kill")
@click.argument("jeditaskid", type=ID)
def kill(jeditaskid) -> None:
    """Kill task JEDITASKID and its running jobs."""
    from hpogrid.grid.panda import PandaGateway

    message = PandaGateway().kill(jeditaskid)
    click.echo(f"Task {jeditaskid}: kill requested{': ' + message if message else ''}")


@tasks.command("retry")
@click.argument("jeditaskid", type=ID)
def retry(jeditaskid) -> None:
    """Retry the failed jobs of task JEDITASKID."""
    from hpogrid.grid.panda import PandaGateway

    message = PandaGateway().retry(jeditaskid)
    click.echo(f"Task {jeditaskid}: retry requested{': ' + message if message else ''}")
