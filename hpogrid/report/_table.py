"""The report as rows: the terminal table, the summary line, CSV and JSON records.

Files hold every kept trial with everything known about it (params, metrics, state,
timing, origin; ``feasible`` and ``pareto`` membership when the study has several objectives or
constraints); the terminal shows the best ``top`` rows (a multi-objective study: its Pareto
front) and only the columns that fit.
"""
from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hpogrid.errors import ValidationError
from hpogrid.report._frame import EXTRA_COLUMNS, Report, label
from hpogrid.study.view import flatten
from hpogrid.trial import artifacts

#: leading columns of CSV/JSON records, then ``param.*`` and ``metric.*``, then :data:`TAIL`
HEAD = ("rank", "number", "uid", "state")
#: after :data:`HEAD` when the study has several objectives or constraints
MARKS = ("feasible", "pareto")
TAIL = ("backend", "site", "host", "job_id", "task_id", "taskname", "created_at", "started_at",
        "finished_at", "time_s", "task_time_s", "error")


def _extra(report: Report, t, name: str) -> Any:
    if name == "site":
        return t.site
    if name == "taskid":
        return t.task_id
    if name == "jobid":  # PanDA id of the grid job, Slurm job id, ...
        return t.job_id
    if name == "time_s":
        return t.duration_s
    if name == "task_time_s":
        return report.task_time.get(t.task_id) if t.task_id is not None else None
    raise KeyError(name)


def _iso(dt) -> Optional[str]:
    return None if dt is None else dt.isoformat()


def record_columns(report: Report) -> List[str]:
    metrics: Dict[str, None] = {}
    for t in report.trials:
        metrics.update(dict.fromkeys(flatten(t.metrics, "metric.")))
    return [*_head(report), *(f"param.{a.name}" for a in report.axes), *metrics, *TAIL]


def _head(report: Report) -> Tuple[str, ...]:
    return (*HEAD, *MARKS) if report.marked else HEAD


def records(report: Report) -> List[Dict[str, Any]]:
    """One flat dict per kept trial, best first; values keep their JSON types. ``feasible``
    (None unless COMPLETED) and ``pareto`` follow ``state`` when :attr:`Report.marked`;
    ``artifacts`` (the files the trial kept: name, path, file, size, sha256) is last, and only
    in JSON."""
    out = []
    ranked = report.ranked
    marks = report.standing if report.marked else None
    for i, t in enumerate(report.trials):
        row: Dict[str, Any] = {"rank": i + 1 if i < ranked else None, "number": t.number,
                               "uid": t.uid, "state": t.state}
        if marks is not None:
            row.update(feasible=marks.feasible[i], pareto=marks.pareto[i])
        row.update({f"param.{a.name}": t.params.get(a.name) for a in report.axes})
        row.update(flatten(t.metrics, "metric."))
        row.update(backend=t.backend, site=t.site, host=t.host, job_id=t.job_id, task_id=t.task_id,
                   taskname=t.annotations.get("taskname"), created_at=_iso(t.created_at),
                   started_at=_iso(t.started_at), finished_at=_iso(t.finished_at),
                   time_s=t.duration_s, task_time_s=_extra(report, t, "task_time_s"), error=t.error)
        row["artifacts"] = [{"name": k, **v} for k, v in artifacts(t.annotations).items()]  # JSON only
        out.append(row)
    return out


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/Infinity
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _json_line(row: Dict[str, Any]) -> str:
    try:
        return json.dumps(row, ensure_ascii=False, allow_nan=False)
    except ValueError:  # a NaN/Infinity somewhere: rare, so only then walk the row
        return json.dumps(_finite(row), ensure_ascii=False, allow_nan=False)


def to_json(report: Report) -> str:
    """A JSON list of :func:`records`, one per line (non-finite numbers become null)."""
    return "[\n" + ",\n".join(_json_line(r) for r in records(report)) + "\n]\n"


def to_csv(report: Report) -> str:
    """CSV of :func:`records` with a header; lists and dicts are written as JSON text, and so
    is a parameter's string that would read back as another value (``"1.5"``, ``"true"``:
    see :func:`label`), so ``enqueue --file`` takes each cell back as the value it was."""
    columns = record_columns(report)
    params = {c for c in columns if c.startswith("param.")}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in records(report):
        writer.writerow(["" if (v := row.get(c)) is None else
                         json.dumps(v) if isinstance(v, (dict, list, bool)) else
                         label(v) if c in params and isinstance(v, str) else v for c in columns])
    return buf.getvalue()


