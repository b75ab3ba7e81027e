"""Staged workflows (o2tuner-style): user stages and optimisation stages in a DAG.

Inside stages and trials: :func:`resolve_path` finds another stage's folder and
:func:`annotate` stores extra data with the current trial (both from :mod:`hpogrid.trial`,
re-exported here for existing scripts). Importing this package is cheap (PEP 562): the
runner, which needs the run engine, loads on first use.
"""
import importlib

from hpogrid.trial import annotate, resolve_path

_EXPORTS = {
    "load_workflow": "hpogrid.workflow._runner",
    "run_workflow": "hpogrid.workflow._runner",
    "is_done": "hpogrid.workflow._runner",
    "OptimisationStage": "hpogrid.workflow._spec",
    "UserStage": "hpogrid.workflow._spec",
}

__all__ = ["annotate", "resolve_path", *sorted(_EXPORTS)]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hpogrid.workflow' has no attribute {name!r}")
