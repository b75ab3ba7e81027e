"""Learning curves: the study metric per ``training_iteration`` of each trial.

The per-iteration results live in the ``intermediate`` column, which :mod:`._source` leaves
in the database because a table never shows them and they are most of a study's bytes. So
curves are read here, for the trials a plot draws only (:func:`pick`): the best few, every
trial that did not complete normally (so pruned, failed and interrupted runs stay visible)
and a seeded sample of the rest, at most :data:`MAX_CURVES` in all.

"Stopped early" has no state of its own in the study: a scheduler (ASHA, median stopping)
ends a trial as COMPLETED after fewer iterations than its peers. A completed curve shorter
than the longest one is drawn as stopped early, which is what a user looks for.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from hpogrid.report._frame import Report
from hpogrid.study import COMPLETED

#: curves drawn at most, and of those the best ones always drawn and highlighted
MAX_CURVES = 200
BEST_CURVES = 5
#: points of one curve at most (longer ones are thinned evenly, the last point kept)
MAX_CURVE_POINTS = 300
#: uids per SELECT (well under every database's bound-parameter limit)
_CHUNK = 500


@dataclass(frozen=True)
class Curve:
    """One trial's metric by iteration: ``points`` are (training_iteration, value)."""

    uid: str
    number: int
    state: str
    rank: Optional[int]  # 1 = best; None for a trial without a final value
    points: Tuple[Tuple[float, float], ...]


def pick(report: Report, max_curves: int = MAX_CURVES, best: int = BEST_CURVES, seed: int = 0) -> List[int]:
    """Indices into ``report.trials`` whose curves to draw (see the module docstring)."""
    n = len(report.trials)
    head = list(range(min(best, report.ranked)))
    odd = [i for i in range(report.ranked, n)]  # not COMPLETED with a value: failed, running, ...
    rest = list(range(len(head), report.ranked))
    room = max(0, max_curves - len(head))
    odd = odd[:room]
    room -= len(odd)
    if len(rest) > room:
        rest = sorted(random.Random(seed).sample(rest, room))
    return head + rest + odd


def points(history: Sequence[dict], metric: str) -> Tuple[Tuple[float, float], ...]:
    """(iteration, value) of the finite numeric ``metric`` values in ``history``; the
    iteration is ``training_iteration`` where reported, else the 1-based position."""
    out = []
    for pos, item in enumerate(history or (), start=1):
        if not isinstance(item, dict):
            continue
        value = item.get(metric)
        step = item.get("training_iteration", pos)
        if _finite(value) and _finite(step):
            out.append((float(step), float(value)))
    if len(out) > MAX_CURVE_POINTS:
        stride = len(out) / MAX_CURVE_POINTS
        out = [out[int(k * stride)] for k in range(MAX_CURVE_POINTS - 1)] + [out[-1]]
    return tuple(out)


def _finite(x) -> bool:
    import math

    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def read_curves(report: Report, idx: Optional[Sequence[int]] = None) -> List[Curve]:
    """The curves of ``report.trials[i]`` for ``i`` in ``idx`` (default :func:`pick`), read
    from the study store; trials without any value of the metric are left out."""
    idx = pick(report) if idx is None else list(idx)
    if not idx or not report.url:
        return []
    wanted = {report.trials[i].uid: i for i in idx}
    histories = _read_histories(report.url, report.study, list(wanted))
    curves = []
    for uid, i in wanted.items():
        pts = points(histories.get(uid) or [], report.metric)
        if pts:
            t = report.trials[i]
            curves.append(Curve(uid, t.number, str(t.state), i + 1 if i < report.ranked else None, pts))
    return curves


