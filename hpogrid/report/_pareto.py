"""The figures of several objectives: the Pareto front and the hypervolume by trial number.

* Pareto front: two objectives, a scatter of the feasible completed trials with the front
  drawn as the step line that bounds what it dominates; three, a 3-D scatter; more, parallel
  coordinates of the objectives coloured by front rank. Infeasible trials are drawn grey
  (never on the front). Big studies draw the whole front and a seeded sample of the rest.
* Hypervolume: of the front of the feasible completed trials up to each trial number, against
  one reference point (each objective's worst value among those trials, 10 % of its range
  further: :func:`hpogrid.pareto.reference_point`), which the figure states. It is computed at
  a bounded number of checkpoints, so a 100k-trial study stays fast.

Figures are plain plotly dicts like every other report figure (:mod:`._plots`).
"""
from __future__ import annotations

import random
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hpogrid.report._frame import Report
from hpogrid.report._plots import MAX_POINTS, _num, esc

#: hypervolume checkpoints at most (2-3 objectives; more objectives cost more per checkpoint)
CHECKPOINTS = 100
CHECKPOINTS_MANY = 30
#: with 5+ objectives the exact hypervolume grows like front size ** (objectives - 2): beyond this
#: front size it is left out (and a note says so)
MAX_FRONT_MANY = 100
#: front ranks shown apart in the parallel-coordinates colours; worse ones share the last colour
RANK_COLOURS = 9
#: infeasible trials drawn at most
MAX_INFEASIBLE = 1000

_FRONT, _REST, _INFEASIBLE = "#d62728", "#1f77b4", "#9e9e9e"


def _points(report: Report) -> Tuple[List[int], List[Tuple[float, ...]]]:
    """(positions, objective values) of the trials eligible for the front, in report order."""
    where, values = [], []
    objectives = report.objectives
    for i, (t, ok) in enumerate(zip(report.trials, report.standing.eligible)):
        if ok:
            v = objectives.values(t.metrics)
            if v is not None:
                where.append(i)
                values.append(v)
    return where, values


def _infeasible(report: Report, seed: int = 0) -> Tuple[List[int], List[Tuple[float, ...]]]:
    where, values = [], []
    for i, (t, ok) in enumerate(zip(report.trials, report.standing.feasible)):
        if ok is False:
            v = report.objectives.values(t.metrics)
            if v is not None:
                where.append(i)
                values.append(v)
    if len(where) > MAX_INFEASIBLE:
        keep = sorted(random.Random(seed).sample(range(len(where)), MAX_INFEASIBLE))
        where, values = [where[k] for k in keep], [values[k] for k in keep]
    return where, values


def _label(report: Report, k: int) -> str:
    o = report.objectives.items[k]
    return f"{o.metric} ({o.mode})"


def pareto_front(report: Report, max_points: int = MAX_POINTS, seed: int = 0
                 ) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """(the Pareto-front figure, note); (None, why) without several objectives or points."""
    objectives = report.objectives
    if not objectives.is_multi:
        return None, None
    where, values = _points(report)
    if not where:
        return None, ("No Pareto-front plot: no feasible completed trial has a value of every objective "
                      f"({objectives.describe()}).")
    on = [report.standing.pareto[i] for i in where]
    front = [k for k, f in enumerate(on) if f]
    rest = [k for k, f in enumerate(on) if not f]
    note = None
    room = max(0, max_points - len(front))
    if len(rest) > room:
        note = (f"The Pareto-front plot shows all {len(front):,} Pareto-optimal trials and {room:,} of the "
                f"{len(rest):,} others (a random sample).")
        rest = sorted(random.Random(seed).sample(rest, room))
    bad_where, bad_values = _infeasible(report, seed)
    numbers = [report.trials[i].number for i in where]
    groups = [("Pareto-optimal", _FRONT, front), ("dominated", _REST, rest)]
    d = len(objectives)
    if d == 2:
        fig = _scatter2d(report, values, numbers, groups, bad_values, [report.trials[i].number for i in bad_where])
    elif d == 3:
        fig = _scatter3d(report, values, numbers, groups, bad_values, [report.trials[i].number for i in bad_where])
    else:
        fig, rank_note = _by_rank(report, values, front + rest)
        note = " ".join(n for n in (note, rank_note) if n) or None
    return fig, note


