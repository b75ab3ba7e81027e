"""Options every run command shares: one spelling and one meaning each (README "Running").

``run_options`` decorates a command with them; :func:`run_project` runs a backend with the
resulting :class:`hpogrid.engine.RunOptions` and prints the one summary every backend gets.
"""
import sys
from typing import Callable, Collection, Optional

import click

from hpogrid.cli._types import SEED, STUDY_URL, count
from hpogrid.search.names import ALGORITHMS


def _options(*decorators: Callable) -> Callable:
    def apply(fn):
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn
    return apply


def search_options(n_jobs_help: str, skip: Collection[str] = ()) -> Callable:
    """--trials, --algorithm, --n_jobs, --seed, --max_failures, less those named (by field) in
    ``skip``: a command that declares its own (:mod:`hpogrid.backends.declared`)."""
    shared = {
        "trials": click.option("--trials", type=count(1), help="Number of trials (overrides the "
                               "hpo_config)."),
        "algorithm": click.option("--algorithm", type=click.Choice(ALGORITHMS), help="Search algorithm (overrides "
                                  "the hpo_config)."),
        "n_jobs": click.option("--n_jobs", "--n-jobs", "n_jobs", type=count(1), help=n_jobs_help),
        "seed": click.option("--seed", type=SEED, help="Random seed of the search algorithm: the same seed gives the "
                             "same random points on every backend."),
        "max_failures": click.option("--max_failures", "--max-failures", "max_failures", type=count(0),
                                     help="Failed trials tolerated: the run stops when more fail (0: at the first "
                                     "failure; overrides the hpo_config, whose default is never)."),
    }
    return _options(*(decorator for name, decorator in shared.items() if name not in skip))


def study_options(fn: Callable) -> Callable:
    """--study, --study-url, --top, --resume, --rerun-failed, --rerun, --no-backup, --warm-start."""
    return _options(
        click.option("--study", metavar="NAME", help="Study to record trials in (default: the project name)."),
        click.option("--study-url", "--study_url", "study_url", type=STUDY_URL, metavar="URL",
                     help="SQLAlchemy URL of a shared "
                     "study store (default: $HPOGRID_STUDY_URL, else SQLite in the project folder)."),
        click.option("--top", type=count(0), default=5, show_default=True,
                     help="Best trials shown at the end."),
        click.option("--resume", is_flag=True, help="Continue the study: keep completed trials, re-run "
                     "interrupted ones with the same values, run the rest up to --trials."),
        click.option("--rerun-failed", "rerun_failed", is_flag=True, help="With --resume: re-run failed trials too "
                     "(the same as --rerun FAILED)."),
        click.option("--rerun", "rerun", metavar="STATE|UID[,...]", help="With --resume: re-run these finished "
                     "trials too, with their stored values and uids: every trial in a state (FAILED, COMPLETED; "
                     "INTERRUPTED ones always re-run) and/or the trials named by uid, e.g. --rerun FAILED or "
                     "--rerun local-20261203-101500-ab12-00003,FAILED ('hpogrid report' lists uids)."),
        click.option("--no-backup", "no_backup", is_flag=True, help="With --resume: do not copy the study "
                     "to <study>_backup-<n> first."),
        click.option("--warm-start", "--warm_start", "warm_start", metavar="STUDY_OR_PROJECT",
                     help="Tell the search algorithm the completed trials of another study first: a study of this "
                     "run's study store, else the study of that project. Its space must have the same parameter "
                     "names and methods (trials outside this space's bounds are skipped) and it must optimise the "
                     "same metric. Searchers that learn from results are told (optuna, hyperopt, skopt, bayesian, "
                     "ax, ...); random and grid search learn nothing; a searcher that cannot be told says so and "
                     "searches afresh."),
    )(fn)


SIGNALS_HELP = ("Ctrl-C (or SIGTERM) stops now: no new trials start, running ones are recorded as "
                "interrupted, finished ones are kept, exit code 130. Ctrl-\\ (SIGQUIT) drains: running "
                "trials finish first, then exit 130; a second signal stops now. Continue later with --resume.")


def check_resume_flags(resume: bool, rerun_failed: bool, no_backup: bool, rerun: Optional[str] = None):
    """The --resume family, checked before anything runs; returns the --rerun selection (or None)."""
    if (rerun_failed or no_backup or rerun) and not resume:
        raise click.UsageError("--rerun-failed, --rerun and --no-backup go with --resume")
    if rerun is None:
        return None
    from hpogrid.engine.rerun import RerunSelection

    return RerunSelection.parse(rerun)


def run_project(backend: str, project: str, options, top: int, command: str, study: Optional[str]) -> None:
    """Run ``project`` on ``backend``; print notes, the summary and how to continue."""
    from hpogrid.backends import get_backend
    from hpogrid.project import load_project
    from hpogrid.settings import Settings

    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(Settings) if ctx is not None else None
    options.settings = found or Settings.from_env()
    proj = load_project(project)
    summary = get_backend(backend).run(proj, options)
    for note in summary.notes:
        click.echo(f"Note: {note}", err=True)
    print_summary(summary, proj.hpo_config, top)
    if summary.interrupted:
        click.echo(f"Interrupted: finished trials are kept in study {summary.study!r}. Continue with: "
                   f"hpogrid {command} {project}" + (f" --study {study}" if study else "") + " --resume", err=True)
        sys.exit(130)


def print_summary(summary, hpo, top: int) -> None:
    """The run's counts, then the study's best trials (:func:`hpogrid.study.best_so_far`): by
    the metric for one objective (infeasible trials left out), the Pareto front for several
    (every objective shown)."""
    from hpogrid.cli._base import echo_table
    from hpogrid.engine import error_summary
    from hpogrid.study import best_so_far

    c, total = summary.counts, sum(summary.study_counts.values())
    found = best_so_far(summary.store_url, summary.study, top=top)
    objectives, best = found.objectives, found.best
    what = "Pareto front" if objectives.is_multi else "best so far"
    click.echo(f"This run ({summary.algorithm}, {summary.scheduler}): {c.get('COMPLETED', 0)} completed, "
               f"{c.get('FAILED', 0)} failed, {c.get('INTERRUPTED', 0)} interrupted in {summary.seconds:.1f} s. "
               f"Study {summary.study!r} holds {total} trials; {what}:")
    if found.infeasible:
        rules = ", ".join(str(r) for r in objectives.constraints)
        click.echo(f"Infeasible trials (breaking {rules}): {found.infeasible}, never best")
    if best and top:
        names = list(best[0].params)
        extra = [m for m in (hpo.get("extra_metrics") or []) if m not in objectives.metrics]
        shown = objectives.metrics[1:]
        rows = [[t.number, t.metrics.get(objectives.metric, t.value) if objectives.is_multi else t.value,
                 *[t.metrics.get(m) for m in (*shown, *extra)], *[t.params.get(n) for n in names]]
                for t in best[:top]]
        echo_table(rows, ["trial", objectives.metric, *shown, *extra, *names])
        if objectives.is_multi and len(best) > top:
            click.echo(f"... {len(best) - top} more Pareto-optimal trials ('hpogrid report' lists them all)")
    if found.failed:
        click.echo(f"Failed trials: {found.failed}; last error: {error_summary(found.last_error)}")
