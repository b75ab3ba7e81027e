"""Staged workflows (o2tuner-style): user stages and optimisation stages in a DAG.

Inside stages and trials: :func:`resolve_path` finds another stage's folder and
:func:`annotate` stores extra data with the current trial. Importing this package is cheap.
"""
from hpogrid.workflow._context import annotate, resolve_path

__all__ = ["annotate", "resolve_path"]