def _trace(x, name: str, colour: str, size: int, numbers, kind: str = "scatter", symbol: str = "circle",
           opacity: float = 0.8) -> Dict[str, Any]:
    axes = ("x", "y", "z")[: len(x)]
    trace = {"type": kind, "mode": "markers", "name": name,
             **{a: [_num(v) for v in col] for a, col in zip(axes, x)},
             "customdata": list(numbers),
             "marker": {"size": size if kind == "scatter" else max(2, size - 3), "color": colour,
                        "opacity": opacity, "symbol": symbol}}
    return trace


def _scatter2d(report: Report, values, numbers, groups, bad_values, bad_numbers) -> Dict[str, Any]:
    o = report.objectives.items
    data = []
    if bad_values:
        cols = list(zip(*bad_values))
        data.append({**_trace(cols, "infeasible", _INFEASIBLE, 6, bad_numbers, symbol="x", opacity=0.6),
                     "hovertemplate": "trial %{customdata} (infeasible)<br>%{x}, %{y}<extra></extra>"})
    for name, colour, idx in reversed(groups):
        if not idx:
            continue
        cols = [[values[k][j] for k in idx] for j in range(2)]
        data.append({**_trace(cols, name, colour, 9 if colour == _FRONT else 5, [numbers[k] for k in idx],
                              opacity=1.0 if colour == _FRONT else 0.5),
                     "hovertemplate": f"trial %{{customdata}} ({name})<br>%{{x}}, %{{y}}<extra></extra>"})
    step_x, step_y = _staircase([values[k] for k in groups[0][2]], report.objectives.modes)
    data.append({"type": "scatter", "mode": "lines", "name": "Pareto front", "x": step_x, "y": step_y,
                 "line": {"color": _FRONT, "width": 2}, "hoverinfo": "skip"})
    layout = {"title": {"text": esc(f"Pareto front: {report.objectives.describe()}")},
              "xaxis": {"title": {"text": esc(f"{o[0].metric} ({o[0].mode})")}},
              "yaxis": {"title": {"text": esc(f"{o[1].metric} ({o[1].mode})")}},
              "height": 480, "margin": {"t": 60}}
    return {"data": data, "layout": layout}


def _staircase(front: List[Tuple[float, float]], modes: Sequence[str]) -> Tuple[List[float], List[float]]:
    """The step line through a 2-D front: between neighbours (by the first objective) it turns at
    the corner made of their worse values, so it bounds exactly the region the front dominates."""
    pts = sorted(set(front))
    xs: List[float] = []
    ys: List[float] = []
    worse = [max if m == "min" else min for m in modes]
    for k, (x, y) in enumerate(pts):
        if k:
            px, py = pts[k - 1]
            xs.append(_num(worse[0](x, px)))
            ys.append(_num(worse[1](y, py)))
        xs.append(_num(x))
        ys.append(_num(y))
    return xs, ys


def _scatter3d(report: Report, values, numbers, groups, bad_values, bad_numbers) -> Dict[str, Any]:
    o = report.objectives.items
    data = []
    hover = "trial %{customdata} (NAME)<br>%{x}, %{y}, %{z}<extra></extra>"
    if bad_values:
        cols = list(zip(*bad_values))
        data.append({**_trace(cols, "infeasible", _INFEASIBLE, 6, bad_numbers, "scatter3d", "x", 0.5),
                     "hovertemplate": hover.replace("NAME", "infeasible")})
    for name, colour, idx in reversed(groups):
        if not idx:
            continue
        cols = [[values[k][j] for k in idx] for j in range(3)]
        data.append({**_trace(cols, name, colour, 8 if colour == _FRONT else 6, [numbers[k] for k in idx],
                              "scatter3d", opacity=1.0 if colour == _FRONT else 0.4),
                     "hovertemplate": hover.replace("NAME", name)})
    scene = {f"{a}axis": {"title": {"text": esc(f"{o[j].metric} ({o[j].mode})")}} for j, a in enumerate("xyz")}
    layout = {"title": {"text": esc(f"Pareto front: {report.objectives.describe()}")}, "scene": scene,
              "height": 620, "margin": {"t": 60, "l": 0, "r": 0, "b": 0}}
    return {"data": data, "layout": layout}


