"""What a finished trial leaves for people to read: its error text and its logs.

Every backend's failed trial stores the user's exception - its type, message and the user's
own traceback frames - without terminal colour codes and without the frames of Ray Tune,
hpogrid or the Python runtime around the call (Ray prefixes ``Failure # 1 (occurred at ...)``
and ``ray::ImplicitFunc.train()`` and colours them). Each log in the trial folder is capped,
keeping its head and tail (:func:`hpogrid.fileio.cap_log`).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_FRAME = re.compile(r'^\s*File "([^"]+)", line \d+')
_MARKS = re.compile(r"^\s*[\^~]+\s*$")
#: lines Ray writes around the user's exception
_RAY_LINES = re.compile(r"^(Failure # \d+ \(occurred at .*\)|ray::\S+ \(pid=.*|\s*During handling of the "
                        r"above exception.*)$")
#: frames that are not the user's: Ray, hpogrid's wrappers, the interpreter's own library
_NOT_USERS = ("/ray/", "/hpogrid/objective/", "/hpogrid/backends/", "/hpogrid/engine/", "/concurrent/futures/",
              "/threading.py", "/runpy.py", "/site-packages/tree/")


def clean_error(text: Optional[str]) -> Optional[str]:
    """The user's part of a failed trial's error text (see the module docstring)."""
    if not text:
        return text
    lines = [ln for ln in _ANSI.sub("", text).replace("\r", "").splitlines() if not _RAY_LINES.match(ln)]
    out, skipping, in_frame = [], False, False
    for line in lines:
        frame = _FRAME.match(line)
        if frame:
            skipping = any(part in frame.group(1) for part in _NOT_USERS)
            in_frame = not skipping
            if not skipping:
                out.append(line)
            continue
        if _MARKS.match(line):  # 3.11's ^^^ under a source line: only under one that is kept
            if in_frame and out and not _MARKS.match(out[-1]):
                out.append(line)
            continue
        if line.startswith("    ") and (skipping or in_frame):  # a frame's source line
            if not skipping:
                out.append(line)
            continue
        skipping = in_frame = False
        out.append(line)
    while out and not out[0].strip():
        out.pop(0)
    if any(_FRAME.match(ln) for ln in out) and not any(ln.startswith("Traceback") for ln in out):
        out.insert(0, "Traceback (most recent call last):")
    cleaned = "\n".join(out).strip()
    return cleaned or _ANSI.sub("", text).strip()


def cap_logs(folder: Path) -> None:
    """Cap every ``*.log`` of a finished trial's folder (head and tail kept)."""
    from hpogrid.fileio import cap_log

    try:
        logs = list(Path(folder).glob("*.log"))
    except OSError:
        return
    for log in logs:
        cap_log(log)
