"""Build real projects (configs + scripts) in the test's store for end-to-end runs."""
import textwrap
import uuid
from pathlib import Path

from hpogrid.configs import NamedStore
from hpogrid.project import create_project


def make_project(tmp_path: Path, script: str, space: dict, model: str = "objective",
                 param: dict = None, **hpo) -> str:
    """A project whose single script is ``script`` (dedented); returns its name."""
    name = f"p{uuid.uuid4().hex[:8]}"
    folder = tmp_path / f"scripts-{name}"
    folder.mkdir()
    (folder / "train.py").write_text(textwrap.dedent(script))
    NamedStore("model_config").create(name, {"script": "train.py", "model": model, "param": param or {}})
    NamedStore("search_space").create(name, space)
    NamedStore("hpo_config").create(name, {"metric": "loss", "mode": "min", **hpo})
    create_project(name, str(folder), {"model_config": name, "search_space": name, "hpo_config": name})
    return name


ECHO = """
import json

def objective(config):
    # echo what arrived so tests can compare it with what the study store recorded
    return {"loss": float(len(json.dumps(config, sort_keys=True))), "echo": json.dumps(config, sort_keys=True)}
"""


def trials_so_far(project: str, states=None) -> list:
    """Trials recorded so far by a run in another process; [] before its study exists.

    The database file appears a moment before the study row, so a poll that lands in
    between must not fail.
    """
    from hpogrid import paths
    from hpogrid.errors import NotFoundError
    from hpogrid.study import StudyStore, sqlite_url

    if not paths.study_db(project).exists():
        return []
    try:
        return StudyStore(sqlite_url(paths.study_db(project))).trials(project, states=states)
    except NotFoundError:
        return []
