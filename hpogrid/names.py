"""Validation of names that end up in file paths (configs, projects, studies, outputs)."""
import re
from typing import Iterable

from hpogrid.errors import InvalidNameError

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def check_name(name: object, field: str = "name") -> str:
    """Return ``name`` if it is safe as a single path component, else raise.

    Allowed: letters, digits, ``_``, ``.`` and ``-``, 1 to 128 characters, not starting with
    ``.`` or ``-`` (so no ``..``, hidden files or option look-alikes), no ``/`` or NUL.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidNameError(
            field,
            f"invalid name {name!r}: use 1-128 letters, digits, '_', '.' or '-', "
            "not starting with '.' or '-'",
        )
    return name


def check_no_case_twin(name: str, existing: Iterable[str], field: str = "name") -> None:
    """A new ``name`` must not differ from an existing one only by case: on a case-insensitive
    file system (macOS, Windows, many shared disks) both are one file, and one overwrites the other."""
    for other in existing:
        if other != name and other.casefold() == name.casefold():
            raise InvalidNameError(field, f"{name!r} differs from the existing {other!r} only by case (on a "
                                          "case-insensitive file system they are one file); choose another name")
