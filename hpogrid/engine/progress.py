"""The one-line progress of a run on stderr, the same for every backend.

``[hpogrid] 3/10 trials: 2 done, 1 failed, 2 running, 1 pending | best loss=0.25``: redrawn in
place on a terminal (at most 5 times a second), a new line every 10 s otherwise (logs, CI).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass


@dataclass
class Counts:
    done: int = 0
    failed: int = 0
    interrupted: int = 0
    running: int = 0
    pending: int = 0

    @property
    def ended(self) -> int:
        return self.done + self.failed + self.interrupted


class ProgressLine:
    def __init__(self, metric: str, total: int, enabled: bool = True):
        self.metric, self.total, self.enabled = metric, total, enabled
        self._last = 0.0
        self._text = ""

    def text(self, c: Counts, best) -> str:
        shown = "-" if best is None else f"{best:.6g}"
        extra = f", {c.interrupted} interrupted" if c.interrupted else ""
        pending = f", {c.pending} pending" if c.pending else ""
        return (f"[hpogrid] {c.ended}/{self.total} trials: {c.done} done, {c.failed} failed{extra}, "
                f"{c.running} running{pending} | best {self.metric}={shown}")

    def show(self, c: Counts, best, final: bool = False) -> None:
        if not self.enabled:
            return
        text = self.text(c, best)
        now = time.monotonic()
        tty = sys.stderr.isatty()
        if not final and (text == self._text or now - self._last < (0.2 if tty else 10.0)):
            return
        self._last, self._text = now, text
        sys.stderr.write(("\r" + text + "\x1b[K") if tty else text + "\n")
        if final and tty:
            sys.stderr.write("\n")
        sys.stderr.flush()
