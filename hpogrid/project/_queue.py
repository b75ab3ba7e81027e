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
        rows = list(csv.DictReader(io.StringIO(text)))
        if not rows:
            raise ValidationError(field, "the CSV has no rows (a header of parameter names, then one row per point)")
        return [{k: _cell(v) for k, v in row.items() if v != ""} for row in rows]
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


def _cell(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def check_points(points: List[Dict[str, Any]], search_space: Optional[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Every point gives every parameter active for it a value its method can produce; returns
    the points without their inactive parameters (a project without a search space, whose
    model defines its parameters as it runs, checks values then: a value that does not fit
    what the model asks for is not used)."""
    from hpogrid.space import SearchSpace

    if not search_space:
        return [dict(p) for p in points]
    space = SearchSpace.from_dict(search_space)
    out = []
    for i, point in enumerate(points):
        where = f"points[{i}]"
        unknown = [k for k in point if k not in space]
        if unknown:
            raise ValidationError(f"{where}.{unknown[0]}", f"not a parameter of the search space "
                                                           f"({', '.join(space)})")
        for name, value in point.items():
            if not space[name].contains(value):
                raise ValidationError(f"{where}.{name}", f"{value!r} is not a value of {space[name].method} "
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
