"""NamedStore: the named JSON configs of one type under the store root.

Writes go through a temp file and ``os.replace``/``os.link``; read-modify-write actions
(update) hold a per-type file lock, so concurrent commands never lose or mix changes.
"""
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from hpogrid import paths
from hpogrid.configs._kinds import ConfigKind, get_kind
from hpogrid.errors import AlreadyExistsError, NotFoundError, ValidationError
from hpogrid.fileio import dump_json, read_json, write_atomic
from hpogrid.names import check_name, check_no_case_twin


class NamedStore:
    """Create, recreate, update, remove, list and show the configs of one type."""

    def __init__(self, kind: "ConfigKind | str"):
        self.kind = get_kind(kind) if isinstance(kind, str) else kind

    @property
    def folder(self) -> Path:
        return paths.config_dir(self.kind.name)

    def path(self, name: str) -> Path:
        return self.folder / f"{check_name(name, self.kind.name)}.json"

    def _lock(self):
        from filelock import FileLock

        self.folder.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.folder / ".lock"), timeout=30)

    # -- reading -------------------------------------------------------------------------
    def names(self) -> List[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json") if _is_valid_name(p.stem))

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def load(self, name: str) -> Dict[str, Any]:
        """The validated config (files of hpogrid 1.3.3 come back in today's form)."""
        path = self.path(name)
        if not path.is_file():
            raise NotFoundError(self._missing(name))
        try:
            raw = read_json(path)
        except (OSError, ValueError) as exc:
            raise ValidationError(f"{self.kind.name} {name!r}", f"cannot read {path}: {exc}") from None
        return self.kind.validate(raw)

    def items(self) -> Iterator[tuple]:
        """(name, raw JSON or None if unreadable) for ``list``: no validation, stays fast."""
        for name in self.names():
            try:
                yield name, read_json(self.path(name))
            except (OSError, ValueError):
                yield name, None

    # -- writing -------------------------------------------------------------------------
    def create(self, name: str, data: Dict[str, Any]) -> Dict[str, Any]:
        path = self.path(name)
        config = self.kind.validate(data)
        if path.exists():
            raise AlreadyExistsError(self._exists(name))
        check_no_case_twin(name, self.names(), self.kind.name)
        try:
            write_atomic(path, dump_json(config), exclusive=True)
        except AlreadyExistsError:
            raise AlreadyExistsError(self._exists(name)) from None
        return config

    def recreate(self, name: str, data: Dict[str, Any]) -> Dict[str, Any]:
        path = self.path(name)
        config = self.kind.validate(data)
        check_no_case_twin(name, self.names(), self.kind.name)
        with self._lock():
            write_atomic(path, dump_json(config))
        return config

    def update(self, name: str, changes: Dict[str, Any], merge=None) -> Dict[str, Any]:
        """Change only the given keys; ``merge(old, changes)`` may replace the shallow merge."""
        path = self.path(name)

        def merged() -> Dict[str, Any]:
            old = self.load(name)
            return self.kind.validate(merge(old, changes) if merge else {**old, **changes})

        merged()  # bad changes fail here, before the lock file or anything else is written
        with self._lock():
            config = merged()  # again under the lock: another writer may have changed it
            write_atomic(path, dump_json(config))
        return config

    def remove(self, name: str) -> None:
        path = self.path(name)
        if not path.is_file():  # before the lock: a failed remove writes nothing
            raise NotFoundError(self._missing(name))
        with self._lock():
            if not path.is_file():
                raise NotFoundError(self._missing(name))
            path.unlink()

    # -- messages ------------------------------------------------------------------------
    def _missing(self, name: str) -> str:
        have = self.names()
        listing = ", ".join(have) if have else "none yet"
        return f"{self.kind.name} {name!r} does not exist (existing: {listing})"

    def _exists(self, name: str) -> str:
        return (f"{self.kind.name} {name!r} already exists; use 'hpogrid {self.kind.name} recreate' "
                f"to overwrite it or 'update' to change some options")


def _is_valid_name(name: str) -> bool:
    try:
        check_name(name)
        return True
    except ValidationError:
        return False


def parse_json_option(text: Optional[str], field: str) -> Any:
    """Decode a JSON-valued command-line option, naming the option on error."""
    if text is None:
        return None
    from hpogrid.jsontext import loads

    return loads(text, field)
