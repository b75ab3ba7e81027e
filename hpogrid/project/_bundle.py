"""A project made in one step from configs given as data (an o2tuner workflow, an echo-opt import).

Each config is stored under the project's name so every other command can use it; one already
stored with the same content is reused, one with other content is an error (nothing is
overwritten). If anything fails, the configs this call wrote are removed again: bad input
leaves nothing on disk.
"""
from pathlib import Path
from typing import Any, Dict, List, Tuple

from hpogrid.configs import NamedStore
from hpogrid.errors import AlreadyExistsError
from hpogrid.project._project import Project, create_project
from hpogrid.project._scripts import _ignored


def create_bundle(name: str, scripts_path: str, configs: Dict[str, Dict[str, Any]]) -> Tuple[Project, List[str]]:
    """The project ``name`` from ``scripts_path`` and ``configs`` (kind -> data), each stored as
    config ``name``; returns it and one line per config saying written or reused."""
    stores = {kind: NamedStore(kind) for kind in configs}
    checked = {kind: stores[kind].kind.validate(data) for kind, data in configs.items()}  # all before any write
    for kind, data in checked.items():
        if stores[kind].exists(name) and stores[kind].load(name) != data:
            raise AlreadyExistsError(f"{kind} {name!r} exists with other content; remove it or choose another "
                                     "project name")
    written: List[str] = []
    lines = []
    try:
        for kind, data in checked.items():
            if stores[kind].exists(name):
                lines.append(f"{kind} {name!r}: reused (same content)")
                continue
            stores[kind].create(name, data)
            written.append(kind)
            lines.append(f"{kind} {name!r}: written")
        project = create_project(name, scripts_path, {kind: name for kind in checked})
    except BaseException:
        for kind in written:
            stores[kind].remove(name)
        raise
    return project, lines


def scripts_changed(project: Project) -> bool:
    """Do the files of the folder the project was made from differ from the project's copy
    (what a copy leaves out, such as ``__pycache__``, not counted)? False when that folder is gone."""
    src = Path(project.scripts_path or "")
    if not project.scripts_path or not src.is_dir():
        return False

    def files(root: Path) -> Dict[str, Path]:
        return {str(p.relative_to(root)): p for p in root.rglob("*")
                if p.is_file() and not any(_ignored(part) for part in p.relative_to(root).parts)}

    mine, theirs = files(project.scripts_dir), files(src)
    return mine.keys() != theirs.keys() or any(mine[k].read_bytes() != theirs[k].read_bytes() for k in mine)
