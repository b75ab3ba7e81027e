"""``hpogrid workflow run|show PROJECT``: staged workflows."""
import click

from hpogrid.cli._base import echo_table
from hpogrid.cli._types import STUDY_URL


@click.group()
def workflow() -> None:
    """Run a project's staged workflow (workflow.json or workflow.yaml among its scripts)."""


@workflow.command()
@click.argument("project")
@click.option("--stage", metavar="NAME", help="Run this stage and what it needs that is not done yet.")
@click.option("--continue", "resume", is_flag=True, help="Skip stages already done.")
@click.option("--file", "file", type=click.Path(dir_okay=False), help="Workflow file, JSON or YAML "
              "(.yaml/.yml) (default: the project's workflow.json, workflow.yaml or workflow.yml).")
@click.option("--study-url", "--study_url", "study_url", type=STUDY_URL, metavar="URL",
              help="SQLAlchemy URL of a shared study "
              "store for the optimisation stages (default: $HPOGRID_STUDY_URL, else SQLite in the project folder).")
def run(project: str, stage, resume, file, study_url) -> None:
    """Run the stages of PROJECT's workflow in dependency order.

    An optimisation stage runs on the backend it names ("backend": "local" or "slurm") into
    the study named after it; running it again continues that study. "cmd" stages run
    without a shell (no globs, pipes or variables)."""
    from hpogrid.project import load_project
    from hpogrid.workflow import load_workflow, run_workflow

    proj = load_project(project)
    outcome = run_workflow(proj, load_workflow(proj, file), stage=stage, resume=resume,
                           say=lambda line: click.echo(line, err=True), study_url=study_url)
    ran = [s for s, what in outcome if what == "ran"]
    click.echo(f"Workflow of {project!r}: ran {', '.join(ran) or 'nothing'}; "
               f"skipped {len(outcome) - len(ran)} stage(s) already done.")


@workflow.command()
@click.argument("project")
@click.option("--file", "file", type=click.Path(dir_okay=False), help="Workflow file, JSON or YAML (.yaml/.yml).")
def show(project: str, file) -> None:
    """List the stages of PROJECT's workflow in running order, with what is done."""
    from hpogrid.project import load_project
    from hpogrid.workflow import OptimisationStage, is_done, load_workflow

    proj = load_project(project)
    wf = load_workflow(proj, file)
    rows = [[name, "optimisation" if isinstance(wf.stages[name], OptimisationStage) else "user",
             ", ".join(wf.needs(name)), "yes" if is_done(proj, name) else "no"] for name in wf.order()]
    echo_table(rows, ["stage", "kind", "needs", "done"])
