"""A project for a benchmark: one script, the 2-D space x in [-1, 1), y in [0, 1), loss (min)."""
import os
from pathlib import Path

SPACE = {"x": {"method": "uniform", "dimension": {"low": -1, "high": 1}},
         "y": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}


def make_project(home: str, name: str, script: str, **hpo) -> None:
    """Create project ``name`` in the store ``home`` (also made this process's HPOGRID_HOME)."""
    os.environ["HPOGRID_HOME"] = home
    from hpogrid.configs import NamedStore
    from hpogrid.project import create_project

    folder = Path(home) / f"src-{name}"
    folder.mkdir(parents=True)
    (folder / "train.py").write_text(script)
    NamedStore("model_config").create(name, {"script": "train.py", "model": "objective"})
    NamedStore("search_space").create(name, SPACE)
    NamedStore("hpo_config").create(name, {"metric": "loss", "mode": "min", "scheduler_param": {"max_concurrent": 2},
                                           **hpo})
    create_project(name, str(folder), {"model_config": name, "search_space": name, "hpo_config": name})
