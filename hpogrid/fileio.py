"""Atomic, crash-safe file writes: readers see the old file or the new one, never a part."""
import json
import os
from pathlib import Path
from typing import Any

from hpogrid.errors import AlreadyExistsError


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_atomic(path: Path, text: str, exclusive: bool = False) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder.

    ``exclusive=True`` publishes with ``os.link``, which fails if ``path`` exists, so of two
    concurrent creators exactly one wins (the other gets :class:`AlreadyExistsError`).
    """
    import tempfile  # here, not at module level: read-only commands start ~4 ms faster

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise AlreadyExistsError(f"{path.name} already exists") from None
        else:
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
