"""``hpogrid run PROJECT``: submit the project's HPO to the grid as one PanDA task of N jobs, or
drive one central search across grid jobs.

Its options are declared on the grid backend's :class:`GridCommandOptions` and built into
the command as every run command's are (:func:`hpogrid.cli.runs.run_parameters`); only its
body is its own, since its modes do different things: submit a task and return (independent,
``--dry-run``), run the grid backend (central), or be a grid job of hpogrid 2.0 (``--mode grid``).
"""
import click

from hpogrid.backends.panda.options import GridCommandOptions
from hpogrid.budgets import FIELDS as RULE_FIELDS
from hpogrid.cli._base import echo_json
from hpogrid.cli._run_options import check_resume_flags, run_project
from hpogrid.cli._types import SEED, count
from hpogrid.cli.runs import run_parameters


def _run(project: str, top: int, study, study_url, resume, rerun_failed, rerun, no_backup, warm_start,
         **given) -> None:
    """``hpogrid run``'s body: its options are declared (:class:`GridCommandOptions`); what it
    does depends on them: the hidden 2.0 job mode, a central search, or an independent task."""
    opts = GridCommandOptions(**given, study=study, study_url=study_url, resume=resume, rerun_failed=rerun_failed,
                              warm_start=warm_start, backup=not no_backup)
    if opts.mode == "grid":
        return _grid_job(project, opts.seed, opts.trials)
    central_only = {"--resume": resume, "--rerun-failed": rerun_failed, "--rerun": rerun is not None,
                    "--warm-start": warm_start is not None,
                    "--no-backup": no_backup, "--study": study,
                    "--study-url": study_url, "--algorithm": opts.algorithm,
                    "--max_failures": opts.max_failures is not None, "--trials_per_job": opts.trials_per_job != 1,
                    **{f"--{key.replace('_', '-')}": getattr(opts, key) is not None for key in RULE_FIELDS}}
    if opts.search == "central":
        if opts.dry_run:
            raise click.UsageError("--dry-run shows an independent task; a central search submits as it goes")
        opts.rerun = check_resume_flags(resume, rerun_failed, no_backup, rerun)
        return run_project("grid", project, opts.central(), top, "run --search central", study)
    given_central = [name for name, on in central_only.items() if on]
    if given_central:
        raise click.UsageError(f"{', '.join(given_central)} go with --search central")
    from hpogrid.backends.panda import dry_run as task_params, output_containers, submit_project
    from hpogrid.project import load_project

    proj = load_project(project)
    if opts.dry_run:
        echo_json(task_params(proj, opts.independent()))
        return
    sub = submit_project(proj, opts.independent())
    click.echo(f"Submitted task {sub.task_id} ({sub.taskname}): {sub.n_jobs} job{'s' * (sub.n_jobs != 1)}"
               f"{' at ' + sub.site if sub.site else ''}; outputs in {', '.join(output_containers(sub.out_ds))}")
    click.echo(f"Follow it with 'hpogrid tasks show --jeditaskid {sub.task_id}'; collect its trials with "
               f"'hpogrid report {project}'.")


#: ``hpogrid run PROJECT``: its parameters built from :class:`GridCommandOptions` (as local_run's are)
run = click.command("run", help=GridCommandOptions.help)(run_parameters(GridCommandOptions, _run))


@click.command("grid_job", hidden=True)
@click.argument("project")
@click.option("--seed", type=SEED, help="This job's seed.")
@click.option("--trials", type=count(1), help="Trials of this job (default: the hpo_config's).")
@click.option("--job", "job", type=count(1), help="This job's index in its task (a central search): it "
              "evaluates the sandbox's points meant for it.")
def grid_job(project: str, seed, trials, job) -> None:
    """What each grid job runs, in the unpacked sandbox (its working directory): the project's
    HPO, handing every trial back as the job's metadata. Internal: 'hpogrid run' submits it."""
    _grid_job(project, seed, trials, job)


def _grid_job(project: str, seed, trials, job=None) -> None:
    import sys

    from hpogrid.backends.panda import run_grid_job

    result = run_grid_job(project, seed, trials=trials, job=job)
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
