"""Staged workflows (o2tuner-style): user stages and optimisation stages in a DAG.

Inside stages and trials: :func:`resolve_path` finds another stage's folder and
:func:`annotate` (o2tuner's ``annotate_trial(trial, key, value)`` too) stores extra data with
the current trial (all from :mod:`hpogrid.trial`, re-exported here for existing scripts). Importing this package is cheap (PEP 562): the
runner, which needs the run engine, loads on first use.
"""
from hpogrid.lazy import lazy_exports
from hpogrid.trial import annotate, annotate_trial, needs_cwd, resolve_path

_EXPORTS = {
    "load_workflow": "hpogrid.workflow._runner",
    "check_scripts_workflow": "hpogrid.workflow._runner",
    "run_workflow": "hpogrid.workflow._runner",
    "workflow_project": "hpogrid.workflow._project",
    "is_done": "hpogrid.workflow._runner",
    "OptimisationStage": "hpogrid.workflow._spec",
    "UserStage": "hpogrid.workflow._spec",
}

__all__ = ["annotate", "annotate_trial", "needs_cwd", "resolve_path", *sorted(_EXPORTS)]

__getattr__ = lazy_exports(__name__, _EXPORTS)
