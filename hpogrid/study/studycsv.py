"""A study as one CSV file: a JSON header cell, a row of column names, then one row per trial.

    "# {""hpogrid_study"": 1, ""name"": ""mnist"", ..., ""columns"": {""uid"": ""str"", ""param.lr"": ""float"", ...}}"
    uid,number,state,value,param.lr,param.act,metric.loss,...,intermediate,error,...,created_at,...
    ray-0001,0,COMPLETED,0.25,0.001,relu,0.25,...,"[{""loss"": 0.5}, ...]",,...,2026-01-02T03:04:05.123456+00:00,...

What a spreadsheet needs is one row per trial with a column per parameter (``param.<name>``)
and per metric (``metric.<name>``); what an exact round trip needs (the JSON-lines file of
:mod:`hpogrid.study.studyfile` holds the same) travels in the first row, a single cell holding
``#`` and the JSON header: the study, its objectives and attributes, and each column's type.
A column is ``int``, ``float`` (``repr``, so every bit comes back; ``nan``, ``inf``),
``bool`` (``true``/``false``), ``str`` (never empty) or, when its values are of several
types, empty strings, nulls or lists and objects (per-iteration values, annotations),
``json``. An empty cell is a parameter or metric the trial does not have (a parameter whose
condition did not hold), or a field that is null. Every cell goes through
:func:`hpogrid.csvtext.neutralise`, so no text a trial carries runs as a formula, and back
through :func:`hpogrid.csvtext.restore`.
"""
from __future__ import annotations

import csv
import json
from contextlib import contextmanager
from itertools import zip_longest
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple, Union

from hpogrid.csvtext import neutralise, restore
from hpogrid.errors import ValidationError
from hpogrid.jsontext import MAX_BYTES
from hpogrid.study.records import TrialRecord
from hpogrid.study.studyfile import collect, header_info, header_object, replace_file, trial_info, trial_object
from hpogrid.study.transfer import TRIAL_COLUMNS, StudyDump
from hpogrid.study.values import encode_nonfinite

#: the spread-out documents and the prefix of their columns
SPREAD = {"params": "param.", "metrics": "metric."}
TYPES = ("int", "float", "bool", "str", "json")
_FIRST = tuple(k for k in ("uid", "number", "state", "value") if k in TRIAL_COLUMNS)
_REST = tuple(k for k in TRIAL_COLUMNS if k not in _FIRST and k not in SPREAD)
_MARK = "#"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    for cls, name in ((int, "int"), (float, "float"), (str, "str")):
        if isinstance(value, cls):
            return name
    return "json"


def column_type(values: List[Any]) -> str:
    """The type of a column holding ``values`` (absent cells left out)."""
    kinds = {_kind(v) for v in values}
    if not kinds:
        return "str"
    kind = kinds.pop() if len(kinds) == 1 else "json"
    return "json" if kind == "str" and "" in values else kind


def encode(value: Any, kind: str) -> str:
    if kind == "float":
        return repr(float(value))
    if kind == "bool":
        return "true" if value else "false"
    if kind == "json":
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def decode(text: str, kind: str) -> Any:
    """The value of a (restored, non-empty) cell of a column of type ``kind``; ValueError
    saying what was expected otherwise."""
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        if text not in ("true", "false"):
            raise ValueError(f"expected true or false, got {text!r}")
        return text == "true"
    if kind == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not JSON ({exc})") from None
    return text


def _columns(dump: StudyDump) -> Dict[str, str]:
    """Column name -> type, in file order."""
    lines = [trial_object(t) for t in dump.trials]
    cols: Dict[str, str] = {k: column_type([ln[k] for ln in lines if ln[k] is not None]) for k in _FIRST}
    for field, prefix in SPREAD.items():
        keys: Dict[str, None] = {}
        for ln in lines:
            keys.update(dict.fromkeys(ln[field]))
        for key in keys:
            cols[prefix + key] = column_type([ln[field][key] for ln in lines if key in ln[field]])
    cols.update({k: column_type([ln[k] for ln in lines if ln[k] is not None]) for k in _REST})
    return cols


def rows(dump: StudyDump) -> Iterator[List[str]]:
    """The file's rows of cells, the header cell first."""
    cols = _columns(dump)
    header = {**header_object(dump), "columns": cols}
    yield [f"{_MARK} {json.dumps(encode_nonfinite(header), ensure_ascii=False, allow_nan=False)}"]
    yield [neutralise(c) for c in cols]
    for t in dump.trials:
        line = trial_object(t)
        out = []
        for col, kind in cols.items():
            field, dot, key = col.partition(".")
            if dot:
                doc = line[field + "s"]
                present, value = key in doc, doc.get(key)
            else:
                value = line[col]
                present = value is not None
            out.append(neutralise(encode(value, kind)) if present else "")
        yield out


