"""``hpogrid slurm_run PROJECT``: run a project's HPO as Slurm jobs, one job per trial."""
import click

from hpogrid.cli._run_options import SIGNALS_HELP, check_resume_flags, run_project, search_options, study_options


@click.command("slurm_run", help=f"""Run the HPO of PROJECT on Slurm: each trial is one job (sbatch) running hpogrid.

    Job options come from the project's slurm_config (partition, account, qos, gres, cpus,
    mem, time, sbatch_args, workers, poll_interval; defaults without one). This process
    asks the search algorithm for each configuration, keeps at most --n_jobs (slurm_config
    workers) jobs in Slurm and records every trial in the project's study, as local_run
    does; a job Slurm ends (time limit, scancel, node failure) becomes a failed or
    interrupted trial with Slurm's reason. Trial folders (trial.json, result.json,
    stdout.log, stderr.log) are under the hpo_config log_dir, in slurm/.

    With --pool K, K long-lived worker jobs run the trials instead: each takes the next
    trial this process queued in the study store, so a trial waits in no Slurm queue (a
    worker that dies leaves its trial to be run once more; lost workers are replaced).

    {SIGNALS_HELP} Stopping scancels the run's jobs. If this process is killed (-9), its
    jobs are found and cancelled by the next 'slurm_run --resume'.""")
@click.argument("project")
@search_options("Trials (jobs) in Slurm at the same time (overrides the slurm_config workers).")
@click.option("--workers", type=click.IntRange(min=1), hidden=True)
@click.option("--pool", type=click.IntRange(min=0), help="Run the trials in K long-lived worker jobs that each "
              "take trial after trial from the study (no Slurm queue per trial; overrides slurm_config pool; "
              "0: one job per trial).")
@click.option("--poll_interval", "--poll-interval", "poll_interval", type=click.FloatRange(min=0.05, max=600),
              help="Seconds between Slurm state checks (overrides the slurm_config).")
@study_options
def slurm_run(project, trials, algorithm, n_jobs, seed, max_failures, workers, pool, poll_interval, study,
              study_url, top, resume, rerun_failed, rerun, no_backup, warm_start) -> None:
    selection = check_resume_flags(resume, rerun_failed, no_backup, rerun)
    from hpogrid.backends.slurm import SlurmOptions

    opts = SlurmOptions(trials=trials, algorithm=algorithm, seed=seed, max_failures=max_failures, study=study,
                        study_url=study_url, workers=n_jobs or workers, poll_interval=poll_interval, pool=pool,
                        resume=resume, rerun_failed=rerun_failed, rerun=selection, warm_start=warm_start,
                        backup=not no_backup)
    run_project("slurm", project, opts, top, "slurm_run", study)
