"""``hpogrid workflow run NAME -c config.yaml`` where NAME is no project yet (o2tuner's way in).

o2tuner needs only its config file and the scripts beside it; hpogrid keeps scripts and configs
in a project. So the project is made from the config file's folder: model_config from the
first optimisation stage that names its own ``file`` and ``objective``, hpo_config minimising
``loss`` (o2tuner minimises what the objective returns), both stored under the project's name.
Run again after the scripts there changed, the project takes the new scripts first (o2tuner
runs what is in the folder) and says so.
"""
from pathlib import Path
from typing import Callable

from hpogrid.errors import NotFoundError
from hpogrid.project import Project, create_bundle, list_projects, load_project, scripts_changed, update_project


def workflow_project(name: str, file: "str | None", say: Callable[[str], None]) -> Project:
    """The project ``name``; made from ``file``'s folder when it does not exist yet."""
    from hpogrid.names import check_name
    from hpogrid.workflow._runner import read_workflow

    check_name(name, "project")
    if name in list_projects() or not file:
        project = load_project(name)
        folder = str(Path(file).resolve().parent) if file else None
        if folder is not None and project.scripts_path == folder and scripts_changed(project):
            project = update_project(name)
            say(f"[workflow] project {name!r}: the scripts in {folder} changed; took them (hpogrid project update)")
        return project
    path = Path(file)
    wf = read_workflow(path)
    first = next((s for s in wf.stages_optimisation.values() if s.file), None)
    if first is None:
        raise NotFoundError(f"project {name!r} not found, and {path.name} has no optimisation stage with file and "
                            "objective to make it from (create it with 'hpogrid project create')")
    folder = path.resolve().parent
    for stage, spec in wf.stages_optimisation.items():  # each stage's script is there: checked before making
        if spec.file and not (folder / spec.file).is_file():
            raise NotFoundError(f"workflow.{stage}.file: {spec.file!r} is not in {folder}")
    project, lines = create_bundle(name, str(folder), {
        "model_config": {"script": first.file, "model": first.entry},
        "hpo_config": {"metric": "loss", "mode": "min", "scheduler": "fifo"}})
    say(f"[workflow] created project {name!r} from the scripts in {folder} ({'; '.join(lines)})")
    return project
