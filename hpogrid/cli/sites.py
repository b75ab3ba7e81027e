"""``hpogrid sites``: PanDA queues with GPUs (from ATLAS CRIC, cached for a day)."""
import click

from hpogrid.cli._base import echo_json, echo_table


@click.command("sites")
@click.option("--gpu/--all", "gpu_only", default=True, show_default=True,
              help="Only GPU queues, or every queue that takes analysis jobs.")
@click.option("--name", "-n", metavar="PATTERN", help="Only queues whose name matches PATTERN "
              "(wildcards * and ?, any case), e.g. '*MANC*'.")
@click.option("--refresh", is_flag=True, help="Ask CRIC now even if the cached list is less than a day old.")
@click.option("--url", metavar="URL", help="CRIC pandaqueue query to ask (default: $HPOGRID_CRIC_URL, "
              "else https://atlas-cric.cern.ch/api/atlas/pandaqueue/query/?json).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def sites(gpu_only, name, refresh, url, as_json) -> None:
    """List PanDA queues that have GPUs, for grid_config --site or hpogrid run --site.

    The list comes from ATLAS CRIC and is cached in $HPOGRID_HOME/cache/sites.json for a
    day (--refresh asks again sooner). A queue counts as GPU when its CRIC catchall has a
    'gpu' item (as PanDA's brokerage checks), its resource_type mentions gpu, or its name
    contains GPU. Only active queues that take analysis jobs are listed. If CRIC cannot be
    reached, the cached list is shown whatever its age, else a small list bundled with
    hpogrid; a line on stderr says so.
    """
    from hpogrid.grid.sites import load_sites

    found = load_sites(url=url, refresh=refresh)
    if found.note:
        click.echo(f"Note: {found.note}", err=True)
    queues = found.select(gpu_only=gpu_only, name=name)
    if as_json:
        echo_json({"source": found.source, "url": found.url,
                   "fetched_at": found.fetched_at.isoformat(timespec="seconds") if found.fetched_at else None,
                   "queues": [q.to_dict() for q in queues]})
        return
    if not queues:
        click.echo("No matching queues." + (" Try --all for queues without GPUs." if gpu_only else ""))
        return
    echo_table([(q.name, q.site, "/".join(p for p in (q.cloud, q.country) if p), q.status, q.gpu_info or "-")
                for q in queues], headers=["queue", "site", "cloud/country", "status", "gpu"])