def write_csv(dump: StudyDump, path: Union[str, Path]) -> Path:
    """Write ``dump`` to ``path`` as CSV (replaced whole, never left half-written)."""
    def write(fh) -> None:
        csv.writer(fh).writerows(rows(dump))  # RFC 4180: CRLF, and a lone \r is quoted

    return replace_file(path, write)


@contextmanager
def _field_limit(size: int):
    """CSV cells up to ``size`` characters (per-iteration values are long; the default is 128 KiB)."""
    old = csv.field_size_limit(size)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _records(path: Path) -> Iterator[Tuple[int, List[str]]]:
    """(first line, cells) of each non-blank record (a byte-order mark, which spreadsheets
    write, is skipped)."""
    out = []
    with open(path, encoding="utf-8-sig", newline="") as fh, _field_limit(MAX_BYTES):
        reader = csv.reader(fh, strict=True)
        start = 1
        try:
            for cells in reader:
                if any(cells):
                    out.append((start, cells))
                start = reader.line_num + 1
        except csv.Error as exc:
            raise ValidationError(f"{path}: line {reader.line_num}", f"not CSV ({exc})") from None
    return iter(out)


def _header(path: Path, no: int, cells: List[str]) -> Tuple[Any, Dict[str, str]]:
    where = f"{path}: line {no}"
    text = cells[0] if len(cells) == 1 else ""
    if not text.startswith(_MARK):
        raise ValidationError(where, f"expected one cell holding '{_MARK}' and the JSON header of an hpogrid "
                                     "study file")
    try:
        obj = json.loads(text[len(_MARK):])
    except ValueError as exc:
        raise ValidationError(where, f"header is not JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise ValidationError(where, "header: expected a JSON object")
    cols = obj.pop("columns", None)
    info = header_info(where, obj)
    if not isinstance(cols, dict) or not cols:
        raise ValidationError(f"{where}: columns", "expected an object of column name -> type")
    for col, kind in cols.items():
        field, dot, _ = col.partition(".")
        if kind not in TYPES:
            raise ValidationError(f"{where}: columns: {col}", f"expected a type among {', '.join(TYPES)}, got {kind!r}")
        if (field + "s" not in SPREAD) if dot else (col not in _FIRST + _REST):
            raise ValidationError(f"{where}: columns: {col}", "unknown column: expected a trial field, "
                                                              "param.<name> or metric.<name>")
    for required in ("uid", "number", "state", "created_at"):
        if required not in cols:
            raise ValidationError(f"{where}: columns: {required}", "missing")
    return info, cols


def read_csv(path: Union[str, Path]) -> StudyDump:
    """The study in CSV file ``path``; :class:`ValidationError` naming the line and column of
    the first problem."""
    path = Path(path)
    records = _records(path)
    first = next(records, None)
    if first is None:
        raise ValidationError(str(path), "empty file: expected a header, the column names and one row per trial")
    info, cols = _header(path, *first)
    names = next(records, None)
    if names is None:
        raise ValidationError(f"{path}: line {first[0] + 1}", "missing the row of column names")
    for i, (want, have) in enumerate(zip_longest(cols, (restore(c) for c in names[1])), 1):
        if want != have:
            raise ValidationError(f"{path}: line {names[0]}: column {i}",
                                  f"expected {want!r} as the JSON header says, got {have!r}")
    return collect(path, info, ((no, _trial(path, no, cells, cols, info.name)) for no, cells in records))


def _trial(path: Path, no: int, cells: List[str], cols: Dict[str, str], study: str) -> TrialRecord:
    where = f"{path}: line {no}"
    if len(cells) != len(cols):
        raise ValidationError(where, f"expected {len(cols)} cells as in the column names, got {len(cells)}")
    obj: Dict[str, Any] = {"params": {}, "metrics": {}}
    for (col, kind), cell in zip(cols.items(), cells):
        if cell == "":
            continue
        try:
            value = decode(restore(cell), kind)
        except ValueError as exc:
            raise ValidationError(f"{where}: {col}", f"expected a {kind} value: {exc}") from None
        field, dot, key = col.partition(".")
        if dot:
            obj[field + "s"][key] = value
        else:
            obj[col] = value
    return trial_info(where, obj, study)
