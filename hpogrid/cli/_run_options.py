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
    """--trials, --algorithm, --n_jobs, --seed, --max_failures, --max_retries, less those named (by field) in
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
        "max_retries": click.option("--max_retries", "--max-retries", "max_retries", type=count(0),
                                    help="Times a lost trial (node failure, preemption, a killed process) runs "
                                    "again in this run, from its checkpoint (overrides the hpo_config, default 0)."),
    }
    return _options(*(decorator for name, decorator in shared.items() if name not in skip))


def stop_rule_options(fn: Callable) -> Callable:
    """--timeout, --timeout-action, --max-cost, --target, --patience, --min-delta: the run's
    budgets and stop rules (README "Budgets and stop rules"; checked by the engine, which names
    the option and its accepted forms when a value is bad, before anything runs)."""
    from hpogrid.budgets import COST_FORMS, DURATION_FORMS, TIMEOUT_ACTIONS
    from hpogrid.cli._types import FiniteFloatRange

    return _options(
        click.option("--timeout", metavar="DURATION", help=f"No new trial after this wall clock of the run: "
                     f"{DURATION_FORMS} (overrides the hpo_config; --resume counts it again from its start)."),
        click.option("--timeout-action", "--timeout_action", "timeout_action", type=click.Choice(TIMEOUT_ACTIONS),
                     help="At the timeout: drain (running trials finish; default) or stop them (recorded "
                     "interrupted)."),
        click.option("--max-cost", "--max_cost", "max_cost", metavar="BUDGET", help=f"Stop (running trials "
                     f"interrupted) once the study's trials used this much: {COST_FORMS}; run time x each trial's "
                     "CPUs/GPUs, running trials included, cumulative over --resume."),
        click.option("--target", metavar="VALUE[,VALUE...]", help="Drain once a completed trial reaches this "
                     "value of the metric; with several objectives a reference point it must dominate, one "
                     "value per objective (e.g. 0.1,0.5)."),
        click.option("--patience", type=count(1), metavar="N", help="Drain after N completed trials without an "
                     "improvement of the best by more than --min-delta."),
        click.option("--min-delta", "--min_delta", "min_delta", type=FiniteFloatRange(min=0, max=1e12), metavar="D",
                     help="With --patience: the smallest improvement that counts (default 0)."),
    )(fn)


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
    if summary.stopped_by:
        click.echo(f"Stopped by the {summary.stopped_by} rule: {summary.stop_reason}. Continue with: hpogrid "
                   f"{command} {project}" + (f" --study {study}" if study else "") + " --resume (a timeout counts "
                   "from the new run's start; the cost budget counts the whole study)", err=True)
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


# -- --detach: the run as a driver that outlives the terminal (hpogrid.drivers) -------------------
#: where each run command's detached driver runs: this machine, a Slurm job, or a Slurm job
#: where sbatch is found and this machine otherwise
DETACH_WHERE = {"local_run": "local", "slurm_run": "slurm", "run": "auto"}
DETACH_FIELDS = ("detach", "driver_log", "driver_time")


def detach_options(command: str) -> Callable:
    """--detach, --driver-log and (for a driver that may be a Slurm job) --driver-time."""
    where = DETACH_WHERE.get(command, "local")
    what = {"local": "a background process on this machine",
            "slurm": "a small Slurm job (1 CPU) that resubmits itself with --resume when Slurm ends it",
            "auto": "a small Slurm job (1 CPU, resubmitted with --resume when Slurm ends it) where sbatch is "
                    "found, else a background process on this machine; with --search central"}[where]
    decorators = [
        click.option("--detach", is_flag=True, help=f"Run the driver as {what}, with its output in a log, and "
                     "return at once: 'hpogrid status' shows it, 'hpogrid stop' drains or stops it."),
        click.option("--driver-log", "--driver_log", "driver_log", metavar="DIR", help="With --detach: folder "
                     "of the driver's log (default: the project's drivers folder)."),
    ]
    if where != "local":
        decorators.append(click.option("--driver-time", "--driver_time", "driver_time", metavar="TIME",
                                       help="With --detach, as a Slurm job: the driver job's time limit "
                                       "(Slurm's D-HH:MM:SS; default 1-00:00:00); at the limit it resubmits itself."))
    return _options(*decorators)


def with_detach(command: str, body: Callable) -> Callable:
    """``body``, or with --detach: the same command line recorded and started as a detached driver."""
    def run(*args, detach: bool = False, driver_log=None, driver_time=None, **kwargs):
        if not detach:
            if driver_log is not None or driver_time is not None:
                raise click.UsageError("--driver-log and --driver-time go with --detach")
            return body(*args, **kwargs)
        start_detached(command, kwargs, driver_log, driver_time)

    run.__name__, run.__doc__ = body.__name__, body.__doc__
    return run


def _command_line(ctx: click.Context) -> list:
    """The words of this command line that the user gave, less the detach options, in --help order."""
    from click.core import ParameterSource

    words: list = []
    for param in ctx.command.params:
        name = param.name or ""
        if name in DETACH_FIELDS or ctx.get_parameter_source(name) != ParameterSource.COMMANDLINE:
            continue
        value = ctx.params.get(name)
        if isinstance(param, click.Argument):
            words.append(str(value))
        elif isinstance(param, click.Option) and param.is_flag:
            if value:
                words.append(param.opts[0])
        elif value is not None:
            for one in (value if param.multiple else [value]):
                words += [param.opts[0], *(map(str, one) if param.nargs > 1 else [str(one)])]
    return words


def start_detached(command: str, given: dict, driver_log, driver_time) -> None:
    """Check the detach options, record the driver and start it; say how to follow it."""
    from hpogrid.drivers import check_driver_time, check_log_dir, detach, slurm_available
    from hpogrid.project import load_project

    where = DETACH_WHERE.get(command, "local")
    if command == "run" and given.get("search") != "central":
        raise click.UsageError("--detach goes with --search central (an independent task runs on the grid "
                               "already: 'hpogrid tasks' follows it)")
    if where == "slurm" and not slurm_available():
        raise click.UsageError("--detach: slurm_run submits its driver as a Slurm job, and sbatch is not found "
                               "here (run it where Slurm is, or use local_run --detach)")
    if given.get("dry_run"):
        raise click.UsageError("--dry-run shows a task and submits nothing: it does not go with --detach")
    check_resume_flags(given.get("resume", False), given.get("rerun_failed", False), given.get("no_backup", False),
                       given.get("rerun"))
    if where == "auto":
        where = "slurm" if slurm_available() else "local"
    if driver_time is not None and where == "local":
        raise click.UsageError("--driver-time goes with a driver that runs as a Slurm job")
    driver_time = check_driver_time(driver_time)
    log_dir = check_log_dir(driver_log)
    project = given["project"]
    proj = load_project(project)
    trials = given.get("trials") or proj.hpo_config.get("trials")
    slurm = (getattr(proj, "slurm_config", None) or {}) if where == "slurm" else {}
    sbatch = [f"--{key}={slurm[key]}" for key in ("partition", "account", "qos") if slurm.get(key)]
    args = _command_line(click.get_current_context())
    record = detach(project, command, args, where, study=given.get("study") or project,
                    study_url=given.get("study_url"), trials=trials, log_dir=log_dir, driver_time=driver_time,
                    sbatch=sbatch)
    at = f"Slurm job {record.job_id}" if where == "slurm" else f"process {record.pid} on {record.host}"
    click.echo(f"Detached driver {record.id} of {project}: {at}; log {record.log}")
    click.echo(f"Follow it with 'hpogrid status {project}'; drain it with 'hpogrid stop {project}' "
               "(--now: stop at once).")
