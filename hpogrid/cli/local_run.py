"""``hpogrid local_run PROJECT``: run a project's HPO here (or on a Ray cluster)."""
import click

from hpogrid.cli._run_options import SIGNALS_HELP, check_resume_flags, run_project, search_options, study_options


@click.command("local_run", help=f"""Run the HPO of PROJECT on this machine and record every trial in its study.

    Trials run in --n_jobs worker processes; Ray Tune runs them instead when the run needs
    it (a scheduler acting on intermediate results, PBT, BOHB, GPUs, --address for an
    existing Ray cluster, or --ray). {SIGNALS_HELP} Trials left RUNNING by a run that was killed are marked
    interrupted once they miss heartbeats for $HPOGRID_STALE_AFTER_S seconds (default 120).""")
@click.argument("project")
@search_options("Trials run at once (overrides scheduler_param max_concurrent).")
@click.option("--address", metavar="RAY_ADDRESS", help="Run on an existing Ray cluster, e.g. "
              "ray://host:10001 (default: $RAY_ADDRESS, else a local Ray on this machine).")
@click.option("--ray", "use_ray", is_flag=True, help="Run the trials with Ray Tune even when nothing needs it.")
@study_options
def local_run(project, trials, algorithm, n_jobs, seed, max_failures, address, use_ray, study, study_url, top, resume,
              rerun_failed, rerun, no_backup, warm_start) -> None:
    selection = check_resume_flags(resume, rerun_failed, no_backup, rerun)
    from hpogrid.engine import RunOptions

    opts = RunOptions(trials=trials, algorithm=algorithm, n_jobs=n_jobs, seed=seed, max_failures=max_failures,
                      address=address, study=study, study_url=study_url, resume=resume, rerun_failed=rerun_failed,
                      rerun=selection, warm_start=warm_start, backup=not no_backup)
    run_project("ray" if use_ray else "local", project, opts, top, "local_run", study)
