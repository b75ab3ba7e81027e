"""Kept for scripts written against hpogrid 2.0: the in-trial API moved to :mod:`hpogrid.trial`."""
from hpogrid.trial import WORKFLOW_DIR_ENV as WORKFLOW_DIR
from hpogrid.trial import annotate, read_annotations, resolve_path

__all__ = ["WORKFLOW_DIR", "annotate", "read_annotations", "resolve_path"]
