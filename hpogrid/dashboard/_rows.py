"""A trial as a row of the dashboard's table, the same in a full snapshot and in an update."""
from __future__ import annotations

import json
from typing import Any, List


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _columns(report) -> List[str]:
    axes = [a.name for a in report.axes]
    objectives = report.objective_columns  # the other objectives, next to the metric
    extra = report.extra_metrics
    others = [m for m in report.metrics if m != report.metric and m not in extra and m not in objectives]
    marks = ["pareto", "feasible"] if report.marked else []  # as in the HTML report
    return ["rank", "trial", "state", report.metric, *objectives, *marks, *extra, *axes, *others, "backend",
            "site", "task id", "job id", "time_s"]


def _row(report, t, value, rank, flags) -> List[Any]:
    """Trial ``t``'s table row (``flags``: its pareto/feasible cells, empty when not marked)."""
    from hpogrid.study.view import flatten

    objectives = report.objective_columns
    extra = report.extra_metrics
    others = [m for m in report.metrics if m != report.metric and m not in extra and m not in objectives]
    flat = flatten(t.metrics, "")
    return [rank, t.number, t.shown_state, value, *(_cell(flat.get(m)) for m in objectives), *flags,
            *(_cell(flat.get(m)) for m in extra), *(_cell(t.params.get(a.name)) for a in report.axes),
            *(_cell(flat.get(m)) for m in others), t.backend, t.site, t.task_id, t.job_id, t.duration_s]


_YES = {True: "yes", False: "no", None: None}
