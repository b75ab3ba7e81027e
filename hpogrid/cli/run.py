"""``hpogrid run PROJECT``: submit the project's HPO to the grid as one PanDA task of N jobs."""
import click

from hpogrid.cli._base import echo_json


@click.command("run")
@click.argument("project")
@click.option("--n_jobs", "--n-jobs", "n_jobs", type=click.IntRange(min=1, max=10000), default=1,
              show_default=True, help="Grid jobs in the task; each runs the project's HPO with its own seed.")
@click.option("--site", metavar="SITE", help="PanDA queue to run on (overrides the grid_config site).")
@click.option("--dry-run", "--dry_run", "dry_run", is_flag=True,
              help="Print the PanDA task parameters as JSON; submit nothing.")
@click.option("--architecture", metavar="ARCH", help="PanDA architecture request; the default asks for a "
              "GPU queue, '' asks for nothing.")
@click.option("--mode", type=click.Choice(["submit", "grid"]), default="submit", hidden=True,
              help="grid: what grid jobs of hpogrid 2.0 run (now 'hpogrid grid_job').")
@click.option("--seed", type=click.IntRange(min=0), help="Seeds: job k searches with SEED + k (default: a fresh "
              "random base per submission). In grid mode: this job's seed.")
@click.option("--trials", type=click.IntRange(min=1), help="Trials per job (default: the hpo_config's).")
def run(project, n_jobs, site, dry_run, architecture, mode, seed, trials) -> None:
    """Run the HPO of PROJECT on the grid: one PanDA task of N_JOBS jobs.

    The project (scripts and configs) is packed as the task's sandbox; each job runs
    the project's HPO (the local backend, --trials trials with its own seed) in the
    container named by the grid_config, in
    /hpogrid/project where the sandbox and the input dataset (grid_config inDS) land, and
    hands its trials back as job metadata. The task id is recorded in the project, so
    `hpogrid report PROJECT` collects the jobs' trials and `hpogrid tasks show` follows it.

    Needs PanDA access (PANDA_URL, PANDA_URL_SSL, an X509 proxy or PANDA_AUTH=oidc) and
    RUCIO_ACCOUNT for the output dataset name.
    """
    if mode == "grid":
        return _grid_job(project, seed, trials)
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
