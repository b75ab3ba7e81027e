"""Staged workflows (o2tuner-style): user stages and optimisation stages in a DAG.

Inside stages and trials: :func:`resolve_path` finds another stage's folder and
:func:`annotate` stores extra data with the current trial (both from :mod:`hpogrid.trial`,
re-exported here for existing scripts). Importing this package is cheap (PEP 562): the
runner, which needs the run engine, loads on first use.
"""
from hpogrid.lazy import lazy_exports
from hpogrid.trial import annotate, resolve_path

_EXPORTS = {
    "load_workflow": "hpogrid.workflow._runner",
    "check_scripts_workflow": "hpogrid.workflow._runner",
    "run_workflow": "hpogrid.workflow._runner",
    "is_done": "hpogrid.workflow._runner",
    "OptimisationStage": "hpogrid.workflow._spec",
    "UserStage": "hpogrid.workflow._spec",
}

__all__ = ["annotate", "resolve_path", *sorted(_EXPORTS)]

__getattr__ = lazy_exports(__name__, _EXPORTS)
