"""Several studies side by side (``report PROJECT --study a,b[,c]``): W&B's run comparison.

Each study becomes its own :class:`Report` (same filters, same sorting metric), so every
number here is the one its single-study report shows. The comparison adds one summary row per
study (terminal, JSON, HTML), one CSV of every trial with a ``study`` column, and figures that
overlay the studies, each in its own colour: best so far by trial number, parameter
distributions of the completed trials, and, for several objectives, the Pareto fronts.
Studies that optimise different objectives are compared only by one metric (``--metric``).
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hpogrid.errors import ValidationError
from hpogrid.report._frame import Axis, Filters, Report, build_report, label
from hpogrid.report._plots import _num, best_so_far, esc

#: one colour per study, in the order given (plotly's default palette)
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
#: studies compared at most (one colour each)
MAX_STUDIES = len(COLOURS)


@dataclass
class Comparison:
    """The reports of the compared studies, in the order given; all sort by one metric."""

    reports: List[Report]

    @property
    def first(self) -> Report:
        return self.reports[0]

    @property
    def metric(self) -> str:
        return self.first.metric

    @property
    def mode(self) -> str:
        return self.first.mode

    @property
    def pareto_view(self) -> bool:
        return self.first.pareto_view


def parse_studies(text: Optional[str]) -> List[str]:
    """``"a,b"`` -> ``["a", "b"]`` (blanks and repeats dropped)."""
    return list(dict.fromkeys(s.strip() for s in (text or "").split(",") if s.strip()))


def build_comparison(project: str, studies: Sequence[str], study_url: Optional[str] = None,
                     metric: Optional[str] = None, mode: Optional[str] = None,
                     filters: Filters = Filters(), settle: bool = True) -> Comparison:
    """The report of each study of ``studies`` (2 to :data:`MAX_STUDIES`). Without ``metric``
    they must optimise the same objectives; with it, all sort by it (the first study's
    direction unless ``mode`` says otherwise)."""
    if not 2 <= len(studies) <= MAX_STUDIES:
        raise ValidationError("--study", f"compare 2 to {MAX_STUDIES} studies, got {len(studies)}")
    first = build_report(project, studies[0], study_url, metric, mode, filters, settle)
    reports = [first]
    for name in studies[1:]:
        rep = build_report(project, name, study_url, metric, mode or (first.mode if metric else None), filters,
                           settle)
        if metric is None and (rep.objectives.items, rep.objectives.constraints) != (
                first.objectives.items, first.objectives.constraints):
            raise ValidationError("--study", f"study {first.study!r} optimises {first.objectives.describe()}, "
                                             f"study {rep.study!r} {rep.objectives.describe()}: compare them by "
                                             "one metric with --metric M")
        reports.append(rep)
    return Comparison(reports)


def _short(value: Any) -> Any:
    return float(f"{value:.6g}") if isinstance(value, float) else value


def _params(trial) -> str:
    return ", ".join(f"{k}={str(_short(v) if isinstance(v, float) else label(v))[:24]}"
                     for k, v in trial.params.items())


def summary_rows(cmp: Comparison) -> Tuple[List[str], List[List[Any]]]:
    """(headers, one row per study): trial counts, then the best value, its trial and
    parameters (several objectives in their own order: the size of the Pareto front)."""
    best_head = "pareto front" if cmp.pareto_view else f"best {cmp.metric} ({cmp.mode})"
    headers = ["study", "trials", "completed", "failed", "running", best_head, "trial", "params"]
    rows = []
    for rep in cmp.reports:
        c = rep.counts
        row: List[Any] = [rep.study, len(rep.trials), c["COMPLETED"], c["FAILED"], c["RUNNING"] + c["PENDING"]]
        if cmp.pareto_view:
            row += [len(rep.front), "", ""]
        elif rep.best is None:
            row += ["", "", ""]
        else:
            row += [_short(rep.values[0]), rep.best.number, _params(rep.best)]
        rows.append(row)
    return headers, rows


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def to_json(cmp: Comparison) -> str:
    """``{"metric", "mode", "objectives", "studies": [{study, store, counts, best, pareto_front,
    trials}]}``; trials are :func:`hpogrid.report.records` (non-finite numbers as null)."""
    from hpogrid.report._table import records

    studies = []
    for rep in cmp.reports:
        best = rep.best
        studies.append({
            "study": rep.study, "store": rep.store, "counts": {str(k): v for k, v in rep.counts.items()},
            "best": None if best is None else {"number": best.number, "uid": best.uid, "value": rep.values[0],
                                               "params": best.params},
            "pareto_front": [rep.trials[i].number for i in rep.front] if rep.pareto_view else None,
            "trials": records(rep)})
    doc = {"metric": cmp.metric, "mode": cmp.mode, "objectives": cmp.first.objectives.describe(),
           "studies": studies}
    return json.dumps(_finite(doc), ensure_ascii=False, allow_nan=False, indent=1) + "\n"


def to_csv(cmp: Comparison) -> str:
    """Every trial of every study, best first per study, with a leading ``study`` column and the
    union of the studies' columns; text that a spreadsheet would run as a formula is neutralised
    (:func:`hpogrid.csvtext.neutralise`)."""
    from hpogrid.csvtext import neutralise
    from hpogrid.report._table import record_columns, records

    columns: Dict[str, None] = {"study": None}
    for rep in cmp.reports:
        columns.update(dict.fromkeys(record_columns(rep)))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([neutralise(c) for c in columns])
    for rep in cmp.reports:
        for row in records(rep):
            row["study"] = rep.study
            cells = []
            for col in columns:
                v = row.get(col)
                text = ("" if v is None else json.dumps(v) if isinstance(v, (dict, list, bool)) else
                        label(v) if col.startswith("param.") and isinstance(v, str) else v)
                cells.append(neutralise(text) if isinstance(text, str) else text)
            writer.writerow(cells)
    return buf.getvalue()


def _best_figure(cmp: Comparison) -> Dict[str, Any]:
    data = []
    for rep, colour in zip(cmp.reports, COLOURS):
        pts = sorted((t.number, v) for t, v in zip(rep.trials[: rep.ranked], rep.values))
        name = esc(rep.study)
        data.append({"type": "scatter", "mode": "markers", "name": f"{name}: trials", "legendgroup": name,
                     "x": [p[0] for p in pts], "y": [_num(p[1]) for p in pts],
                     "marker": {"size": 4, "opacity": 0.35, "color": colour}, "showlegend": False,
                     "hovertemplate": f"{name}: trial %{{x}}<br>%{{y}}<extra></extra>"})
        xs, ys = best_so_far(rep)
        data.append({"type": "scatter", "mode": "lines", "name": name, "legendgroup": name, "x": xs,
                     "y": [_num(y) for y in ys], "line": {"shape": "hv", "width": 2, "color": colour}})
    layout = {"title": {"text": esc(f"best {cmp.metric} so far by trial number ({cmp.mode})")},
              "xaxis": {"title": {"text": "trial number"}}, "yaxis": {"title": {"text": esc(cmp.metric)}},
              "height": 440, "margin": {"t": 60}}
    return {"data": data, "layout": layout}


def _axes(cmp: Comparison) -> List[Axis]:
    """One axis per parameter of any study (the first study that has it decides its kind)."""
    seen: Dict[str, Axis] = {}
    for rep in cmp.reports:
        for axis in rep.axes:
            seen.setdefault(axis.name, axis)
    return list(seen.values())


def _distributions(cmp: Comparison, per_row: int = 3) -> Optional[Dict[str, Any]]:
    """Histograms of each parameter over the completed trials, the studies overlaid."""
    axes = _axes(cmp)
    if not axes:
        return None
    cols = max(1, min(per_row, len(axes)))
    rows = math.ceil(len(axes) / cols)
    data: List[Dict[str, Any]] = []
    layout: Dict[str, Any] = {"grid": {"rows": rows, "columns": cols, "pattern": "independent"},
                              "barmode": "overlay", "height": 300 * rows, "margin": {"t": 60},
                              "title": {"text": "parameters of the completed trials"}}
    for k, axis in enumerate(axes):
        suffix = "" if k == 0 else str(k + 1)
        for j, (rep, colour) in enumerate(zip(cmp.reports, COLOURS)):
            values = [t.params[axis.name] for t in rep.trials[: rep.ranked] if axis.name in t.params]
            if axis.kind == "categorical":
                xs: List[Any] = [esc(label(v)) for v in values]
            else:
                xs = [_num(math.log10(v)) if axis.kind == "log" else _num(v) for v in values
                      if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                      and (axis.kind != "log" or v > 0)]
            data.append({"type": "histogram", "x": xs, "name": esc(rep.study), "legendgroup": esc(rep.study),
                         "showlegend": k == 0, "marker": {"color": colour}, "opacity": 0.55,
                         "xaxis": f"x{suffix}", "yaxis": f"y{suffix}"})
        title = f"log10 {axis.name}" if axis.kind == "log" else axis.name
        layout[f"xaxis{suffix}"] = {"title": {"text": esc(title)}, **(
            {"type": "category", "categoryorder": "array", "categoryarray": [esc(c) for c in axis.categories]}
            if axis.kind == "categorical" else {})}
        layout[f"yaxis{suffix}"] = {"title": {"text": "trials" if k % cols == 0 else ""}}
    return {"data": data, "layout": layout}


def _fronts(cmp: Comparison) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """Two or three objectives: each study's Pareto-optimal trials (2-D: with its step line)."""
    from hpogrid.report._pareto import _staircase

    objectives = cmp.first.objectives
    if not objectives.is_multi:
        return None, None
    d = len(objectives)
    if d > 3:
        return None, "No Pareto-front overlay: it is drawn for two or three objectives."
    data = []
    for rep, colour in zip(cmp.reports, COLOURS):
        front = [(rep.trials[i].number, rep.objectives.values(rep.trials[i].metrics)) for i in rep.front]
        front = [(n, v) for n, v in front if v is not None]
        name = esc(rep.study)
        cols = [[_num(v[j]) for _, v in front] for j in range(d)]
        trace: Dict[str, Any] = {"type": "scatter" if d == 2 else "scatter3d", "mode": "markers", "name": name,
                                 "legendgroup": name, "customdata": [n for n, _ in front],
                                 "marker": {"size": 8 if d == 2 else 4, "color": colour},
                                 "hovertemplate": f"{name}: trial %{{customdata}}<extra></extra>"}
        trace.update(zip(("x", "y", "z"), cols))
        data.append(trace)
        if d == 2 and front:
            xs, ys = _staircase([v for _, v in front], objectives.modes)
            data.append({"type": "scatter", "mode": "lines", "name": f"{name} front", "legendgroup": name,
                         "showlegend": False, "x": xs, "y": ys, "line": {"color": colour, "width": 2},
                         "hoverinfo": "skip"})
    titles = [esc(f"{o.metric} ({o.mode})") for o in objectives.items]
    if d == 2:
        layout: Dict[str, Any] = {"xaxis": {"title": {"text": titles[0]}}, "yaxis": {"title": {"text": titles[1]}}}
    else:
        layout = {"scene": {a: {"title": {"text": t}} for a, t in zip(("xaxis", "yaxis", "zaxis"), titles)}}
    layout.update(title={"text": esc(f"Pareto fronts: {objectives.describe()}")}, height=500, margin={"t": 60})
    return {"data": data, "layout": layout}, None


