"""Atomic, crash-safe file writes: readers see the old file or the new one, never a part."""
import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator, List

from hpogrid.errors import AlreadyExistsError, HpogridError


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


def last_lines(path: Path, lines: int = 3, limit: int = 500) -> str:
    """The last ``lines`` non-blank lines of a log joined by `` | `` (at most ``limit``
    characters; "" when it cannot be read): what a one-line failure quotes of a program's stderr."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(ln.strip() for ln in text[-lines:] if ln.strip())[-limit:]


#: a trial log keeps at most this much of its beginning and of its end
LOG_HEAD = LOG_TAIL = 1024 * 1024


def cap_log(path: Path, head: int = LOG_HEAD, tail: int = LOG_TAIL) -> int:
    """Cut the middle out of a log longer than ``head + tail`` bytes, at line boundaries,
    leaving a line that says how much was cut; returns the bytes cut (0: left as it was).

    A program printing 100 MB would otherwise keep all of it in every trial folder.
    """
    import tempfile

    try:
        size = path.stat().st_size
    except OSError:
        return 0
    if size <= head + tail + 4096:
        return 0
    with open(path, "rb") as fh:
        first = fh.read(head)
        fh.seek(size - tail)
        last = fh.read(tail)
    if b"\n" in first:
        first = first[: first.rfind(b"\n") + 1]
    if b"\n" in last[:-1]:
        last = last[last.find(b"\n") + 1:]
    cut = size - len(first) - len(last)
    marker = (f"\n[hpogrid: {cut / 2 ** 20:.1f} MB ({cut} bytes) cut from the middle of this log; "
              f"its first {len(first)} and last {len(last)} bytes are kept]\n").encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(first + marker + last)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return cut


@contextlib.contextmanager
def folder_lock(folder: Path, timeout: float = 60.0) -> Iterator[None]:
    """An exclusive lock on ``folder`` itself (``flock`` on its descriptor) while the block
    runs. Unlike a lock file it leaves nothing on disk, so a command that is refused under it
    changes nothing; the kernel drops it when the process dies."""
    import fcntl
    import time

    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise HpogridError(f"{folder} is in use by another hpogrid command "
                                       f"(waited {timeout:.0f} s); try again when it ends") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # (releases the lock)


class AppendedLines:
    """The lines appended to a file another process writes, since the last call (a line still
    being written is left for the next one, unless ``final``: the writer has ended)."""

    def __init__(self, path: Path, offset: int = 0):
        self.path, self.offset = Path(path), offset

    def new(self, final: bool = False) -> List[bytes]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        end = len(data) if final else data.rfind(b"\n") + 1
        self.offset += end
        return data[:end].splitlines()
