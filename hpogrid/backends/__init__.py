"""Where trials run. Every backend is a :class:`hpogrid.engine.Backend`; this registry names them.

    from hpogrid.backends import get_backend
    get_backend("slurm").run(project, options)

``local`` is this machine: worker processes (``pool``), or Ray Tune (``ray``, also a Ray
cluster) when the run needs Ray; ``slurm`` one job per trial; ``grid`` one search across PanDA
jobs (a central search; independent searches per job are ``hpogrid run``'s default and run
the ``local`` backend inside each job); ``fake`` trials in threads of this process (tests). Lazy: importing this package loads no backend.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Optional, Tuple

from hpogrid.engine.options import RunOptions, RunSummary
from hpogrid.errors import ValidationError

if TYPE_CHECKING:
    from hpogrid.project import Project

#: name -> "module:class", in the order help texts list them
_REGISTRY: Tuple[Tuple[str, str], ...] = (
    ("local", "hpogrid.backends.local:LocalBackend"),
    ("ray", "hpogrid.backends.raytune:RayTuneBackend"),
    ("pool", "hpogrid.backends.pool:PoolBackend"),
    ("slurm", "hpogrid.backends.slurm:SlurmBackend"),
    ("grid", "hpogrid.backends.panda:CentralGridBackend"),
    ("fake", "hpogrid.backends.fake:FakeBackend"),
)
BACKEND_NAMES = tuple(name for name, _ in _REGISTRY)
#: run command -> "module:class" of the options it is built from (the class declares the rest:
#: see :mod:`hpogrid.backends.declared`); the modules are light, for ``--help``
RUN_COMMANDS: Tuple[Tuple[str, str], ...] = (
    ("local_run", "hpogrid.backends.local:LocalOptions"),
    ("slurm_run", "hpogrid.backends.slurm.options:SlurmOptions"),
)


def get_backend(name: str):
    """A fresh backend by name; an unknown name is a one-line error listing the known ones."""
    for known, where in _REGISTRY:
        if known == name:
            module, cls = where.split(":")
            return getattr(importlib.import_module(module), cls)()
    raise ValidationError("backend", f"{name!r} is not a backend; choose one of: {', '.join(BACKEND_NAMES)}")


def run_options_class(command: str) -> type:
    """The options dataclass of run command ``command`` (:data:`RUN_COMMANDS`)."""
    for known, where in RUN_COMMANDS:
        if known == command:
            module, cls = where.split(":")
            return getattr(importlib.import_module(module), cls)
    names = ", ".join(name for name, _ in RUN_COMMANDS)
    raise ValidationError("command", f"{command!r} is not a run command; choose one of: {names}")


def run_local(project: Project, options: Optional[RunOptions] = None) -> RunSummary:
    """Run the project's HPO on this machine (or on the Ray cluster ``options.address``)."""
    return get_backend("local").run(project, options or RunOptions())


__all__ = ["BACKEND_NAMES", "RUN_COMMANDS", "RunOptions", "RunSummary", "get_backend", "run_local", "run_options_class"]
