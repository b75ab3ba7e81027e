"""What a trial's outcome is, by the rules every backend shares: pure helpers over its result.

Metrics are cleaned (Ray's bookkeeping keys dropped, numpy scalars made plain, NaN, inf and
integers beyond a float's range made missing, with a note saying so); a COMPLETED trial must have reported every objective as a finite number, else it is
FAILED with a sentence saying why; an error is summarised by its last line. The trial sink
(:mod:`hpogrid.engine.sink`) applies them to live trials, :func:`record_ended` to trials no live
run follows (a dead run's, found on ``--resume``; a grid job's, synced by ``report``).
"""
from __future__ import annotations

import json
import math
from typing import Any, Dict, Optional, Union

from hpogrid.engine.trial_output import clean_error
from hpogrid.objectives import Objectives
from hpogrid.study.records import COMPLETED, FAILED, METRICS_NOT_STORED, TrialState, not_a_float

#: keys Ray adds to every result that are bookkeeping, not metrics
_RAY_KEYS = frozenset({
    "config", "trial_id", "date", "timestamp", "pid", "hostname", "node_ip", "experiment_tag",
    "done", "checkpoint_dir_name", "should_checkpoint", "time_this_iter_s", "time_since_restore",
    "iterations_since_restore", "timesteps_total", "episodes_total", "timesteps_since_restore",
    "experiment_id", "episodes_this_iter", "timesteps_this_iter",
})


def clean_metrics(result: Optional[Dict[str, Any]], notes: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """The user's metrics (plus training_iteration and time_total_s) as JSON-safe values. A
    number that is not a finite float (NaN, infinity, an integer beyond a float's range, which
    no report, chart or searcher could use) becomes ``None``; ``notes`` (when given) learns
    which and why, for the trial's :data:`~hpogrid.study.records.METRICS_NOT_STORED` annotation."""
    out = {}
    for key, value in (result or {}).items():
        if key in _RAY_KEYS or not isinstance(key, str):
            continue
        if hasattr(value, "item") and getattr(value, "size", 1) == 1:
            value = value.item()
        why = not_a_float(value)
        if why is not None:
            if notes is not None:
                notes[key] = why
            value = None  # JSON has no NaN/inf; the store's value column treats None as missing
        if isinstance(value, (bool, int, float, str)) or value is None:
            out[key] = value
    return out


def not_stored_note(notes: Dict[str, str]) -> Dict[str, Any]:
    """The annotations of a trial some of whose metrics were not stored (``notes``: see
    :func:`clean_metrics`); empty when all were."""
    return {METRICS_NOT_STORED: dict(notes)} if notes else {}


def json_safe(values: Dict[str, Any]) -> Dict[str, Any]:
    """Round-trip through JSON so numpy scalars become plain numbers before storing."""
    return json.loads(json.dumps(values, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def error_summary(text: Optional[str]) -> str:
    """The last line of a traceback: ``ValueError: ...``."""
    lines = [ln for ln in (clean_error(text) or "").splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def record_ended(store, study: str, ended, metric: Union[str, Objectives], **fields: Any):
    """Record the end of a trial no live run's sink follows (a dead run's trial found on
    ``--resume``, a grid job synced by ``report``) by the sink's rules: clean metrics, no
    finite ``metric`` = FAILED, the user's error. ``ended`` is an executor ``Ended``; returns
    (state, metrics, error)."""
    notes: Dict[str, str] = {}
    metrics = clean_metrics(ended.metrics, notes)
    state, why = metric_verdict(ended.state, metrics, metric, notes)
    error = why or clean_error(ended.error)
    if notes:
        fields["annotations"] = {**(ended.fields.get("annotations") or {}), **(fields.get("annotations") or {}),
                                 **not_stored_note(notes)}
    if ended.history is not None:
        fields["intermediate"] = [clean_metrics(item) for item in ended.history]
    store.upsert_trial(study, ended.uid, state=state, metrics=metrics, error=error, **{**ended.fields, **fields})
    return state, metrics, error


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def metric_verdict(state: TrialState, metrics: Dict[str, Any], metric: Union[str, Objectives],
                   notes: Optional[Dict[str, str]] = None):
    """(state, error): a COMPLETED trial must have reported ``metric`` (every objective of an
    :class:`~hpogrid.objectives.Objectives`) as a finite number, else it is FAILED with an
    error naming the metrics it did report (None: nothing to say)."""
    wanted = [metric] if isinstance(metric, str) else list(metric.metrics)
    if state != COMPLETED:
        return state, None
    for name in wanted:
        if _number(metrics.get(name)):
            continue
        if name in metrics:
            what = (notes or {}).get(name, "NaN or infinity")
            return FAILED, f"the trial reported {what} for metric '{name}'"
        reported = ", ".join(sorted(k for k in metrics if k not in ("training_iteration", "time_total_s")))
        return FAILED, (f"the trial did not report metric '{name}' (it reported: {reported or 'nothing'}); "
                        "set hpo_config --metric to one of those, or report it")
    return state, None