def _by_rank(report: Report, values, drawn: List[int]) -> Tuple[Dict[str, Any], Optional[str]]:
    """Parallel coordinates of the objectives, coloured by front rank (0 brightest)."""
    from hpogrid import pareto

    drawn = sorted(drawn)
    pts = [values[k] for k in drawn]
    ranks = pareto.front_ranks(pts, report.objectives.modes, limit=RANK_COLOURS)
    note = None
    if len(drawn) < len(values):
        note = (f"Front ranks in the Pareto parallel-coordinates plot are among the {len(drawn):,} trials drawn "
                "(the whole front and a sample of the rest).")
    dims = [{"label": esc(_label(report, j)), "values": [_num(p[j]) for p in pts]}
            for j in range(len(report.objectives))]
    top = max(ranks) if ranks else 0
    trace = {"type": "parcoords", "dimensions": dims,
             "line": {"color": ranks, "colorscale": "Viridis", "reversescale": True, "cmin": 0,
                      "cmax": max(1, top), "showscale": True,
                      "colorbar": {"title": {"text": "front rank"},
                                   "tickvals": list(range(top + 1)),
                                   "ticktext": [str(r) if r < RANK_COLOURS else f"{r}+" for r in range(top + 1)]}}}
    layout = {"title": {"text": esc(f"Pareto fronts: {report.objectives.describe()} (rank 0 = Pareto-optimal, "
                                    "brighter is better)")},
              "margin": {"l": 80, "r": 80, "t": 90, "b": 40}, "height": 520}
    return {"data": [trace], "layout": layout}, note


def checkpoints(n: int, most: int) -> List[int]:
    """Up to ``most`` prefix lengths 1..n, evenly spread, always ending at ``n``."""
    if n <= most:
        return list(range(1, n + 1))
    return sorted({max(1, round(n * (k + 1) / most)) for k in range(most)})


def hypervolume(report: Report) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """(the hypervolume-by-trial figure, note); (None, why) when there is nothing to compute."""
    from hpogrid import pareto

    objectives = report.objectives
    if not objectives.is_multi:
        return None, None
    where, values = _points(report)
    if not where:
        return None, None  # the Pareto-front figure already says why
    order = sorted(range(len(where)), key=lambda k: report.trials[where[k]].number)
    pts = [values[k] for k in order]
    numbers = [report.trials[where[k]].number for k in order]
    modes = objectives.modes
    d = len(objectives)
    if d >= 5:
        size = sum(report.standing.pareto[i] for i in where)
        if size > MAX_FRONT_MANY:
            return None, (f"No hypervolume plot: the exact hypervolume of {d} objectives with a front of {size:,} "
                          f"trials (more than {MAX_FRONT_MANY}) would take too long.")
    ref = pareto.reference_point(pts, modes)
    at = checkpoints(len(pts), CHECKPOINTS if d <= 3 else CHECKPOINTS_MANY)
    volumes = pareto.hypervolume_history(pts, modes, ref, at=at)
    xs = [numbers[k - 1] for k in at]
    where_ref = ", ".join(f"{o.metric} = {r:.6g}" for o, r in zip(objectives.items, ref))
    how = (f"each objective's worst value among the {len(pts):,} feasible completed trials, 10 % of its range "
           "further")
    data = [{"type": "scatter", "mode": "lines+markers" if len(at) <= 60 else "lines", "name": "hypervolume",
             "x": xs, "y": [float(f"{v:.6g}") for v in volumes], "line": {"shape": "hv", "width": 2},
             "marker": {"size": 5}, "hovertemplate": "up to trial %{x}<br>hypervolume %{y}<extra></extra>"}]
    layout = {"title": {"text": esc(f"Hypervolume of the Pareto front by trial number (reference point: "
                                    f"{where_ref})") + "<br><sub>" + esc(f"reference point: {how}") + "</sub>"},
              "xaxis": {"title": {"text": "trial number"}}, "yaxis": {"title": {"text": "hypervolume"},
                                                                      "rangemode": "tozero"},
              "height": 420, "margin": {"t": 90},
              "meta": {"reference_point": dict(zip(objectives.metrics, ref)), "chosen_as": how}}
    note = None
    if len(at) < len(pts):
        note = (f"The hypervolume is computed at {len(at)} checkpoints over the {len(pts):,} feasible completed "
                "trials.")
    return {"data": data, "layout": layout}, note
