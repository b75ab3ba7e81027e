"""Results evaluated elsewhere, added to a study as trials (optuna's ``add_trial`` for a file).

A file is CSV (one row per evaluation: ``param.<name>`` / ``metric.<name>`` columns as
``report --to_csv`` writes them, or plain names, which are parameters when the space has them
and metrics otherwise; optional ``state`` and ``uid``) or JSON (a list of objects with
``params``, ``metrics`` and optional ``state``/``uid``). Every row is checked - by the caller's
``check`` against the search space, here for numbers and the objectives - before anything is
written, and the rows are then written in one transaction, as trials marked
``annotations["imported"]`` (the file's name) with backend ``imported``. A row without a uid gets
one from its content, so adding the same file twice adds nothing new.
"""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Dict, List, Optional, Tuple, Union

from hpogrid.errors import ValidationError
from hpogrid.study.records import COMPLETED, STATES, StudyInfo, TrialRecord
from hpogrid.study.standing import study_objectives
from hpogrid.study.store import StudyStore
from hpogrid.study.transfer import StudyDump, WriteResult, write_study
from hpogrid.study.values import clean_json, finite_or_none, utcnow

#: ``check(params)`` -> None, or (field, message) of the first parameter that does not fit
Check = Callable[[Dict[str, Any]], Optional[Tuple[str, str]]]
BACKEND = "imported"


@dataclass(frozen=True)
class ResultRow:
    """One evaluation read from a file; ``row`` is its 1-based row (CSV: after the header)."""

    row: int
    params: Dict[str, Any]
    metrics: Dict[str, Any]
    state: str = COMPLETED
    uid: Optional[str] = None


def _cell(text: str) -> Any:
    """A CSV cell as a JSON value when it is one (numbers, true, null, lists), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def read_results(path: Union[str, Path], param_names: Collection[str]) -> List[ResultRow]:
    """The rows of a CSV or JSON results file (by its extension)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return _read_json(path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for i, raw in enumerate(rows, 1):
        params, metrics, extra = {}, {}, {}
        for col, text in raw.items():
            if col is None or text is None or text == "":
                continue  # an empty cell: that value is absent (an inactive parameter)
            col = col.strip()
            if col.startswith("param."):
                params[col[6:]] = _cell(text)
            elif col.startswith("metric."):
                metrics[col[7:]] = _cell(text)
            elif col in ("state", "uid"):
                extra[col] = text.strip()
            elif col in param_names:
                params[col] = _cell(text)
            else:
                metrics[col] = _cell(text)
        out.append(ResultRow(i, params, metrics, extra.get("state", COMPLETED), extra.get("uid")))
    return out


def _read_json(path: Path) -> List[ResultRow]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValidationError(str(path), f"not JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("trials"), list):
        data = data["trials"]
    if not isinstance(data, list):
        raise ValidationError(str(path), "expected a list of {params, metrics, state} objects")
    out = []
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise ValidationError(f"{path}: row {i}", "expected an object with params and metrics")
        unknown = sorted(set(item) - {"params", "metrics", "state", "uid"})
        if unknown:
            raise ValidationError(f"{path}: row {i}: {unknown[0]}", "unknown field (params, metrics, state, uid)")
        for key in ("params", "metrics"):
            if not isinstance(item.get(key, {}), dict):
                raise ValidationError(f"{path}: row {i}: {key}", "expected an object")
        out.append(ResultRow(i, dict(item.get("params") or {}), dict(item.get("metrics") or {}),
                             str(item.get("state", COMPLETED)), item.get("uid")))
    return out


def _uid(row: ResultRow) -> str:
    text = json.dumps([row.params, row.metrics, row.state], sort_keys=True, default=str)
    return "imported-" + hashlib.sha1(text.encode()).hexdigest()[:16]


def check_rows(path: Union[str, Path], info: StudyInfo, rows: List[ResultRow], check: Check) -> List[TrialRecord]:
    """The rows as trials of study ``info``; the first row that does not fit is a
    :class:`ValidationError` naming the file, the row and the field."""
    objectives = study_objectives(info)
    trials: List[TrialRecord] = []
    seen: Dict[str, int] = {}
    now = utcnow()
    for r in rows:
        where = f"{path}: row {r.row}"
        state = r.state.upper() if isinstance(r.state, str) else r.state
        if state not in STATES:
            raise ValidationError(f"{where}: state", f"expected one of {', '.join(STATES)}, got {r.state!r}")
        problem = check(r.params)
        if problem:
            raise ValidationError(f"{where}: {problem[0]}", problem[1])
        for name, value in r.metrics.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValidationError(f"{where}: metric.{name}", f"expected a number, got {value!r}")
        if state == COMPLETED:
            for name in objectives.missing(r.metrics):
                raise ValidationError(f"{where}: metric.{name}", "missing: a COMPLETED row needs every objective")
        uid = str(r.uid) if r.uid not in (None, "") else _uid(r)
        if uid in seen:
            raise ValidationError(f"{where}: uid", f"{uid!r} already on row {seen[uid]}")
        seen[uid] = r.row
        metrics = clean_json(r.metrics, numeric=True)
        trials.append(TrialRecord(
            study=info.name, uid=uid, number=len(trials), state=state, params=clean_json(r.params),
            metrics=metrics, value=finite_or_none(metrics.get(info.metric)), backend=BACKEND,
            annotations={"imported": Path(path).name}, created_at=now,
            finished_at=now if state != "RUNNING" and state != "PENDING" else None))
    return trials


def add_results(store: StudyStore, info: StudyInfo, path: Union[str, Path], rows: List[ResultRow],
                check: Check) -> WriteResult:
    """Check every row, then add them to study ``info.name`` of ``store`` in one transaction
    (the study is created with ``info``'s objectives when missing; rows already there by uid
    are skipped)."""
    trials = check_rows(path, info, rows, check)
    return write_study(store, StudyDump(info, tuple(trials)), info.name, merge=True)
