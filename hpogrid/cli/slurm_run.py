"""``hpogrid slurm_run PROJECT``: run a project's HPO as Slurm jobs, one job per trial."""
import sys

import click

from hpogrid.cli.local_run import print_summary
from hpogrid.search.names import ALGORITHMS


@click.command("slurm_run")
@click.argument("project")
@click.option("--trials", type=click.IntRange(min=1), help="Number of trials (overrides the hpo_config).")
@click.option("--algorithm", type=click.Choice(ALGORITHMS), help="Search algorithm (overrides the hpo_config).")
@click.option("--workers", type=click.IntRange(min=1),
              help="Trials (jobs) in Slurm at the same time (overrides the slurm_config).")
@click.option("--max_failures", "--max-failures", "max_failures", type=click.IntRange(min=0),
              help="Failed trials after which the run stops; 0: never (overrides the slurm_config).")
@click.option("--poll_interval", "--poll-interval", "poll_interval", type=click.FloatRange(min=0.05, max=600),
              help="Seconds between Slurm state checks (overrides the slurm_config).")
@click.option("--seed", type=int, help="Random seed of the search algorithm, for reproducible runs.")
@click.option("--study", metavar="NAME", help="Study to record trials in (default: the project name).")
@click.option("--study-url", "--study_url", "study_url", metavar="URL", help="SQLAlchemy URL of a shared study "
              "store (default: $HPOGRID_STUDY_URL, else SQLite in the project folder).")
@click.option("--top", type=click.IntRange(min=0), default=5, show_default=True,
              help="Best trials shown at the end.")
@click.option("--resume", is_flag=True, help="Continue the study: keep completed trials, scancel jobs an "
              "earlier (killed) slurm_run left in Slurm, re-run interrupted trials with the same values, run "
              "the rest up to --trials.")
@click.option("--rerun-failed", "rerun_failed", is_flag=True, help="With --resume: re-run failed trials too.")
@click.option("--no-backup", "no_backup", is_flag=True, help="With --resume: do not copy the study "
              "to <study>_backup-<n> first.")
def slurm_run(project, trials, algorithm, workers, max_failures, poll_interval, seed, study, study_url,
              top, resume, rerun_failed, no_backup) -> None:
    """Run the HPO of PROJECT on Slurm: each trial is one job (sbatch) running hpogrid.

    Job options come from the project's slurm_config (partition, account, qos, gres, cpus,
    mem, time, sbatch_args, workers, max_failures, poll_interval; defaults without one).
    This process asks the search algorithm for each configuration, keeps at most WORKERS
    jobs in Slurm and records every trial in the project's study, as local_run does; a job
    Slurm ends (time limit, scancel, node failure) becomes a failed or interrupted trial
    with Slurm's reason. Trial folders (trial.json, result.json, stdout.log, stderr.log) are
    under the hpo_config log_dir, in slurm/.

    Ctrl-C (or Ctrl-\\ or SIGTERM) scancels the jobs of this run, marks their trials
    interrupted, keeps the finished ones and exits with code 130. If this process is killed
    (-9), its jobs are found and cancelled by the next 'slurm_run --resume'.
    """
    if (rerun_failed or no_backup) and not resume:
        raise click.UsageError("--rerun-failed and --no-backup go with --resume")
    from hpogrid.backends.slurm import SlurmOptions, run_slurm
    from hpogrid.project import load_project

    proj = load_project(project)
    opts = SlurmOptions(trials=trials, algorithm=algorithm, seed=seed, study=study, study_url=study_url,
                        workers=workers, max_failures=max_failures, poll_interval=poll_interval,
                        resume=resume, rerun_failed=rerun_failed, backup=not no_backup)
    summary = run_slurm(proj, opts)
    for note in summary.notes:
        click.echo(f"Note: {note}", err=True)
    print_summary(summary, proj.hpo_config, top)
    if summary.interrupted:
        click.echo(f"Interrupted: running jobs were cancelled; finished trials are kept in study "
                   f"{summary.study!r}. Continue with: hpogrid slurm_run {project}"
                   + (f" --study {study}" if study else "") + " --resume", err=True)
        sys.exit(130)
    if summary.stop_reason:
        raise click.ClickException(summary.stop_reason)
