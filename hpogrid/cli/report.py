"""``hpogrid report PROJECT``: the trials of a project's study as a table, CSV, JSON or HTML."""
import shutil
import sys

import click

from hpogrid.cli._base import echo_table
from hpogrid.cli._types import DAYS, STUDY_URL, count


def _flag(name: str, help: str):
    return click.option(f"--{name}", f"--{name.replace('_', '-')}", name, is_flag=True, help=help)


@click.command("report")
@click.argument("project")
@click.option("--limit", type=count(1), metavar="N",
              help="Keep the N most recent trials (grid: the trials of the N most recent tasks).")
@click.option("--days", type=DAYS, metavar="D",
              help="Keep trials started (or created) within the last D days.")
@click.option("--taskname", metavar="PATTERN", help="Keep grid trials whose task name matches this "
              "shell-style wildcard, e.g. 'user.me.hpo.*'.")
@click.option("--range", "task_range", metavar="A-B", help="Keep grid trials with jeditaskid A..B.")
@click.option("--extra", metavar="COLS", help="Extra table columns, comma separated: site, "
              "task_time_s, time_s, taskid, jobid.")
@click.option("--columns", metavar="COLS", help="Show only these parameter / metric / extra columns "
              "(comma separated) for wide studies.")
@click.option("--outname", default="hpo_result", show_default=True, metavar="NAME",
              help="Output file name without extension (a plain name; the folder is --outdir).")
@click.option("--outdir", default=".", show_default=True, metavar="DIR",
              help="Existing folder the output files are written to.")
@_flag("to_json", "Write every trial to NAME.json.")
@_flag("to_html", "Write a self-contained HTML report with plots to NAME.html.")
@_flag("to_csv", "Write every trial to NAME.csv.")
@_flag("to_pcp", "Write the parallel-coordinates plot to NAME_pcp.html (and .png with kaleido).")
@click.option("--metric", metavar="M", help="Metric to sort and plot by (default: the project's; a "
              "multi-objective study lists its Pareto front unless --metric sorts it by one objective).")
@click.option("--mode", type=click.Choice(["min", "max"]), help="Whether lower or higher --metric "
              "is better (default: that objective's, else the project's).")
@click.option("--top", type=count(0), default=20, show_default=True, metavar="K",
              help="Trials shown in the table (0: only the summary).")
@click.option("--study", metavar="NAME", help="Study to report (default: the project name).")
@click.option("--study-url", "--study_url", "study_url", type=STUDY_URL, metavar="URL",
              help="SQLAlchemy URL of the "
              "study store (default: $HPOGRID_STUDY_URL, else SQLite in the project folder).")
@click.option("--artifacts", "show_artifacts", is_flag=True, help="Also list the files trials kept "
              "(hpogrid.trial.save_artifact): trial, name, size, SHA-256, where it is.")
@click.option("--failures", "show_failures", is_flag=True, help="Show what failed where instead of the trials: "
              "failed trials and lost attempts grouped by site / node / host and by error class (with "
              "--to_json: written to NAME.json).")
@click.option("--no-sync", "--no_sync", "no_sync", is_flag=True, help="Do not ask PanDA for the results "
              "of the project's grid tasks; report what is in the study store.")
def report(project: str, limit, days, taskname, task_range, extra, columns, outname, outdir, to_json, to_html,
           to_csv, to_pcp, metric, mode, top, study, study_url, show_artifacts, no_sync, show_failures) -> None:
    """Show the trials of PROJECT's study sorted by the metric, best first.

    A study with several objectives shows its Pareto-optimal trials (feasible completed trials
    no other one beats in every objective); trials breaking an outcome constraint are marked
    infeasible and never ranked.

    Trials of the project's grid tasks (`hpogrid run`) are first fetched from PanDA into
    the study store (again only for tasks that changed; --no-sync skips it). Grid filters
    (--taskname, --range) select PanDA tasks; --days and --limit work for every backend.
    Files go to the current folder unless --outdir names another.

    --study a,b compares studies: one summary row per study, --to_json with each study's best
    and trials, --to_csv with a study column, --to_html with their best-so-far curves,
    parameter distributions and Pareto fronts overlaid.
    """
    from hpogrid import report as lib

    filters = lib.Filters(limit=limit, days=days, taskname=taskname,
                          task_range=lib.parse_range(task_range) if task_range else None)
    extras = lib.parse_extra(extra)
    from hpogrid.objectives import split_list

    shown = split_list(columns, "--columns") if columns else None
    kinds = [k for k, on in (("csv", to_csv), ("json", to_json), ("html", to_html), ("pcp", to_pcp)) if on]
    if kinds:
        lib.output_base(outname, outdir)  # fail before the (possibly slow) study read
    studies = lib.parse_studies(study)
    if show_failures:
        if len(studies) > 1 or set(kinds) - {"json"} or extra or columns or show_artifacts:
            raise click.UsageError("--failures shows one study's failures (with --to_json to write them): leave "
                                   "out --to_csv, --to_html, --to_pcp, --extra, --columns, --artifacts and a study "
                                   "list")
        _failures(project, study, study_url, metric, mode, filters, kinds, outname, outdir, no_sync)
        return
    if len(studies) > 1:
        _compare(project, studies, study_url, metric, mode, filters, kinds, outname, outdir, no_sync,
                 extra, columns, show_artifacts)
        return
    from hpogrid.progress import PLAIN_EVERY_S, Progress

    # the slow part (sync, read, files) under one bar at a terminal; it is gone before the table
    steps = (0 if no_sync else 1) + 1 + len(kinds)
    paths, file_notes = [], []
    with Progress("report", steps, "steps", transient=True, plain_first_after_s=PLAIN_EVERY_S) as bar:
        if not no_sync:
            bar.update(status="syncing grid tasks")
            _sync_grid(project, study, study_url)
            bar.update(advance=1)
        bar.update(status="reading the study")
        rep = lib.build_report(project, study=study, study_url=study_url, metric=metric, mode=mode,
                               filters=filters)
        bar.update(advance=1)
        for kind in kinds:
            bar.update(status=f"writing {kind} ({len(rep.trials):,} trials)")
            done, notes = lib.write(rep, outname, [kind], outdir)
            paths += done
            file_notes += notes
            bar.update(advance=1)
    if top:
        headers, rows = lib.table(rep, extra=extras, columns=shown, top=top)
        hidden = []
        if shown is None and sys.stdout.isatty():
            headers, rows, hidden = lib.fit(headers, rows, shutil.get_terminal_size().columns)
        echo_table(rows, headers, width=24)
        if hidden:
            click.echo(f"Note: {len(hidden)} columns do not fit the terminal ({', '.join(hidden)}): "
                       "pick columns with --columns", err=True)
        if rep.listed > top:
            what = "Pareto-optimal trials" if rep.pareto_view else "trials"
            click.echo(f"... {rep.listed - top} more {what} (--top N to show more, --to_csv for all)")
        if rep.pareto_view and rep.listed < len(rep.trials):
            click.echo(f"The table lists the Pareto front ({rep.listed} of {len(rep.trials)} trials); "
                       "--metric M sorts every trial by one objective.")
    click.echo(lib.summary(rep))
    if show_artifacts:
        _artifacts(rep)
    for note in rep.notes:
        click.echo(f"Note: {note}", err=True)
    for note in dict.fromkeys(file_notes):
        if note not in rep.notes:
            click.echo(f"Note: {note}", err=True)
    for path in paths:
        click.echo(f"Wrote {path}")


