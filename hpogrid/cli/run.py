"""``hpogrid run PROJECT``: submit the project's HPO to the grid as one PanDA task of N jobs."""
import click

from hpogrid.cli._base import echo_json
from hpogrid.cli._run_options import check_resume_flags, run_project, study_options
from hpogrid.search.names import ALGORITHMS


@click.command("run")
@click.argument("project")
@click.option("--n_jobs", "--n-jobs", "n_jobs", type=click.IntRange(min=1, max=10000), default=1,
              show_default=True, help="independent: grid jobs in the task, each running the project's HPO with "
              "its own seed. central: grid jobs in flight at once.")
@click.option("--search", type=click.Choice(["independent", "central"]), default="independent", show_default=True,
              help="independent: one task whose jobs search on their own (right for ASHA/PBT inside one GPU job). "
              "central: this command drives one search, sending points to grid jobs and learning from every "
              "result (run it in tmux/screen or as a batch job).")
@click.option("--trials_per_job", "--trials-per-job", "trials_per_job", type=click.IntRange(min=1), default=1,
              show_default=True, help="central: points each grid job evaluates.")
@click.option("--site", metavar="SITE", help="PanDA queue to run on (overrides the grid_config site).")
@click.option("--dry-run", "--dry_run", "dry_run", is_flag=True,
              help="Print the PanDA task parameters as JSON; submit nothing.")
@click.option("--architecture", metavar="ARCH", help="PanDA architecture request; the default asks for a "
              "GPU queue, '' asks for nothing.")
@click.option("--mode", type=click.Choice(["submit", "grid"]), default="submit", hidden=True,
              help="grid: what grid jobs of hpogrid 2.0 run (now 'hpogrid grid_job').")
@click.option("--seed", type=click.IntRange(min=0), help="independent: job k searches with SEED + k (default: a "
              "fresh random base per submission); central: the searcher's seed. In grid mode: this job's seed.")
@click.option("--trials", type=click.IntRange(min=1), help="independent: trials per job; central: trials of the "
              "whole search (default: the hpo_config's).")
@click.option("--algorithm", type=click.Choice(ALGORITHMS), help="central: search algorithm (overrides the "
              "hpo_config).")
@click.option("--max_failures", "--max-failures", "max_failures", type=click.IntRange(min=0),
              help="central: failed trials tolerated before the search stops (overrides the hpo_config).")
@study_options
def run(project, n_jobs, search, trials_per_job, site, dry_run, architecture, mode, seed, trials, algorithm,
        max_failures, study, study_url, top, resume, rerun_failed, rerun, no_backup, warm_start) -> None:
    """Run the HPO of PROJECT on the grid (PanDA).

    independent (default): one PanDA task of N_JOBS jobs. The project (scripts and configs)
    is packed as the task's sandbox; each job runs the project's HPO (the local backend,
    --trials trials with its own seed) in the container named by the grid_config, in
    /hpogrid/project where the sandbox and the input dataset (grid_config inDS) land, and
    hands its trials back as job metadata. The task id is recorded in the project, so
    `hpogrid report PROJECT` collects the jobs' trials and `hpogrid tasks show` follows it.

    central: this command is the searcher of one search across the grid. It asks the
    project's searcher for points, submits tasks of one job evaluating --trials_per_job
    points each (the points travel with the task), keeps --n_jobs jobs in flight, and tells
    each result to the searcher, until --trials trials are done; every trial is in the
    study as it goes. Ctrl-C stops submitting and follows the running jobs to their end; a
    second Ctrl-C kills them. A driver that died (kill -9, a reboot) is continued with
    --resume: running tasks are taken over, none is submitted twice.

    Needs PanDA access (PANDA_URL, PANDA_URL_SSL, an X509 proxy or PANDA_AUTH=oidc) and
    RUCIO_ACCOUNT for the output dataset name.
    """
    if mode == "grid":
        return _grid_job(project, seed, trials)
    central_only = {"--resume": resume, "--rerun-failed": rerun_failed, "--rerun": rerun is not None,
                    "--warm-start": warm_start is not None,
                    "--no-backup": no_backup, "--study": study,
                    "--study-url": study_url, "--algorithm": algorithm, "--max_failures": max_failures is not None,
                    "--trials_per_job": trials_per_job != 1}
    if search == "central":
        if dry_run:
            raise click.UsageError("--dry-run shows an independent task; a central search submits as it goes")
        from hpogrid.backends.panda import CentralOptions

        options = CentralOptions(trials=trials, algorithm=algorithm, n_jobs=n_jobs, seed=seed,
                                 max_failures=max_failures, study=study, study_url=study_url, resume=resume, rerun_failed=rerun_failed,
                                 rerun=check_resume_flags(resume, rerun_failed, no_backup, rerun),
                                 warm_start=warm_start, backup=not no_backup, trials_per_job=trials_per_job,
                                 site=site, architecture=architecture)
        return run_project("grid", project, options, top, "run --search central", study)
    given = [name for name, on in central_only.items() if on]
    if given:
        raise click.UsageError(f"{', '.join(given)} go with --search central")
    from hpogrid.backends.panda import GridRunOptions, dry_run as task_params, submit_project
    from hpogrid.backends.panda import output_containers
    from hpogrid.project import load_project

    proj = load_project(project)
    options = GridRunOptions(n_jobs=n_jobs, site=site, architecture=architecture, trials=trials, seed=seed)
    if dry_run:
        echo_json(task_params(proj, options))
        return
    sub = submit_project(proj, options)
    click.echo(f"Submitted task {sub.task_id} ({sub.taskname}): {sub.n_jobs} job{'s' * (sub.n_jobs != 1)}"
               f"{' at ' + sub.site if sub.site else ''}; outputs in {', '.join(output_containers(sub.out_ds))}")
    click.echo(f"Follow it with 'hpogrid tasks show --jeditaskid {sub.task_id}'; collect its trials with "
               f"'hpogrid report {project}'.")


@click.command("grid_job", hidden=True)
@click.argument("project")
@click.option("--seed", type=click.IntRange(min=0), help="This job's seed.")
@click.option("--trials", type=click.IntRange(min=1), help="Trials of this job (default: the hpo_config's).")
def grid_job(project, seed, trials) -> None:
    """What each grid job runs, in the unpacked sandbox (its working directory): the project's
    HPO, handing every trial back as the job's metadata. Internal: 'hpogrid run' submits it."""
    _grid_job(project, seed, trials)


def _grid_job(project: str, seed, trials) -> None:
    import sys

    from hpogrid.backends.panda import run_grid_job

    result = run_grid_job(project, seed, trials=trials)
    md = result.metadata
    best = md.get("best")
    click.echo(f"Grid job of {project}: {result.completed} completed, {result.failed} failed trials (seed {seed})")
    if best:
        click.echo(f"Best {md['metric']} = {best['value']} with {best['params']}")
    if not result.completed:  # exit code 1: PanDA marks the job failed (and retries it when allowed)
        raise click.ClickException(md.get("error") or f"no trial completed ({result.failed} failed)")
    if md.get("error"):
        click.echo(f"Note: {md['error']}", err=True)
    if result.interrupted:  # the pilot stopped the job (kill, wall-time limit): not a success
        sys.exit(130)