def _short(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if value is None or isinstance(value, (int, str)):
        return value
    return label(value)


def _yes(flag: Optional[bool]) -> Optional[str]:
    return None if flag is None else "yes" if flag else "no"


def table(report: Report, extra: Sequence[str] = (), columns: Optional[Sequence[str]] = None,
          top: Optional[int] = None) -> Tuple[List[str], List[List[Any]]]:
    """(headers, rows) of the terminal table: trial, state, metric, the other objectives,
    ``pareto`` / ``feasible`` marks, then parameters and ``extra``.

    A multi-objective report in its own order lists only its Pareto front (:attr:`Report.listed`;
    every row is on it and feasible, so the marks are left out); sorted by ``--metric`` it lists
    every trial with its marks. ``columns`` picks which parameter / metric / extra columns to
    show (wide studies); each must be a parameter, a recorded metric or an extra column.
    """
    params = [a.name for a in report.axes]
    objectives = report.objective_columns
    if columns is not None:
        allowed = list(dict.fromkeys([*params, *report.metrics, *EXTRA_COLUMNS]))
        for name in columns:
            if name not in allowed:
                raise ValidationError("--columns", f"unknown column {name!r}; allowed: {', '.join(allowed)}")
        shown = [c for c in dict.fromkeys(columns) if c not in objectives and c != report.metric]
    else:
        shown = [*report.extra_metrics, *params, *extra]
    marks = [] if report.pareto_view else [
        *(["pareto"] if report.objectives.is_multi else []), *(["feasible"] if report.objectives.constraints else [])]
    headers = ["trial", "state", report.metric, *objectives, *marks, *shown]
    listed = report.listed if top is None else min(top, report.listed)
    rows = []
    for i, (t, v) in enumerate(zip(report.trials[:listed], report.values)):
        flat = flatten(t.metrics, "")
        cells = [flat.get(m) for m in objectives]
        for mark in marks:
            cells.append(_yes(report.standing.pareto[i] if mark == "pareto" else report.standing.feasible[i]))
        for name in shown:
            if name in report.extra_metrics:
                cells.append(flat.get(name))
            elif name in params and name in t.params:
                cells.append(t.params[name])
            elif name in EXTRA_COLUMNS:
                cells.append(_extra(report, t, name))
            else:
                cells.append(flat.get(name, t.params.get(name)))
        rows.append([t.number, t.shown_state, _short(v), *(_short(c) for c in cells)])
    return headers, rows


def scope_text(report: Report) -> str:
    """``8 trials`` or ``2 of 8 trials (--days 3)``."""
    n, total = len(report.trials), report.total
    noun = "trial" if total == 1 else "trials"
    return f"{n} {noun}" if n == total else f"{n} of {total} {noun} ({report.filters.describe()})"


def summary(report: Report) -> str:
    """One line: counts per state, then the best value and its parameters (a multi-objective
    report in its own order: the size of its Pareto front); infeasible trials are counted."""
    counts = report.counts
    parts = [f"{counts[s]} {s.lower()}" for s in ("COMPLETED", "FAILED", "RUNNING", "PENDING", "INTERRUPTED")
             if counts.get(s) or s in ("COMPLETED", "FAILED", "RUNNING")]
    line = f"Study {report.study!r}: {scope_text(report)}: {', '.join(parts)}"
    infeasible = ""
    if report.objectives.constraints:
        rules = ", ".join(str(c) for c in report.objectives.constraints)
        infeasible = f"; {report.infeasible} infeasible ({rules})"
    if report.pareto_view:
        front = len(report.front)
        if not front:
            return line + infeasible + (f"; no feasible completed trial with a value of every objective "
                                        f"({report.objectives.describe()})")
        noun = "trial" if front == 1 else "trials"
        return line + infeasible + f"; Pareto front of {report.objectives.describe()}: {front} {noun}"
    best = report.best
    if best is None:
        what = "feasible completed trial" if report.objectives.constraints else "completed trial"
        return line + infeasible + f"; no {what} with a value of {report.metric}"
    params = ", ".join(f"{k}={str(_short(v))[:24]}" for k, v in best.params.items())
    return (line + infeasible + f"; best {report.metric} ({report.mode}) {_short(report.values[0])} "
            f"in trial {best.number}: {params}")


def fit(headers: List[str], rows: List[List[Any]], width: int, cell: int = 24, keep: int = 3
        ) -> Tuple[List[str], List[List[Any]], List[str]]:
    """Drop trailing columns (never the first ``keep``) until the table fits ``width``
    characters, cells being cut to ``cell``; returns (headers, rows, hidden column names)."""
    def col_width(j: int) -> int:
        return min(cell, max([len(headers[j])] + [len(str(r[j])) for r in rows])) + 2

    widths = [col_width(j) for j in range(len(headers))]
    n = len(headers)
    while n > keep and sum(widths[:n]) > width:
        n -= 1
    return headers[:n], [r[:n] for r in rows], headers[n:]