def figures(cmp: Comparison):
    """The comparison's :class:`hpogrid.report.Figures` (what the HTML page and the dashboard draw)."""
    from hpogrid.report._figures import Figures, Panel

    out = Figures()
    fronts, note = _fronts(cmp)
    out.notes += [note] if note else []
    if fronts is not None:
        out.panels.append(Panel("fronts", "Pareto fronts", fronts))
    if any(rep.ranked for rep in cmp.reports):
        out.panels.append(Panel("best", f"Best {cmp.metric} so far", _best_figure(cmp)))
        dist = _distributions(cmp)
        if dist is not None:
            out.panels.append(Panel("params", "Parameter distributions", dist))
    else:
        out.notes.append(f"No completed trial with a value of {cmp.metric} in any study: nothing to plot.")
    return out


def render(cmp: Comparison) -> Tuple[str, List[str]]:
    """(the comparison page, notes)."""
    from hpogrid.report._html import _section, e, page

    figs = figures(cmp)
    notes = [f"{rep.study}: {n}" for rep in cmp.reports for n in rep.notes] + figs.notes
    headers, rows = summary_rows(cmp)
    headers.insert(1, "colour")
    body_rows = []
    for rep, row, colour in zip(cmp.reports, rows, COLOURS):
        cells = [f"<td>{e(row[0])}</td>", f'<td><span style="color:{colour}">&#9632;</span></td>',
                 *(f"<td>{e(c)}</td>" for c in row[1:])]
        body_rows.append("<tr>" + "".join(cells) + "</tr>")
    table = (f"<table id=\"studies\"><thead><tr>{''.join(f'<th>{e(h)}</th>' for h in headers)}</tr></thead>"
             f"<tbody>{''.join(body_rows)}</tbody></table>")
    project = cmp.first.project.name
    head = (f"<h1>hpogrid report: {e(project)}: {len(cmp.reports)} studies</h1>"
            f"<p>Sorted by {e(cmp.metric)} ({e(cmp.mode)}); objectives {e(cmp.first.objectives.describe())}; "
            f"store {e(cmp.first.store)}.</p>")
    plots = "".join(_section(p.title, f'<div class="plot" id="plot-{p.key}"></div>') for p in figs.panels)
    body = (head + "".join(f'<p class="note">{e(n)}</p>' for n in notes) + _section("Studies", table) + plots)
    return page(f"hpogrid report: {project} ({', '.join(r.study for r in cmp.reports)})", body,
                figs.as_dict()), notes


def write(cmp: Comparison, outname: str, kinds: List[str], outdir: str = ".") -> Tuple[List[Path], List[str]]:
    """Write ``kinds`` (csv, json, html) of the comparison; (paths, notes)."""
    import os

    from hpogrid.fileio import write_atomic
    from hpogrid.report._output import _umask, output_base, output_path

    if "pcp" in kinds:
        raise ValidationError("--to_pcp", "draws one study: leave it out when comparing studies")
    base = output_base(outname, outdir)
    written, notes = [], []
    for kind in ("csv", "json", "html"):
        if kind not in kinds:
            continue
        if kind == "html":
            text, page_notes = render(cmp)
            notes += page_notes
        else:
            text = to_csv(cmp) if kind == "csv" else to_json(cmp)
        path = output_path(base, f".{kind}")
        write_atomic(path, text)
        os.chmod(path, 0o666 & ~_umask())
        written.append(path)
    return written, list(dict.fromkeys(notes))
