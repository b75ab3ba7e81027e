"""Helpers for code running inside a workflow or a trial: ``resolve_path`` and ``annotate``.

They read environment variables set by hpogrid, so they work in Ray workers and subprocesses
alike and need no import of hpogrid's heavy parts.
"""
import json
import os
from pathlib import Path
from typing import Any

from hpogrid.errors import HpogridError

WORKFLOW_DIR = "HPOGRID_WORKFLOW_DIR"
#: folder where each trial's annotations go, as ``<trial id>.json`` (set by the run's driver)
ANNOTATIONS_DIR = "HPOGRID_ANNOTATIONS_DIR"


def resolve_path(stage: str) -> Path:
    """The working folder of workflow stage ``stage`` (o2tuner's ``resolve_path``)."""
    root = os.environ.get(WORKFLOW_DIR)
    if not root:
        raise HpogridError("resolve_path() works only inside 'hpogrid workflow run'")
    return Path(root) / stage


def annotate(key: str, value: Any) -> None:
    """Store ``key: value`` (JSON data) with the current trial; inspectors read it back."""
    from ray import tune

    folder = os.environ.get(ANNOTATIONS_DIR)
    if not folder:
        raise HpogridError("annotate() works only inside a trial run by hpogrid")
    json.dumps(value)  # fail here, in the trial, if it cannot be stored
    path = Path(folder) / f"{tune.get_context().get_trial_id()}.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[str(key)] = value
    path.write_text(json.dumps(data))


def read_annotations(folder: Path, trial_id: str) -> dict:
    try:
        return json.loads((Path(folder) / f"{trial_id}.json").read_text())
    except (OSError, ValueError):
        return {}
