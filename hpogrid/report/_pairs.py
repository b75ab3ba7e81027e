"""Two more views of the trials: parameter pairs and the loss/feature history.

* :func:`pairs` - OmniOpt's 2-D scatter: one panel per pair of parameters, each trial a
  point coloured by the metric (one shared colour bar, brighter is better), so interactions
  (a good learning rate only with a large batch) show up that one-parameter plots hide.
* :func:`loss_feature_history` - o2tuner's inspector ``plot_loss_feature_history()``: the
  metric and every parameter against trial number, stacked with one shared x axis, so one
  sees how the searcher moved through the space and when the loss improved.

Both are plain figure dicts like every builder in :mod:`._plots`, shared by the HTML report
and the dashboard; user strings go through :func:`._plots.esc`.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hpogrid.report._frame import Axis, Report, label
from hpogrid.report._plots import _num, best_so_far, encode, esc, sample

#: parameters in the pair plot at most (6 give 15 panels); the first ones in search-space order
MAX_PAIR_PARAMS = 6
#: parameters stacked under the metric in the loss/feature history at most
MAX_HISTORY_PARAMS = 12
#: completed trials drawn in these many-panel plots at most (the best 500 always)
MAX_PANEL_POINTS = 2000


def _axis_values(axis: Axis, trials: Sequence[Any]) -> Tuple[List[Any], Dict[str, Any]]:
    """Plot values of one parameter and the axis layout (categories as text, log axes log)."""
    raw = [t.params.get(axis.name) for t in trials]
    if axis.kind == "categorical":
        xs = [esc(label(v)) if axis.name in t.params else None for v, t in zip(raw, trials)]
        return xs, {"type": "category", "categoryorder": "array",
                    "categoryarray": [esc(c) for c in axis.categories]}
    xs = [None if e is None else _num(v) for v, e in zip(raw, encode(axis, raw))]
    return xs, {"type": "log" if axis.kind == "log" else "linear"}


def pairs(report: Report, idx: Sequence[int], per_row: int = 3,
          max_params: int = MAX_PAIR_PARAMS) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """(pair-plot figure, note) over the completed trials ``idx``; ``None`` with fewer than
    two parameters."""
    axes = report.axes[:max_params]
    if len(axes) < 2:
        return None, None
    note = None
    if len(report.axes) > max_params:
        note = (f"The parameter-pair plot shows the first {max_params} of {len(report.axes)} "
                "parameters (search-space order).")
    trials = [report.trials[i] for i in idx]
    metric = [_num(report.values[i]) for i in idx]
    cols = {a.name: _axis_values(a, trials) for a in axes}
    combos = list(itertools.combinations(axes, 2))
    ncols = max(1, min(per_row, len(combos)))
    nrows = math.ceil(len(combos) / ncols)
    data: List[Dict[str, Any]] = []
    layout: Dict[str, Any] = {
        "grid": {"rows": nrows, "columns": ncols, "pattern": "independent"}, "showlegend": False,
        "height": 330 * nrows, "margin": {"t": 60},
        "title": {"text": esc(f"Parameter pairs coloured by {report.metric} (brighter is better)")},
        "coloraxis": {"colorscale": "Viridis", "reversescale": report.mode == "min",
                      "colorbar": {"title": {"text": esc(report.metric)}}}}
    for k, (ax, ay) in enumerate(combos):
        suffix = "" if k == 0 else str(k + 1)
        (xs, xlay), (ys, ylay) = cols[ax.name], cols[ay.name]
        keep = [j for j in range(len(trials)) if xs[j] is not None and ys[j] is not None]
        data.append({"type": "scatter", "mode": "markers", "x": [xs[j] for j in keep],
                     "y": [ys[j] for j in keep], "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
                     "marker": {"size": 6, "color": [metric[j] for j in keep], "coloraxis": "coloraxis"},
                     "text": [str(trials[j].number) for j in keep],
                     "hovertemplate": (f"trial %{{text}}<br>{esc(ax.name)} %{{x}}<br>{esc(ay.name)} %{{y}}"
                                       f"<br>{esc(report.metric)} %{{marker.color}}<extra></extra>")})
        layout[f"xaxis{suffix}"] = {**xlay, "title": {"text": esc(ax.name)}}
        layout[f"yaxis{suffix}"] = {**ylay, "title": {"text": esc(ay.name)}}
    return {"data": data, "layout": layout}, note


def loss_feature_history(report: Report, idx: Optional[Sequence[int]] = None,
                         max_params: int = MAX_HISTORY_PARAMS) -> Dict[str, Any]:
    """o2tuner's ``plot_loss_feature_history()``: the metric (top panel, with the best so far)
    and each parameter (one panel each, below) against trial number.

    ``idx`` are the completed trials to draw (default: all of them, downsampled like every
    report plot). Public API: ``plotly.graph_objects.Figure(loss_feature_history(report))``.
    """
    if idx is None:
        idx, _ = sample(report, max_points=MAX_PANEL_POINTS)
    axes = report.axes[:max_params]
    trials = [report.trials[i] for i in idx]
    numbers = [t.number for t in trials]
    rows = 1 + len(axes)
    gap = 0.04 if rows > 1 else 0.0
    height = (1.0 - gap * (rows - 1)) / rows
    data: List[Dict[str, Any]] = [{
        "type": "scatter", "mode": "markers", "name": esc(report.metric), "x": numbers,
        "y": [_num(report.values[i]) for i in idx], "marker": {"size": 5, "color": "#1f77b4"},
        "hovertemplate": "trial %{x}<br>%{y}<extra></extra>"}]
    best_x, best_y = best_so_far(report)
    data.append({"type": "scatter", "mode": "lines", "name": "best so far", "x": best_x, "y": best_y,
                 "line": {"shape": "hv", "width": 2, "color": "#d62728"}})
    layout: Dict[str, Any] = {
        "title": {"text": esc(f"{report.metric} and parameters by trial number")},
        "height": 220 + 170 * rows, "showlegend": False, "margin": {"t": 60},
        "yaxis": {"title": {"text": esc(report.metric)}, "domain": _domain(0, rows, height, gap)},
        "xaxis": {"anchor": "y", "matches": None, "showticklabels": rows == 1}}
    for k, axis in enumerate(axes, start=1):
        suffix = str(k + 1)
        ys, ylay = _axis_values(axis, trials)
        pts = [(x, y) for x, y in zip(numbers, ys) if y is not None]
        data.append({"type": "scatter", "mode": "markers", "name": esc(axis.name), "x": [p[0] for p in pts],
                     "y": [p[1] for p in pts], "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
                     "marker": {"size": 5, "color": "#2ca02c"},
                     "hovertemplate": "trial %{x}<br>" + esc(axis.name) + " %{y}<extra></extra>"})
        layout[f"yaxis{suffix}"] = {**ylay, "title": {"text": esc(axis.name)},
                                    "domain": _domain(k, rows, height, gap)}
        layout[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "matches": "x",
                                    "showticklabels": k == rows - 1}
    layout[f"xaxis{rows if rows > 1 else ''}"]["title"] = {"text": "trial number"}
    layout["xaxis"].pop("matches")
    return {"data": data, "layout": layout}


def _domain(k: int, rows: int, height: float, gap: float) -> List[float]:
    """Vertical extent of row ``k`` counted from the top."""
    top = 1.0 - k * (height + gap)
    return [max(0.0, round(top - height, 4)), round(top, 4)]
