"""The HTML report: one self-contained file that opens from disk, offline.

plotly.js is embedded once; figures travel as one JSON document in a
``<script type="application/json">`` whose ``<``, ``>`` and ``&`` are \\u-escaped, so no
user string can close the script. Every other user string goes through
:func:`html.escape`. A Content-Security-Policy forbids every network request, so the page
provably needs nothing but itself. The trials table sorts with a few lines of vanilla JS.
"""
from __future__ import annotations

import html
import json
import math
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

from hpogrid.engine import clean_error
from hpogrid.report import _plots
from hpogrid.report._frame import Report, label
from hpogrid.report._table import scope_text

#: rows of the trials table at most (best first); the CSV has every trial
MAX_TABLE_ROWS = 2000
#: failed trials listed at most, and characters of each error shown
MAX_FAILED = 200
MAX_ERROR_CHARS = 4000

_CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
        "img-src data: blob:; font-src data:; worker-src blob:")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em} td,th{padding:2px 8px;border-bottom:1px solid #eee;
text-align:left;white-space:nowrap} th{background:#f4f4f4;position:sticky;top:0}
table.sortable th{cursor:pointer} table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable th[aria-sort=descending]::after{content:" \\25BC"} td.num{text-align:right}
.scroll{max-height:32em;overflow:auto;border:1px solid #ddd} .note{background:#fff8e1;padding:.4em .8em}
pre{background:#f7f7f7;padding:.5em;max-height:20em;overflow:auto;white-space:pre-wrap}
.configs{display:flex;flex-wrap:wrap;gap:1em} .configs details{flex:1 1 22em}
.plot{min-height:200px} .meta td:first-child{font-weight:600}
"""

_JS = r"""
(function(){
  var figs = JSON.parse(document.getElementById('hpogrid-figures').textContent);
  Object.keys(figs).forEach(function(key){
    var el = document.getElementById('plot-' + key);
    if (!el) return;
    try { Plotly.newPlot(el, figs[key].data, figs[key].layout, {responsive: true, displaylogo: false}); }
    catch (e) { el.textContent = 'This plot could not be drawn: ' + e; console.error(e); }
  });
  function key(cell){
    var v = cell.getAttribute('data-v');
    if (v !== null) return v === '' ? null : parseFloat(v);
    var t = cell.textContent; return t === '' ? null : t.toLowerCase();
  }
  document.querySelectorAll('table.sortable').forEach(function(table){
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function(th, col){
      th.addEventListener('click', function(){
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        Array.prototype.forEach.call(heads, function(h){ h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        rows.sort(function(a, b){
          var x = key(a.cells[col]), y = key(b.cells[col]);
          if (x === y) return 0; if (x === null) return 1; if (y === null) return -1;
          return (x < y ? -1 : 1) * (asc ? 1 : -1);
        });
        rows.forEach(function(r){ body.appendChild(r); });
      });
    });
  });
})();
"""


def e(value: Any) -> str:
    """HTML-escaped text of any value (``None`` -> empty, numbers to 6 digits)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return html.escape(value)
    if isinstance(value, float):
        return html.escape(f"{value:.6g}")
    return html.escape(str(value) if isinstance(value, int) and not isinstance(value, bool) else label(value))


def _cell(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        key = repr(value) if math.isfinite(value) else ""
        return f'<td class="num" data-v="{key}">{e(value)}</td>'
    return f"<td>{e(value)}</td>"


def _last_line(text: Optional[str]) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _header(report: Report) -> str:
    p = report.project
    best = report.best
    objectives = report.objectives
    if objectives.is_multi:
        sorted_by = "" if report.pareto_view else f"; sorted by {report.metric} ({report.mode})"
        what = ("Objectives", objectives.describe() + sorted_by)
    else:
        what = ("Metric", f"{report.metric} ({report.mode})")
    rows = [("Project", p.name), ("Study", f"{report.study} ({report.store})"), what,
            ("Constraints", ", ".join(str(c) for c in objectives.constraints) or None),
            ("Project created", p.created_at), ("Project updated", p.updated_at), ("Report generated",
                                                datetime.now(timezone.utc).isoformat(timespec="seconds")),
            ("Configs", ", ".join(f"{k}: {v}" for k, v in (p.config_names or {}).items() if v) or None)]
    counts = report.counts
    order = ("COMPLETED", "FAILED", "RUNNING", "PENDING", "INTERRUPTED")
    shown = ", ".join(f"{counts[s]} {s.lower()}" for s in order if counts.get(s))
    scope = scope_text(report)
    rows.append(("Trials", f"{scope}: {shown}"))
    if objectives.constraints:
        rows.append(("Infeasible", f"{report.infeasible} completed trials break a constraint (never ranked or best)"))
    if report.pareto_view:
        front = [report.trials[i].number for i in report.front]
        shown = ", ".join(map(str, sorted(front)[:50])) + (", ..." if len(front) > 50 else "")
        rows.append(("Pareto front", f"{len(front)} trials: {shown}" if front else "no feasible completed trial "
                     "with a value of every objective"))
    if best is not None:
        params = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={label(v)}"
                           for k, v in best.params.items())
        rows.append(("Best", f"{report.metric} = {report.values[0]:.6g} in trial {best.number}: {params}"))
    meta = "".join(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in rows if v is not None)
    names = p.config_names or {}
    configs = "".join(
        f"<details open><summary>{e(kind)}{': ' + e(names[kind]) if names.get(kind) else ''}"
        f"</summary><pre>{e(json.dumps(cfg, indent=2, ensure_ascii=False))}</pre></details>"
        for kind, cfg in (p.configs or {}).items() if cfg is not None)
    return (f"<h1>hpogrid report: {e(p.name)}</h1><table class=\"meta\">{meta}</table>"
            f"<h2>Configs</h2><div class=\"configs\">{configs}</div>")


def _trials_table(report: Report) -> Tuple[str, Optional[str]]:
    axes = [a.name for a in report.axes]
    objectives = report.objective_columns  # the other objectives, next to the metric
    extra = report.extra_metrics  # the hpo_config's extra_metrics, next to the metric
    others = [m for m in report.metrics if m != report.metric and m not in extra and m not in objectives]
    marks = ["pareto", "feasible"] if report.marked else []
    heads = ["rank", "trial", "state", report.metric, *objectives, *marks, *extra, *axes, *others, "backend",
             "site", "task id", "time_s", "error"]
    from hpogrid.study.view import flatten

    body = []
    ranked = report.ranked
    yes = {True: "yes", False: "no", None: None}
    for i, (t, v) in enumerate(zip(report.trials[:MAX_TABLE_ROWS], report.values)):
        flat = flatten(t.metrics, "")
        flags = [yes[report.standing.pareto[i]], yes[report.standing.feasible[i]]] if marks else []
        cells = [i + 1 if i < ranked else None, t.number, t.shown_state, v, *(flat.get(m) for m in objectives), *flags,
                 *(flat.get(m) for m in extra), *(t.params.get(a) for a in axes), *(flat.get(m) for m in others),
                 t.backend, t.site, t.task_id, t.duration_s, _last_line(clean_error(t.error))[:120] or None]
        body.append("<tr>" + "".join(_cell(c) for c in cells) + "</tr>")
    note = None
    if len(report.trials) > MAX_TABLE_ROWS:
        note = (f"The table shows the best {MAX_TABLE_ROWS:,} of {len(report.trials):,} trials "
                "(use --to_csv or --to_json for all of them).")
    head = "".join(f"<th>{e(h)}</th>" for h in heads)
    return (f'<div class="scroll"><table class="sortable" id="trials"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>"), note


def _failed(report: Report) -> str:
    failed = [t for t in report.trials if t.state == "FAILED"]
    if not failed:
        return "<p>No failed trials.</p>"
    items = []
    for t in sorted(failed, key=lambda t: t.number)[:MAX_FAILED]:
        params = ", ".join(f"{k}={label(v)}" for k, v in t.params.items())
        text = (clean_error(t.error) or "(no error text recorded)")[-MAX_ERROR_CHARS:]
        items.append(f"<details><summary>trial {e(t.number)} ({e(t.uid)}): {e(_last_line(text))}</summary>"
                     f"<p>{e(params)}</p><pre>{e(text)}</pre></details>")
    more = f"<p>{len(failed) - MAX_FAILED:,} more failed trials are in the CSV.</p>" if len(failed) > MAX_FAILED else ""
    return f"<p>{len(failed):,} failed trials.</p>" + "".join(items) + more


def _failures(report: Report) -> str:
    """What failed where (:mod:`._failures`): by place and by error class; '' when nothing failed."""
    from hpogrid.report._failures import ERROR_HEADERS, PLACE_HEADERS, digest_tables, failure_digest

    digest = failure_digest(report.trials)
    if digest.empty:
        return ""
    parts = [f"<p>{digest.failed:,} failed trials, {digest.lost_attempts:,} lost attempts.</p>"]
    for ident, heads, rows in zip(("failures-by-place", "failures-by-error"), (PLACE_HEADERS, ERROR_HEADERS),
                                  digest_tables(digest)):
        head = "".join(f"<th>{e(h)}</th>" for h in heads)
        body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
        parts.append(f'<div class="scroll"><table class="sortable" id="{ident}"><thead><tr>{head}</tr></thead>'
                     f"<tbody>{body}</tbody></table></div>")
    return _section("What failed where", "".join(parts))


def _artifacts(report: Report) -> str:
    """The files trials kept (``hpogrid.trial.save_artifact``), linked where they are; '' if none."""
    from pathlib import Path

    from hpogrid.trial import artifacts

    rows = []
    for t in report.trials[:MAX_TABLE_ROWS]:
        for name, a in artifacts(t.annotations).items():
            where = a.get("file")
            link = (f'<a href="{e(Path(where).as_uri())}">{e(name)}</a>'
                    if isinstance(where, str) and where.startswith("/") else e(name))
            rows.append(f"<tr><td>{e(t.number)}</td><td>{e(t.uid)}</td><td>{link}</td>{_cell(a.get('size'))}"
                        f"<td>{e(str(a.get('sha256') or '')[:16])}</td></tr>")
    if not rows:
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("trial", "uid", "artifact", "bytes", "sha256"))
    return _section("Artifacts", f'<div class="scroll"><table id="artifacts"><thead><tr>{head}</tr></thead>'
                                 f"<tbody>{''.join(rows)}</tbody></table></div>")


def _figures_json(figures: Dict[str, Any]) -> str:
    text = json.dumps(figures, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def page(title: str, body: str, figures: Dict[str, Any]) -> str:
    """A complete HTML document: ``body`` plus plotly.js (once) drawing ``figures``."""
    from plotly.offline import get_plotlyjs

    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_CSP}\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{e(title)}</title>"
            f"<style>{_CSS}</style></head><body>{body}"
            f"<script>{get_plotlyjs()}</script>"
            f"<script type=\"application/json\" id=\"hpogrid-figures\">{_figures_json(figures)}</script>"
            f"<script>{_JS}</script></body></html>\n")


def _section(title: str, inner: str) -> str:
    return f"<h2>{e(title)}</h2>{inner}"


def render(report: Report, curves=None) -> Tuple[str, List[str]]:
    """(the full report page, notes about what was downsampled or left out); the figures
    are :func:`._figures.build_figures`, the same the dashboard draws."""
    from hpogrid.report._figures import build_figures

    notes: List[str] = list(report.notes)
    figs = build_figures(report, curves)
    notes += figs.notes
    plots = [_section(p.title, f'<div class="plot" id="plot-{p.key}"></div>') for p in figs.panels]
    if not report.ranked:
        plots.append("<p>No completed trial with a value yet: nothing to plot.</p>")
    table, table_note = _trials_table(report)
    notes += [table_note] if table_note else []
    notes_html = "".join(f'<p class="note">{e(n)}</p>' for n in notes)
    body = (_header(report) + notes_html + _section("Trials (click a column to sort)", table)
            + "".join(plots) + _failures(report) + _section("Failed trials", _failed(report)) + _artifacts(report))
    return page(f"hpogrid report: {report.project.name}", body, figs.as_dict()), notes


def render_pcp(report: Report) -> Tuple[str, Dict[str, Any], List[str]]:
    """(page with the parallel-coordinates plot alone, the figure, notes)."""
    idx, note = _plots.sample(report)
    if not idx:
        from hpogrid.errors import NotFoundError

        raise NotFoundError(f"--to_pcp: study {report.study!r} has no completed trial with a "
                            f"value of {report.metric} to plot")
    fig, pcp_note = _plots.parcoords(report, idx)
    notes = [n for n in (note, pcp_note) if n]
    body = (f"<h1>{e(report.project.name)}: parallel coordinates</h1>"
            + "".join(f'<p class="note">{e(n)}</p>' for n in notes)
            + '<div class="plot" id="plot-pcp"></div>')
    return page(f"{report.project.name}: parallel coordinates", body, {"pcp": fig}), fig, notes
