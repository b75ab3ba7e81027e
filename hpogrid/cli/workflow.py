"""``hpogrid workflow run|show PROJECT``: staged workflows."""
import click

from hpogrid.cli._base import echo_table
from hpogrid.cli._types import STUDY_URL


@click.group()
def workflow() -> None:
    """Run a project's staged workflow (workflow.json or workflow.yaml among its scripts)."""


@workflow.command()
@click.argument("project")
@click.option("--stage", "--stages", "-s", "stage", metavar="NAME", multiple=True,
              help="Run this stage (again) and what it needs that is not done yet; repeat for several.")
@click.option("--continue", "resume", is_flag=True, help="Skip stages already done.")
@click.option("--file", "--config", "-c", "file", type=click.Path(dir_okay=False), help="Workflow file, JSON or "
              "YAML (.yaml/.yml), e.g. o2tuner's config.yaml (default: the project's workflow.json, workflow.yaml "
              "or workflow.yml).")
@click.option("--study-url", "--study_url", "study_url", type=STUDY_URL, metavar="URL",
              help="SQLAlchemy URL of a shared study "
              "store for the optimisation stages (default: $HPOGRID_STUDY_URL, else SQLite in the project folder).")
def run(project: str, stage, resume, file, study_url) -> None:
    """Run the stages of PROJECT's workflow in dependency order.

    o2tuner's config.yaml runs as written (-c config.yaml, -s STAGE); when PROJECT does not
    exist yet it is made from the scripts in the config file's folder.

    An optimisation stage runs on the backend it names ("backend": "local" or "slurm") into
    the study named after it; running it again continues that study. "cmd" stages run
    without a shell (globs expanded; no pipes or variables)."""
    from hpogrid.workflow import load_workflow, run_workflow, workflow_project

    say = lambda line: click.echo(line, err=True)  # noqa: E731
    wf = load_workflow(None, file) if file else None  # (a bad file: one line, before anything is made)
    proj = workflow_project(project, file, say)
    wf = wf or load_workflow(proj, file)
    for note in wf.notes:
        click.echo(f"Note: {note}", err=True)
    outcome = run_workflow(proj, wf, stage=list(stage), resume=resume, say=say, study_url=study_url)
    ran = [s for s, what in outcome if what == "ran"]
    click.echo(f"Workflow of {project!r}: ran {', '.join(ran) or 'nothing'}; "
               f"skipped {len(outcome) - len(ran)} stage(s) already done.")


@workflow.command()
@click.argument("project")
@click.option("--file", "--config", "-c", "file", type=click.Path(dir_okay=False),
              help="Workflow file, JSON or YAML (.yaml/.yml).")
def show(project: str, file) -> None:
    """List the stages of PROJECT's workflow in running order, with what is done."""
    from hpogrid.project import load_project
    from hpogrid.workflow import OptimisationStage, is_done, load_workflow

    proj = load_project(project)
    wf = load_workflow(proj, file)
    rows = [[name, "optimisation" if isinstance(wf.stages[name], OptimisationStage) else "user",
             ", ".join(wf.needs(name)), "yes" if is_done(proj, wf.folder(name)) else "no"] for name in wf.order()]
    echo_table(rows, ["stage", "kind", "needs", "done"])
