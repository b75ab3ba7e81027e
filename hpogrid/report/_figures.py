"""Every figure of a report, in page order: the one list the HTML report and the dashboard draw.

One set of plot builders, two outputs: ``hpogrid report --to_html`` embeds these figures in a
file, ``hpogrid dashboard`` serves the same list as JSON and redraws it as the study grows.
A figure that has nothing to show is left out and a note says why. A study with several
objectives gets its Pareto front and hypervolume (:mod:`._pareto`) first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from hpogrid.report._frame import Report


@dataclass(frozen=True)
class Panel:
    """One figure: ``key`` names its element (``plot-<key>``), ``title`` its section."""

    key: str
    title: str
    figure: Dict[str, Any]


@dataclass
class Figures:
    panels: List[Panel] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def as_dict(self) -> Dict[str, Dict[str, Any]]:
        return {p.key: p.figure for p in self.panels}


def build_figures(report: Report, curves: Optional[Sequence[Any]] = None,
                  with_importance: bool = True) -> Figures:
    """The report's figures; ``curves`` are :class:`Curve` s (default: read from the store)."""
    from hpogrid.report import _curves, _pairs, _plots

    out = Figures()
    idx, note = _plots.sample(report)
    if curves is None:
        curves = _curves.read_curves(report)
    curve_fig = _curves.learning_curves(report, curves)
    if not idx:
        _objectives(report, out)
        if curve_fig is not None:
            out.panels.append(Panel("curves", "Learning curves", curve_fig))
        return out
    _objectives(report, out)
    pcp, pcp_note = _plots.parcoords(report, idx)
    out.notes += [n for n in (note, pcp_note) if n]
    out.panels += [Panel("pcp", "Parallel coordinates", pcp),
                   Panel("history", f"{report.metric} by trial", _plots.history(report, idx))]
    by_time = _plots.best_by_time(report)
    if by_time is not None:
        out.panels.append(Panel("besttime", "Best so far by time", by_time))
    if curve_fig is not None:
        out.panels.append(Panel("curves", "Learning curves", curve_fig))
    out.panels.append(Panel("scatter", f"{report.metric} against each hyperparameter",
                            _plots.scatter(report, idx)))
    # the many-panel plots draw fewer points (their panels multiply the page size)
    few, few_note = _plots.sample(report, max_points=_pairs.MAX_PANEL_POINTS)
    if few_note:
        out.notes.append(f"The parameter-pair and parameters-by-trial plots show {len(few):,} of "
                         f"{report.ranked:,} completed trials (the best and a random sample).")
    pair_fig, pair_note = _pairs.pairs(report, few)
    out.notes += [pair_note] if pair_note else []
    if pair_fig is not None:
        out.panels.append(Panel("pairs", "Parameter pairs", pair_fig))
    out.panels.append(Panel("features", f"{report.metric} and parameters by trial",
                            _pairs.loss_feature_history(report, few)))
    if with_importance:
        _importance(report, out)
    return out


def _objectives(report: Report, out: Figures) -> None:
    """Several objectives: the Pareto front and the hypervolume by trial, first on the page."""
    from hpogrid.report import _pareto

    front, front_note = _pareto.pareto_front(report)
    volume, volume_note = _pareto.hypervolume(report)
    out.notes += [n for n in (front_note, volume_note) if n]
    if front is not None:
        out.panels.append(Panel("pareto", "Pareto front", front))
    if volume is not None:
        out.panels.append(Panel("hypervolume", "Hypervolume by trial", volume))


def _importance(report: Report, out: Figures) -> None:
    from hpogrid.report import _plots
    from hpogrid.report._importance import MAX_TRIALS, importance

    cols, values = _plots.importance_columns(report, MAX_TRIALS)
    imp, why = importance(cols, values)
    if imp is None:
        out.notes.append(f"No hyperparameter importance: {why}.")
        return
    out.panels.append(Panel("importance", "Hyperparameter importance",
                            _plots.importance_bar(imp.scores, imp.r2, imp.n)))
    if imp.r2 < 0.2:
        out.notes.append(f"Hyperparameter importance is unreliable here: the forest explains little "
                         f"of the metric (held-out R² {imp.r2:.2f}).")