def _failures(project: str, study, study_url, metric, mode, filters, kinds, outname, outdir, no_sync) -> None:
    """``--failures``: what failed where, by place and by error class."""
    from hpogrid import report as lib

    if not no_sync:
        _sync_grid(project, study, study_url)
    rep = lib.build_report(project, study=study, study_url=study_url, metric=metric, mode=mode, filters=filters)
    digest = lib.failure_digest(rep.trials)
    if digest.empty:
        click.echo(f"No failed trial and no lost attempt in study {rep.study!r} ({len(rep.trials)} trials).")
    else:
        by_place, by_error = lib.digest_tables(digest)
        echo_table(by_place, lib.PLACE_HEADERS, width=60)
        click.echo()
        echo_table(by_error, lib.ERROR_HEADERS, width=80)
        click.echo(f"{digest.failed} failed trials, {digest.lost_attempts} lost attempts in {len(rep.trials)} trials "
                   f"of study {rep.study!r}.")
    for note in rep.notes:
        click.echo(f"Note: {note}", err=True)
    if kinds:
        from hpogrid.fileio import dump_json, write_atomic

        base = lib.output_base(outname, outdir)
        path = base.with_name(base.name + ".json")
        write_atomic(path, dump_json({"project": project, "study": rep.study, **digest.as_dict()}))
        click.echo(f"Wrote {path}")


def _artifacts(rep) -> None:
    """The files the reported trials kept, in report order."""
    from hpogrid.trial import artifacts

    rows = [[t.number, t.uid, name, a.get("size"), str(a.get("sha256") or "")[:12], a.get("file")]
            for t in rep.trials for name, a in artifacts(t.annotations).items()]
    if not rows:
        click.echo("No trial kept an artifact (hpogrid.trial.save_artifact).")
        return
    echo_table(rows, ["trial", "uid", "artifact", "bytes", "sha256", "file"], width=80)


def _compare(project: str, studies, study_url, metric, mode, filters, kinds, outname, outdir, no_sync,
             extra=None, columns=None, show_artifacts=False) -> None:
    """``--study a,b``: one summary row per study, and the comparison files."""
    from hpogrid import report as lib

    if "pcp" in kinds:
        raise click.UsageError("--to_pcp draws one study: leave it out when comparing studies")
    if extra or columns or show_artifacts:
        raise click.UsageError("--extra, --columns and --artifacts show one study's trials: leave them out "
                               "when comparing studies")
    if not no_sync:
        for name in studies:
            _sync_grid(project, name, study_url)
    cmp = lib.build_comparison(project, studies, study_url, metric, mode, filters)
    paths, notes = lib.write_comparison(cmp, outname, kinds, outdir) if kinds else ([], [])
    headers, rows = lib.compare_table(cmp)
    echo_table(rows, headers, width=40)
    for note in dict.fromkeys([f"{r.study}: {n}" for r in cmp.reports for n in r.notes] + notes):
        click.echo(f"Note: {note}", err=True)
    for path in paths:
        click.echo(f"Wrote {path}")


def _sync_grid(project: str, study, study_url) -> None:
    from hpogrid.backends.panda import sync_for_report

    result = sync_for_report(project, study, study_url)
    if result is None:
        return
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
    if result.asked:
        click.echo(f"Grid: {result.trials} trials from {result.asked} of {result.tasks} tasks synced"
                   + (f"; {result.running_jobs} jobs still running" if result.running_jobs else ""), err=True)
