"""``hpogrid local_run PROJECT``: run a project's HPO here (or on a Ray cluster)."""
import sys

import click

from hpogrid.cli._base import echo_table
from hpogrid.search.names import ALGORITHMS


@click.command("local_run")
@click.argument("project")
@click.option("--trials", type=click.IntRange(min=1), help="Number of trials (overrides the hpo_config).")
@click.option("--algorithm", type=click.Choice(ALGORITHMS), help="Search algorithm (overrides the hpo_config).")
@click.option("--n_jobs", "--n-jobs", "n_jobs", type=click.IntRange(min=1),
              help="Trials run in parallel (overrides scheduler_param max_concurrent).")
@click.option("--seed", type=int, help="Random seed of the search algorithm, for reproducible runs.")
@click.option("--address", metavar="RAY_ADDRESS", help="Run on an existing Ray cluster, e.g. "
              "ray://host:10001 (default: $RAY_ADDRESS, else a local Ray on this machine).")
@click.option("--study", metavar="NAME", help="Study to record trials in (default: the project name).")
@click.option("--study-url", "study_url", metavar="URL", help="SQLAlchemy URL of a shared study store "
              "(default: $HPOGRID_STUDY_URL, else SQLite in the project folder).")
@click.option("--top", type=click.IntRange(min=0), default=5, show_default=True,
              help="Best trials shown at the end.")
@click.option("--resume", is_flag=True, help="Continue the study: keep completed trials, re-run "
              "interrupted ones with the same values, run the rest up to --trials.")
@click.option("--rerun-failed", "rerun_failed", is_flag=True, help="With --resume: re-run failed trials too.")
@click.option("--no-backup", "no_backup", is_flag=True, help="With --resume: do not copy the study "
              "to <study>_backup-<n> first.")
def local_run(project, trials, algorithm, n_jobs, seed, address, study, study_url, top, resume,
              rerun_failed, no_backup) -> None:
    """Run the HPO of PROJECT with Ray Tune and record every trial in its study.

    Ctrl-C stops cleanly: no new trials start, running ones are recorded as interrupted,
    finished ones are kept, and the exit code is 130. Ctrl-\\ (SIGQUIT) lets the running
    trials finish first (then exit 130); a second signal interrupts them. Continue later
    with --resume. Trials left RUNNING by a run that was killed are marked interrupted
    once they miss heartbeats for $HPOGRID_STALE_AFTER_S seconds (default 120).
    """
    if (rerun_failed or no_backup) and not resume:
        raise click.UsageError("--rerun-failed and --no-backup go with --resume")
    from hpogrid.backends import RunOptions, run_local
    from hpogrid.project import load_project

    proj = load_project(project)
    opts = RunOptions(trials=trials, algorithm=algorithm, n_jobs=n_jobs, seed=seed, address=address,
                      study=study, study_url=study_url, resume=resume, rerun_failed=rerun_failed,
                      backup=not no_backup)
    summary = run_local(proj, opts)
    for note in summary.notes:
        click.echo(f"Note: {note}", err=True)
    print_summary(summary, proj.hpo_config, top)
    if summary.interrupted:
        click.echo(f"Interrupted: finished trials are kept in study {summary.study!r}. Continue with: "
                   f"hpogrid local_run {project}" + (f" --study {study}" if study else "") + " --resume", err=True)
        sys.exit(130)


def print_summary(summary, hpo, top: int) -> None:
    from hpogrid.study import COMPLETED, StudyStore

    store = StudyStore(summary.store_url)
    c, total = summary.counts, sum(summary.study_counts.values())
    click.echo(f"This run ({summary.algorithm}, {summary.scheduler}): {c.get('COMPLETED', 0)} completed, "
               f"{c.get('FAILED', 0)} failed, {c.get('INTERRUPTED', 0)} interrupted in {summary.seconds:.1f} s. "
               f"Study {summary.study!r} holds {total} trials; best so far:")
    best = [t for t in store.trials(summary.study, states=[COMPLETED]) if t.value is not None]
    best.sort(key=lambda t: t.value, reverse=hpo["mode"] == "max")
    if not best or top == 0:
        return
    names = list(best[0].params)
    rows = [[t.number, t.value, *[t.params.get(n) for n in names]] for t in best[:top]]
    echo_table(rows, ["trial", hpo["metric"], *names])
    failed = store.trials(summary.study, states=["FAILED"])
    if failed:
        from hpogrid.backends._recorder import error_summary

        click.echo(f"Failed trials: {len(failed)}; last error: {error_summary(failed[-1].error)}")
