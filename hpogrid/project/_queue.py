"""Points a user asks to be evaluated first: ``hpogrid enqueue PROJECT POINTS``.

The current production tuning, a colleague's best: each point names a value for every
parameter of the project's search space (checked here, one line naming the point and the
parameter otherwise); a conditional parameter whose condition does not hold for the point may
be omitted, and is dropped if given (the model never sees it). Points come as JSON, YAML or
CSV (an empty cell: no value). They wait in ``projects/NAME/enqueued.json`` until the next run of the
project takes them all (:func:`take_enqueued`): that run evaluates them before its searcher
proposes anything, and they count towards its trials.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from hpogrid.errors import ValidationError
from hpogrid.fileio import dump_json, write_atomic

if TYPE_CHECKING:
    from hpogrid.project._project import Project

QUEUE_FILE = "enqueued.json"


def _queue(project_path: Path) -> Path:
    return Path(project_path) / QUEUE_FILE


def read_points(text: str, field: str, csv_text: bool = False, yaml_source: Optional[str] = None
                ) -> List[Dict[str, Any]]:
    """Points from JSON (an object or a list of objects), the same as YAML (``yaml_source``:
    the file's name) or CSV (a header of parameter names; each cell read as JSON where it is
    JSON, else as a string; an empty cell gives the parameter no value)."""
    if csv_text:
        return _csv_points(text, field)
    if yaml_source is not None:
        from hpogrid.yamltext import loads as yaml_loads

        data = yaml_loads(text, field, source=yaml_source)
    else:
        from hpogrid.jsontext import loads

        data = loads(text, field)
    points = [data] if isinstance(data, dict) else data
    if not isinstance(points, list) or not points or not all(isinstance(p, dict) for p in points):
        raise ValidationError(field, "expected a JSON object {\"name\": value, ...} or a list of them")
    return points


def _csv_points(text: str, field: str) -> List[Dict[str, Any]]:
    """The points of a CSV text: every row has one cell per column of the header (an empty
    cell: no value); a short or long row, a duplicate or unnamed column is one line naming it."""
    no_rows = "the CSV has no rows (a header of parameter names, then one row per point)"
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        if not header:
            raise ValidationError(field, no_rows)
        for i, name in enumerate(header):
            if not name.strip():
                raise ValidationError(field, f"column {i + 1} of the CSV header has no name")
            if name in header[:i]:
                raise ValidationError(field, f"the CSV header names column {name!r} twice (columns "
                                             f"{header.index(name) + 1} and {i + 1})")
        points: List[Dict[str, Any]] = []
        for row in reader:
            if not row:  # a blank line
                continue
            if len(row) != len(header):
                where = f"CSV row {len(points) + 1} (line {reader.line_num})"
                if len(row) < len(header):
                    raise ValidationError(field, f"{where} has no cell for column {header[len(row)]!r} ({len(row)} "
                                                 f"of {len(header)} cells); leave a cell empty for no value")
                raise ValidationError(field, f"{where} has {len(row)} cells; the header names {len(header)} "
                                             "columns")
            points.append({k: _cell(v) for k, v in zip(header, row) if v != ""})
    except csv.Error as exc:
        raise ValidationError(field, f"invalid CSV (line {reader.line_num}): {exc}") from None
    if not points:
        raise ValidationError(field, no_rows)
    return points


def _cell(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than JSON is read: the text
        return text


def check_points(points: List[Dict[str, Any]], search_space: Optional[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Every point gives every parameter active for it a value its method can produce (an integer for a
    real-valued parameter, an integral float for an integer one, taken as the parameter's own
    type); returns the points in that type, without their inactive parameters (a project without
    a search space, whose model defines its parameters as it runs, checks values then: a value
    that does not fit what the model asks for is not used)."""
    from hpogrid.space import SearchSpace

    if not search_space:
        return [dict(p) for p in points]
    space = SearchSpace.from_dict(search_space)
    out = []
    for i, point in enumerate(points):
        where = f"points[{i}]"
        point = {name: space[name].coerce(value) if name in space else value for name, value in point.items()}
        unknown = [k for k in point if k not in space]
        if unknown:
            raise ValidationError(f"{where}.{unknown[0]}", f"not a parameter of the search space "
                                                           f"({', '.join(space)})")
        for name, value in point.items():
            if not space[name].contains(value):
                raise ValidationError(f"{where}.{name}", f"{_short(value)} is not a value of {space[name].method} "
                                                         f"{json.dumps(space[name].to_dict()['dimension'])}")
        active = space.active(point)
        missing = [n for n in active if n not in point]
        if missing:
            why = "a point names a value for every parameter" if not space.when(missing[0]) else \
                "its condition holds for this point (" + ", ".join(
                    f"{p}={point[p]!r}" for p in space.when(missing[0])) + ")"
            raise ValidationError(f"{where}.{missing[0]}", f"missing: {why}")
        broken = space.violated(point)
        if broken:
            raise ValidationError(f"{where}", f"breaks search_space constraint {broken[0].text!r}")
        out.append({n: point[n] for n in point if n in active})
    return out


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def enqueue(project: Project, points: List[Dict[str, Any]]) -> int:
    """Add ``points`` (checked) to the project's queue; returns how many wait now."""
    from filelock import FileLock

    points = check_points(points, project.search_space)
    path = _queue(project.path)
    with FileLock(str(path) + ".lock", timeout=30):
        waiting = enqueued(project.path) + points
        write_atomic(path, dump_json(waiting))
    return len(waiting)


def enqueued(project_path: Path) -> List[Dict[str, Any]]:
    path = _queue(project_path)
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationError(str(path), f"cannot read the enqueued points ({exc}); remove the file") from None
    return data if isinstance(data, list) else []


def take_enqueued(project_path: Path) -> List[Dict[str, Any]]:
    """All waiting points, removed from the queue (a run takes them)."""
    from filelock import FileLock

    path = _queue(project_path)
    if not path.is_file():
        return []
    with FileLock(str(path) + ".lock", timeout=30):
        points = enqueued(project_path)
        path.unlink(missing_ok=True)
    return points
