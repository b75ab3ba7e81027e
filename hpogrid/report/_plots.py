"""Plotly figures of a report, as plain figure dicts (``go.Figure(fig)`` accepts them).

Plain dicts skip plotly's per-property validation (seconds on 100k points) and are all the
page needs. Every user string goes through :func:`esc`: plotly.js turns ``<b>``, ``<a>``
and friends in labels into markup but decodes ``&lt;`` to a literal ``<``, so escaped text
shows exactly as typed and never becomes markup. (Parallel-coordinates tick labels are the
exception: plotly.js sets them as plain text, so they get the raw string.)

Large studies are downsampled (:func:`sample`): the best trials plus a seeded random
sample of the rest, so the interesting region stays complete and the file small; the
best-so-far line is always computed from every trial.
"""
from __future__ import annotations

import math
import random
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hpogrid.report._frame import Axis, Report, label

#: completed trials drawn per plot at most
MAX_POINTS = 4000
#: of those, the best ones always drawn
BEST_POINTS = 500


def esc(text: Any) -> str:
    """Text for a plotly label: shown literally, never interpreted as markup."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _num(x: float) -> float:
    return float(f"{x:.6g}")  # plots need no more digits; keeps the page small


def sample(report: Report, max_points: Optional[int] = None, best: Optional[int] = None,
           seed: int = 0) -> Tuple[List[int], Optional[str]]:
    """Indices into ``report.trials`` of the COMPLETED trials to plot, and a note if sampled
    (defaults: :data:`MAX_POINTS`, :data:`BEST_POINTS`)."""
    max_points = MAX_POINTS if max_points is None else max_points
    best = min(BEST_POINTS if best is None else best, max_points)
    n = report.ranked
    if n <= max_points:
        return list(range(n)), None
    rest = random.Random(seed).sample(range(best, n), max_points - best)
    note = (f"Plots show {max_points:,} of {n:,} completed trials: the {best:,} best and a "
            f"random sample of the rest (the best-so-far line uses all of them).")
    return list(range(best)) + sorted(rest), note


def encode(axis: Axis, values: Sequence[Any]) -> List[Optional[float]]:
    """Numbers for an axis: category codes, log10 for log axes; None where not possible."""
    out: List[Optional[float]] = []
    codes = {c: i for i, c in enumerate(axis.categories)}
    for v in values:
        if axis.kind == "categorical":
            out.append(codes.get(label(v)))
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            out.append(None)
        elif axis.kind == "log":
            out.append(math.log10(v) if v > 0 else None)
        else:
            out.append(float(v))
    return out


#: what an inactive conditional parameter (absent from a trial's params) is drawn as
INACTIVE = "n/a"


def with_inactive(axis: Axis, trials: Sequence[Any], col: List[Optional[float]]) -> Tuple[List[Optional[float]], bool]:
    """``col`` with a conditional parameter's absence as a value of its own: one code past the
    categories, or just below a numeric axis' range, so the trials that did not use it are drawn
    (and its importance measured) rather than dropped. (col, whether any was absent)."""
    absent = [j for j, t in enumerate(trials) if axis.name not in t.params]
    if not absent:
        return col, False
    present = [v for v in col if v is not None]
    if axis.kind == "categorical":
        mark = float(len(axis.categories))
    else:
        lo, hi = (min(present), max(present)) if present else (0.0, 1.0)
        mark = lo - 0.1 * ((hi - lo) or 1.0)
    out = list(col)
    for j in absent:
        out[j] = mark
    return out, True


def _log_ticks(lo: float, hi: float) -> Tuple[List[float], List[str]]:
    exps = list(range(math.ceil(lo), math.floor(hi) + 1))
    if len(exps) >= 2:
        return [float(e) for e in exps], [f"1e{e}" for e in exps]
    vals = [lo + (hi - lo) * i / 4 for i in range(5)] if hi > lo else [lo]
    return vals, [f"{10 ** v:.3g}" for v in vals]


def parcoords(report: Report, idx: Sequence[int]) -> Tuple[Dict[str, Any], Optional[str]]:
    """Parallel coordinates: one axis per parameter (categorical / log10) plus the metric."""
    trials = [report.trials[i] for i in idx]
    filled = [with_inactive(a, trials, encode(a, [t.params.get(a.name) for t in trials])) for a in report.axes]
    cols = [c for c, _ in filled]
    keep = [j for j in range(len(trials)) if all(c[j] is not None for c in cols)]
    notes = []
    if len(keep) < len(trials):
        notes.append(f"{len(trials) - len(keep)} trials without a plottable value of every parameter are not drawn.")
    if any(has for _, has in filled):
        notes.append(f"A conditional parameter a trial did not use is drawn as {INACTIVE} (past the categories, "
                     "or below a numeric axis).")
    note = " ".join(notes) or None
    dims = []
    for axis, col, (_, has_inactive) in zip(report.axes, cols, filled):
        vals = [_num(col[j]) for j in keep]
        dim: Dict[str, Any] = {"label": esc(axis.name), "values": vals}
        if axis.kind == "categorical":
            # parcoords draws tick labels as plain text (no markup, no entities): not escaped
            labels = list(axis.categories) + ([INACTIVE] if has_inactive else [])
            dim.update(tickvals=list(range(len(labels))), ticktext=labels, range=[0, max(len(labels) - 1, 1)])
        elif has_inactive:
            dim["label"] = esc(f"{axis.name} ({INACTIVE} below)" if axis.kind != "log" else f"{axis.name} (log; "
                                                                                             f"{INACTIVE} below)")
        elif axis.kind == "log" and vals:
            dim["label"] = esc(f"{axis.name} (log)")
            dim["tickvals"], dim["ticktext"] = _log_ticks(min(vals), max(vals))
        dims.append(dim)
    metric = [_num(report.values[idx[j]]) for j in keep]
    dims.append({"label": esc(report.metric), "values": metric})
    trace = {"type": "parcoords", "dimensions": dims,
             "line": {"color": metric, "colorscale": "Viridis", "reversescale": report.mode == "min",
                      "showscale": True, "colorbar": {"title": {"text": esc(report.metric)}}}}
    layout = {"title": {"text": esc(f"Parallel coordinates ({report.metric}, {report.mode}; "
                                    "brighter is better)")},
              "margin": {"l": 80, "r": 80, "t": 90, "b": 40}, "height": 520}
    return {"data": [trace], "layout": layout}, note


def best_so_far(report: Report) -> Tuple[List[int], List[float]]:
    """The best-so-far step line by trial number, from every completed trial."""
    done = sorted((t.number, v) for t, v in zip(report.trials[: report.ranked], report.values))
    better = (lambda a, b: a < b) if report.mode == "min" else (lambda a, b: a > b)
    best_x: List[int] = []
    best_y: List[float] = []
    for number, v in done:
        if not best_y or better(v, best_y[-1]):
            best_x.append(number)
            best_y.append(v)
    if done:
        best_x.append(done[-1][0])
        best_y.append(best_y[-1])
    return best_x, best_y


def history(report: Report, idx: Sequence[int]) -> Dict[str, Any]:
    """Metric against trial number with the best-so-far step line (from every trial)."""
    pts = sorted((report.trials[i].number, report.values[i]) for i in idx)
    best_x, best_y = best_so_far(report)
    data = [
        {"type": "scatter", "mode": "markers", "name": "trial", "x": [p[0] for p in pts],
         "y": [_num(p[1]) for p in pts], "marker": {"size": 5, "opacity": 0.6},
         "hovertemplate": "trial %{x}<br>%{y}<extra></extra>"},
        {"type": "scatter", "mode": "lines", "name": "best so far", "x": best_x, "y": best_y,
         "line": {"shape": "hv", "width": 2}},
    ]
    layout = {"title": {"text": esc(f"{report.metric} by trial number")},
              "xaxis": {"title": {"text": "trial number"}}, "yaxis": {"title": {"text": esc(report.metric)}},
              "height": 420, "margin": {"t": 60}}
    return {"data": data, "layout": layout}


def best_by_time(report: Report) -> Optional[Dict[str, Any]]:
    """Best so far against wall-clock time (when each completed trial finished); ``None``
    when no completed trial has a finish time. Shows whether more hours still pay off."""
    done = sorted((t.finished_at, v) for t, v in zip(report.trials[: report.ranked], report.values)
                  if t.finished_at is not None)
    if not done:
        return None
    better = (lambda a, b: a < b) if report.mode == "min" else (lambda a, b: a > b)
    xs: List[str] = []
    ys: List[float] = []
    for when, v in done:
        if not ys or better(v, ys[-1]):
            xs.append(when.isoformat())
            ys.append(_num(v))
    xs.append(done[-1][0].isoformat())
    ys.append(ys[-1])
    data = [{"type": "scatter", "mode": "lines+markers", "name": "best so far", "x": xs, "y": ys,
             "line": {"shape": "hv", "width": 2}, "marker": {"size": 5}}]
    layout = {"title": {"text": esc(f"best {report.metric} so far by time (UTC)")},
              "xaxis": {"title": {"text": "trial finished at"}, "type": "date"},
              "yaxis": {"title": {"text": esc(report.metric)}}, "height": 380, "margin": {"t": 60}}
    return {"data": data, "layout": layout}


def scatter(report: Report, idx: Sequence[int], per_row: int = 3) -> Dict[str, Any]:
    """Metric against each parameter, one panel per parameter (OmniOpt's evaluation plots)."""
    n = len(report.axes)
    cols = max(1, min(per_row, n))
    rows = max(1, math.ceil(n / cols))
    data, layout = [], {"grid": {"rows": rows, "columns": cols, "pattern": "independent"},
                        "showlegend": False, "height": 320 * rows,
                        "title": {"text": esc(f"{report.metric} against each hyperparameter")}}
    y_all = [report.values[i] for i in idx]
    for k, axis in enumerate(report.axes):
        suffix = "" if k == 0 else str(k + 1)
        raw = [report.trials[i].params.get(axis.name) for i in idx]
        if axis.kind == "categorical":
            xs = [esc(label(v)) if axis.name in report.trials[i].params else None for v, i in zip(raw, idx)]
            xaxis = {"type": "category", "categoryorder": "array",
                     "categoryarray": [esc(c) for c in axis.categories]}
        else:
            xs = [None if e is None else _num(v) for v, e in zip(raw, encode(axis, raw))]
            xaxis = {"type": "log" if axis.kind == "log" else "linear"}
        pairs = [(x, _num(y)) for x, y in zip(xs, y_all) if x is not None]
        data.append({"type": "scatter", "mode": "markers", "x": [p[0] for p in pairs],
                     "y": [p[1] for p in pairs], "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
                     "marker": {"size": 4, "opacity": 0.5, "color": "#1f77b4"}, "name": esc(axis.name),
                     "hovertemplate": esc(axis.name) + " %{x}<br>%{y}<extra></extra>"})
        xaxis["title"] = {"text": esc(axis.name + (" (log)" if axis.kind == "log" else ""))}
        layout[f"xaxis{suffix}"] = xaxis
        layout[f"yaxis{suffix}"] = {"title": {"text": esc(report.metric) if k % cols == 0 else ""}}
    return {"data": data, "layout": layout}


def importance_columns(report: Report, max_trials: int = 4000, seed: int = 0
                       ) -> Tuple[Dict[str, List[float]], List[float]]:
    """Numeric parameter columns (codes, log10) and metric values of COMPLETED trials
    without gaps; a uniform sample of ``max_trials`` at most (the forest needs no more)."""
    idx: Sequence[int] = range(report.ranked)
    if len(idx) > max_trials:
        idx = sorted(random.Random(seed).sample(idx, max_trials))
    trials = [report.trials[i] for i in idx]
    cols = {a.name: with_inactive(a, trials, encode(a, [t.params.get(a.name) for t in trials]))[0]
            for a in report.axes}  # an unused conditional parameter is a value of its own, not a gap
    keep = [j for j in range(len(idx)) if all(c[j] is not None for c in cols.values())]
    return {k: [c[j] for j in keep] for k, c in cols.items()}, [report.values[idx[j]] for j in keep]


def importance_bar(scores: Dict[str, float], r2: float, n: int) -> Dict[str, Any]:
    names = list(scores)[::-1]  # plotly draws the first bar at the bottom
    trace = {"type": "bar", "orientation": "h", "x": [round(scores[k], 4) for k in names],
             "y": [esc(k) for k in names], "hovertemplate": "%{y}: %{x:.1%}<extra></extra>"}
    layout = {"title": {"text": f"Hyperparameter importance (random forest, {n:,} trials, held-out R² {r2:.2f})"},
              "xaxis": {"title": {"text": "share of importance"}, "tickformat": ".0%"},
              "yaxis": {"automargin": True}, "height": 120 + 28 * len(names), "margin": {"t": 60}}
    return {"data": [trace], "layout": layout}
