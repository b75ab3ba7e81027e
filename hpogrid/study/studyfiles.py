"""The study file formats, chosen by name: JSON lines (``.jsonl``, the default) or CSV (``.csv``).

Both hold the same study field for field (see :mod:`hpogrid.study.studyfile` and
:mod:`hpogrid.study.studycsv`); a file being read is recognised by its first character, so a
renamed file still reads.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from hpogrid.errors import ValidationError
from hpogrid.study import studycsv, studyfile
from hpogrid.study.transfer import StudyDump

#: format names, the default first
FORMATS = ("jsonl", "csv")


def format_of(path: Union[str, Path], fmt: Optional[str] = None) -> str:
    """``fmt`` when given, else ``csv`` for a ``.csv`` file and ``jsonl`` otherwise."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValidationError("--format", f"expected one of {', '.join(FORMATS)}, got {fmt!r}")
        return fmt
    return "csv" if Path(path).suffix.lower() == ".csv" else "jsonl"


def write(dump: StudyDump, path: Union[str, Path], fmt: Optional[str] = None) -> Path:
    """Write ``dump`` to ``path`` in format ``fmt`` (default: by the file's suffix)."""
    if format_of(path, fmt) == "csv":
        return studycsv.write_csv(dump, path)
    return studyfile.write_file(dump, path)


def read(path: Union[str, Path]) -> StudyDump:
    """The study in file ``path``, JSON lines (first character ``{``) or CSV."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(4096).lstrip("\ufeff \t\r\n")[:1]
        return studyfile.read_file(path) if head == "{" else studycsv.read_csv(path)
    except UnicodeDecodeError as exc:
        raise ValidationError(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ValidationError(str(path), f"cannot read: {exc.strerror}") from None
