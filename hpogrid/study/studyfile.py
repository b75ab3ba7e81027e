"""A study as one file of JSON lines: a header line, then one line per trial.

    {"hpogrid_study": 1, "name": "mnist", "metric": "loss", "mode": "min", "attrs": {...}, "created_at": "...", "trials": 2}
    {"uid": "ray-0001", "number": 0, "state": "COMPLETED", "params": {...}, "metrics": {...}, ...}

Every stored field is written, datetimes as ISO 8601 UTC with microseconds and non-finite
numbers as the store's own ``"NaN"``/``"Infinity"`` markers, so reading the file back gives the
same study, field for field. A file is checked whole before anything is written: a bad line
is one error naming the file, the line and the field.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, TextIO, Tuple, Union

from hpogrid.errors import ValidationError
from hpogrid.study.records import StudyInfo, TrialRecord
from hpogrid.study.store import _check_fields, _check_metric, _check_mode, _check_uid
from hpogrid.study.transfer import TRIAL_COLUMNS, StudyDump
from hpogrid.study.values import decode_nonfinite, encode_nonfinite

#: format version written in the header line
FORMAT_VERSION = 1
HEADER_KEY = "hpogrid_study"
_DATETIMES = ("created_at", "started_at", "finished_at", "heartbeat_at")
_STORE_FIELDS = tuple(k for k in TRIAL_COLUMNS if k not in ("uid", "number"))


def _time(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def header_object(dump: StudyDump) -> Dict[str, Any]:
    """The header line's fields (the study, its objectives, attributes and trial count)."""
    info = dump.info
    return {HEADER_KEY: FORMAT_VERSION, "name": info.name, "metric": info.metric, "mode": info.mode,
            "attrs": info.attrs, "created_at": _time(info.created_at), "trials": len(dump.trials)}


def trial_object(t: TrialRecord) -> Dict[str, Any]:
    """One trial's fields as JSON values (datetimes as ISO text, the state as its name)."""
    line = {k: _time(getattr(t, k)) for k in TRIAL_COLUMNS}
    line["state"] = str(t.state)
    return line


def dump_lines(dump: StudyDump) -> Iterator[str]:
    """The file's lines (without newlines)."""
    yield json.dumps(encode_nonfinite(header_object(dump)), ensure_ascii=False, allow_nan=False)
    for t in dump.trials:
        yield json.dumps(encode_nonfinite(trial_object(t)), ensure_ascii=False, allow_nan=False)


def replace_file(path: Union[str, Path], write: Callable[[TextIO], None]) -> Path:
    """Write ``path`` through ``write(fh)`` into a temporary file renamed over it at the end:
    a partial file is never left under that name."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.part")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            write(fh)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_file(dump: StudyDump, path: Union[str, Path]) -> Path:
    """Write ``dump`` to ``path`` (replaced whole: a partial file is never left under that name)."""
    def write(fh: TextIO) -> None:
        for line in dump_lines(dump):
            fh.write(line + "\n")

    return replace_file(path, write)


def read_file(path: Union[str, Path]) -> StudyDump:
    """The study in file ``path``; :class:`ValidationError` naming the line and field of the
    first problem."""
    path = Path(path)
    with open(path, encoding="utf-8-sig") as fh:  # an editor's byte-order mark is skipped
        lines = [(i, ln) for i, ln in enumerate(fh, 1) if ln.strip()]
    if not lines:
        raise ValidationError(str(path), "empty file: expected a header line and one line per trial")
    no, text = lines[0]
    info = header_info(f"{path}: line {no}", _object(path, no, text))
    return collect(path, info, ((no, trial_info(f"{path}: line {no}", _object(path, no, text), info.name))
                                for no, text in lines[1:]))


def collect(path: Path, info: StudyInfo, trials: Iterable[Tuple[int, TrialRecord]]) -> StudyDump:
    """The study of ``info`` with ``trials`` (line, trial) by number; a uid or number given
    twice is an error naming both lines."""
    out: List[TrialRecord] = []
    uids: Dict[Any, int] = {}
    numbers: Dict[Any, int] = {}
    for no, trial in trials:
        for seen, key, field in ((uids, trial.uid, "uid"), (numbers, trial.number, "number")):
            if key in seen:
                raise ValidationError(f"{path}: line {no}: {field}", f"{key!r} already on line {seen[key]}")
            seen[key] = no
        out.append(trial)
    return StudyDump(info, tuple(sorted(out, key=lambda t: t.number)))


def _object(path: Path, no: int, text: str) -> dict:
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"{path}: line {no}", f"not JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise ValidationError(f"{path}: line {no}", "expected a JSON object")
    return obj


def header_info(where: str, obj: dict, extra: Tuple[str, ...] = ()) -> StudyInfo:
    """The study a header object describes (``extra``: further keys a format allows)."""
    if obj.get(HEADER_KEY) != FORMAT_VERSION:
        raise ValidationError(f"{where}: {HEADER_KEY}",
                              f"expected the header of an hpogrid study file (version {FORMAT_VERSION})")
    unknown = sorted(set(obj) - {HEADER_KEY, "name", "metric", "mode", "attrs", "created_at", "trials", *extra})
    if unknown:
        raise ValidationError(f"{where}: {unknown[0]}", "unknown field")
    try:
        from hpogrid.names import check_name

        name = check_name(obj.get("name"), "name")
        metric, mode = _check_metric(obj.get("metric")), _check_mode(obj.get("mode"))
        attrs = obj.get("attrs") or {}
        if not isinstance(attrs, dict):
            raise ValidationError("attrs", "expected an object")
        created = _parse_time(obj.get("created_at"), "created_at")
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc.field}", exc.message) from None
    return StudyInfo(id=0, name=name, metric=metric, mode=mode, attrs=attrs, created_at=created)


def _parse_time(value: Any, field: str):
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(field, f"expected an ISO 8601 time, got {value!r}")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(field, f"expected an ISO 8601 time, got {value!r}") from None
    if dt.tzinfo is None:
        raise ValidationError(field, f"needs a time zone (e.g. +00:00), got {value!r}")
    return dt


def trial_info(where: str, obj: dict, study: str) -> TrialRecord:
    """The trial of study ``study`` a trial object describes, checked as the store checks it."""
    unknown = sorted(set(obj) - set(TRIAL_COLUMNS))
    if unknown:
        raise ValidationError(f"{where}: {unknown[0]}", "unknown field")
    for required in ("uid", "number", "state"):
        if required not in obj:
            raise ValidationError(f"{where}: {required}", "missing")
    try:
        uid = _check_uid(obj["uid"])
        number = obj["number"]
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValidationError("number", f"expected an integer >= 0, got {number!r}")
        fields = {k: obj[k] for k in _STORE_FIELDS if k in obj}
        for key in _DATETIMES:
            if key in fields:
                fields[key] = _parse_time(fields[key], key)
        for key in ("metrics", "intermediate"):
            if key in fields:
                fields[key] = decode_nonfinite(fields[key])
        if fields.get("created_at") is None:
            raise ValidationError("created_at", "missing")
        values = _check_fields(fields)
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc.field}", exc.message) from None
    values.setdefault("value", None)
    return TrialRecord(study=study, uid=uid, number=number, **values)
