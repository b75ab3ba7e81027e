"""The one way tests build a project: :func:`make_project` (also the ``project_factory`` fixture).

A project is its configs in the store (``$HPOGRID_HOME``, per test) plus a scripts folder whose
``train.py`` is ``script``; the configs are named after the project. Tests that need a
particular store layout (config names shared by several projects, the README's example
scripts) still create their own.
"""
import textwrap
import uuid
from pathlib import Path
from typing import Dict, Optional

#: a model that returns a constant loss (the report and dashboard tests write trials themselves)
CONSTANT = "def objective(config):\n    return {'loss': 0.0}\n"
UNI = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}


def make_project(root: Path, script: str = CONSTANT, space: Optional[dict] = UNI, *, name: Optional[str] = None,
                 prefix: str = "p", model: Optional[dict] = None, param: Optional[dict] = None,
                 slurm: Optional[dict] = None, grid: Optional[dict] = None, files: Optional[Dict[str, str]] = None,
                 **hpo) -> str:
    """Create project ``name`` (default: ``prefix`` + a unique suffix) and return its name.

    ``script`` (dedented) is ``train.py`` of the folder ``root/scripts-NAME``, beside ``files``;
    the model_config runs its ``objective`` (``param``: the model's fixed parameters) unless
    ``model`` is given; ``space`` None makes a project without search_space (define-by-run);
    ``hpo`` updates ``{"metric": "loss", "mode": "min"}``; ``slurm``/``grid`` add those configs.
    """
    from hpogrid.configs import NamedStore
    from hpogrid.project import create_project

    name = name or f"{prefix}{uuid.uuid4().hex[:8]}"
    folder = Path(root) / f"scripts-{name}"
    folder.mkdir()
    (folder / "train.py").write_text(textwrap.dedent(script))
    for fname, text in (files or {}).items():
        (folder / fname).write_text(textwrap.dedent(text))
    if model is None:
        model = {"script": "train.py", "model": "objective", **({} if param is None else {"param": param})}
    configs = {"model_config": model, "search_space": space, "hpo_config": {"metric": "loss", "mode": "min", **hpo},
               "slurm_config": slurm, "grid_config": grid}
    names = {}
    for kind, content in configs.items():
        if content is not None:
            NamedStore(kind).create(name, content)
            names[kind] = name
    create_project(name, str(folder), names)
    return name
