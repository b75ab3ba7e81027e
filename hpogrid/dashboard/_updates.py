"""The dashboard's cheap answers on a big study: a first page before the full snapshot, and
updates carrying only the trials written since the page's last poll.

A full snapshot reads and decodes every trial and draws every figure: seconds on a study of
100,000 trials. The page's first answer therefore may be *partial* (counts, the best trial,
the best rows: a few indexed queries) while the full one is built, and each later poll asks
``since`` its cursor: the trials created, finished or heartbeat since then (every store write
refreshes the heartbeat), as table rows the page merges by trial number, with the counts and
the best trial. Figures, ranks and the failed-trial details follow with the next full
snapshot, rebuilt in the background at most every few times its own cost.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

#: a poll re-reads trials written this long before its cursor: a writer's clock a little
#: behind ours, or a transaction committed just after our read, is not missed (the page merges
#: a trial sent twice)
MARGIN_S = 5.0
#: a study of more trials than this gets a partial first page (a full read of this many: well
#: under a second)
PARTIAL_ABOVE = 5000
#: rows of the partial first page (best first)
PARTIAL_ROWS = 200


def now() -> datetime:
    return datetime.now(timezone.utc)


def cursor_text(at: datetime) -> str:
    return at.isoformat()


def parse_cursor(text: str) -> Optional[datetime]:
    try:
        at = datetime.fromisoformat(text.replace(" ", "+"))  # (a '+' not escaped in a URL reads as a space)
    except (TypeError, ValueError):
        return None
    return at if at.tzinfo is not None else None


def open_store(source):
    """(store, study info) of the source's study, read only."""
    from hpogrid.settings import Settings
    from hpogrid.study import StudyTarget

    target = StudyTarget.existing(source.project, source.study, source.study_url, Settings.from_env())
    return target.open_read_only()


def _value(t, metric: str) -> Optional[float]:
    from hpogrid.study.view import flatten

    value = t.metrics.get(metric)
    if value is None and "." in metric:
        value = flatten(t.metrics, "").get(metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _best(store, info) -> Optional[Dict[str, Any]]:
    from hpogrid.dashboard._rows import _cell

    best = store.best_trial(info.name)
    return None if best is None else {"number": best.number, "value": best.value,
                                      "params": {k: _cell(v) for k, v in best.params.items()}}


def delta(store, info, report, last: Dict[str, Any], since: datetime) -> Dict[str, Any]:
    """The trials of ``info`` written since ``since`` as rows in ``report``'s columns (ranks
    and Pareto marks come with the next full snapshot), with the counts and the best trial."""
    from hpogrid.dashboard._rows import _YES, _row
    from hpogrid.study.standing import feasibility

    started = now()
    changed = store.trials(info.name, changed_since=since - timedelta(seconds=MARGIN_S))
    rows = [_row(report, t, _value(t, report.metric), None,
                 [None, _YES[feasibility(report.objectives, t)]] if report.marked else [])
            for t in changed]
    # the cells a delta cannot know (rank; Pareto mark): the page keeps what it shows there
    unknown = [0] + ([4 + len(report.objective_columns)] if report.marked else [])
    counts = {str(k): v for k, v in store.counts(info.name).items()}
    best = last.get("best") if report.pareto_view else _best(store, info)
    return {"delta": True, "fingerprint": last["fingerprint"], "cursor": cursor_text(started),
            "generated_at": started.isoformat(timespec="seconds"), "counts": counts, "best": best,
            "rows": rows, "unknown": unknown, "total": sum(counts.values())}


def partial(store, info, source) -> Dict[str, Any]:
    """The first page of a study whose full snapshot is still being built."""
    from hpogrid.study.standing import study_objectives

    started = now()
    objectives = study_objectives(info)
    counts = {str(k): v for k, v in store.counts(info.name).items()}
    total = sum(counts.values())
    rows: List[List[Any]] = [[i + 1, t.number, t.shown_state, t.value]
                             for i, t in enumerate(store.ranked(info.name, PARTIAL_ROWS))]
    return {"partial": True, "fingerprint": "partial", "cursor": cursor_text(started),
            "generated_at": started.isoformat(timespec="seconds"), "project": source.project,
            "study": info.name, "store": store.url, "metric": info.metric, "mode": info.mode,
            "counts": counts, "best": None if objectives.is_multi else _best(store, info),
            "objectives": objectives.describe(), "constraints": [str(c) for c in objectives.constraints],
            "infeasible": None, "pareto_front": None,
            "table": {"columns": ["rank", "trial", "state", info.metric], "rows": rows, "shown": len(rows),
                      "total": total},
            "failed": [], "grid": None, "artifacts": [], "panels": [], "figures": {},
            "notes": [f"Reading all {total:,} trials and drawing the figures: the full page follows "
                      "by itself (the table shows the best trials meanwhile)."]}
