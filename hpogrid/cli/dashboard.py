"""``hpogrid dashboard PROJECT``: a live web page of a project's study."""
import click

from hpogrid.cli._types import STUDY_URL, FiniteFloatRange


@click.command("dashboard")
@click.argument("project")
@click.option("--study", metavar="NAME", help="Study to follow (default: the project name).")
@click.option("--study-url", "--study_url", "study_url", type=STUDY_URL, metavar="URL",
              help="SQLAlchemy URL of the "
              "study store (default: $HPOGRID_STUDY_URL, else SQLite in the project folder).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="TCP port (0: any free port; the URL is printed).")
@click.option("--host", default="127.0.0.1", show_default=True, metavar="HOST",
              help="Address to listen on. Anything but a loopback address serves the study "
                   "without authentication to whoever can reach it.")
@click.option("--interval", type=FiniteFloatRange(0.2, 3600), default=2.0, show_default=True, metavar="S",
              help="Seconds between the page's checks for new results.")
def dashboard(project: str, study, study_url, port, host, interval) -> None:
    """Serve a live web page of PROJECT's study while any backend writes it.

    The page updates without reloading: trials (sortable, filter by state), best so far by
    trial and by time, parallel coordinates, metric against each parameter, parameter pairs,
    learning curves, importance, failed trials with their errors and, for grid projects, each
    task's and job's state as last synced (a button runs the same PanDA sync as 'report').
    It only reads the study. Open the printed URL in a browser; Ctrl-C stops.

    \b
    Example:
      hpogrid dashboard mnist_cnn                 # then open http://127.0.0.1:8080/
      ssh -L 8080:127.0.0.1:8080 login-node       # to watch a study on a remote machine
    """
    from hpogrid.dashboard import Source, serve

    source = Source(project, study, study_url)
    _check(source)
    serve(source, host=host, port=port, interval_s=interval, say=click.echo)


def _check(source) -> None:
    """Fail now, not in the browser, for an unknown project, a bad --study or --study-url (a
    bad --host or a busy --port: :func:`hpogrid.dashboard.serve`, before serving)."""
    from hpogrid.names import check_name
    from hpogrid.project import load_project
    from hpogrid.study.engine import parse_url

    load_project(source.project)
    if source.study is not None:  # a study name names folders: a path is no study
        check_name(source.study, "--study")
    if source.study_url:
        parse_url(source.study_url)