def _read_histories(url: str, study: str, uids: List[str]) -> Dict[str, list]:
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from hpogrid.errors import StudyError
    from hpogrid.study import StudyStore
    from hpogrid.study.engine import create_store_engine, first_line, parse_url, sqlite_file
    from hpogrid.study.schema import StudyRow, TrialRow

    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite" and sqlite_file(parsed) is None:  # in-memory
        store = StudyStore(url, access="read")
        try:
            return {t.uid: t.intermediate for t in store.trials(study) if t.uid in set(uids)}
        finally:
            store.close()
    trials, studies = TrialRow.__table__, StudyRow.__table__
    engine = create_store_engine(parsed, "read")
    out: Dict[str, list] = {}
    try:
        with engine.connect() as conn:
            sid = conn.execute(select(studies.c.id).where(studies.c.name == study)).scalar()
            for k in range(0, len(uids), _CHUNK):
                chunk = uids[k:k + _CHUNK]
                query = select(trials.c.uid, trials.c.intermediate).where(
                    trials.c.study_id == sid, trials.c.uid.in_(chunk))
                out.update({uid: hist for uid, hist in conn.execute(query)})
    except SQLAlchemyError as exc:
        raise StudyError(f"read learning curves failed: {first_line(exc)}") from None
    finally:
        engine.dispose()
    return out


def is_short(curve: Curve, longest: float) -> bool:
    """A COMPLETED curve that ended before the longest one: stopped early by a scheduler."""
    return curve.state == COMPLETED and curve.points[-1][0] < longest


#: colours of the highlighted best curves (plotly's default sequence)
_BEST_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#bcbd22")  # no orange/red
#: how each kind of curve is drawn: legend name, line style
_STYLES = {
    "completed": ("completed", {"color": "rgba(120,120,120,0.35)", "width": 1}),
    "stopped": ("stopped early", {"color": "rgba(120,120,120,0.6)", "width": 1, "dash": "dot"}),
    "failed": ("failed / interrupted", {"color": "rgba(214,39,40,0.8)", "width": 1.5, "dash": "dash"}),
    "running": ("running", {"color": "rgba(255,127,14,0.9)", "width": 1.5}),
}


def _kind(curve: Curve, longest: float, best: int) -> str:
    if curve.rank is not None and curve.rank <= best:
        return "best"
    if curve.state in ("FAILED", "INTERRUPTED"):
        return "failed"
    if curve.state in ("RUNNING", "PENDING"):
        return "running"
    return "stopped" if is_short(curve, longest) else "completed"


def learning_curves(report: Report, curves: Sequence[Curve], best: int = BEST_CURVES) -> Optional[dict]:
    """The metric by ``training_iteration``, one line per trial: the ``best`` ranked trials in
    colour on top, the others grey; stopped-early (dotted), failed or interrupted (dashed,
    red) and running (orange) trials end in a marker. ``None`` when no trial has a curve."""
    from hpogrid.report._plots import esc

    if not curves:
        return None
    longest = max((c.points[-1][0] for c in curves if c.state == COMPLETED), default=float("inf"))
    order = {"completed": 0, "stopped": 1, "running": 2, "failed": 3, "best": 4}
    kinds = [(c, _kind(c, longest, best)) for c in curves]
    kinds.sort(key=lambda ck: (order[ck[1]], -(ck[0].rank or 0)))  # best drawn last, #1 on top
    data, shown = [], set()
    for c, kind in kinds:
        xs, ys = [p[0] for p in c.points], [float(f"{p[1]:.6g}") for p in c.points]
        what = f"trial {c.number} ({c.state.lower()}" + (f", rank {c.rank})" if c.rank else ")")
        trace = {"type": "scatter", "mode": "lines", "x": xs, "y": ys, "name": esc(what),
                 "hovertemplate": esc(what) + "<br>iteration %{x}<br>%{y}<extra></extra>"}
        if kind == "best":
            trace.update(line={"color": _BEST_COLOURS[(c.rank - 1) % len(_BEST_COLOURS)], "width": 3},
                         name=esc(f"#{c.rank}: trial {c.number}"), legendgroup=f"best{c.rank}")
        else:
            name, line = _STYLES[kind]
            trace.update(line=line, legendgroup=kind, name=name, showlegend=kind not in shown)
            if kind != "completed":
                trace.update(mode="lines+markers", marker={"size": [0] * (len(xs) - 1) + [8],
                                                           "symbol": "x", "color": line["color"]})
            shown.add(kind)
        data.append(trace)
    layout = {"title": {"text": esc(f"{report.metric} by training iteration ({report.mode}; "
                                    f"best {min(best, report.ranked)} in colour)")},
              "xaxis": {"title": {"text": "training_iteration"}},
              "yaxis": {"title": {"text": esc(report.metric)}},
              "height": 460, "margin": {"t": 60}, "hovermode": "closest"}
    return {"data": data, "layout": layout}
