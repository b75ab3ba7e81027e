"""The one-line progress of a Slurm run on stderr, in the shape of local_run's.

``[hpogrid] 3/10 trials: 2 done, 1 failed, 2 running, 1 pending | best loss=0.25``; redrawn in
place on a terminal (at most 5 times a second), a new line every 10 s otherwise (logs, CI).
"""
import math
import sys
import time
from typing import Any, Optional

from hpogrid.study.records import COMPLETED, FAILED, RUNNING


class Progress:
    def __init__(self, metric: str, mode: str, total: int, enabled: bool = True):
        self.metric, self.mode, self.total, self.enabled = metric, mode, total, enabled
        self.done = self.failed = self.interrupted = 0
        self.best: Optional[float] = None
        self._last = 0.0
        self._text = ""

    def count(self, state: str, value: Any) -> None:
        """A trial ended in ``state`` with metric ``value``."""
        if state == COMPLETED:
            self.done += 1
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                if self.best is None or (value < self.best if self.mode == "min" else value > self.best):
                    self.best = float(value)
        elif state == FAILED:
            self.failed += 1
        else:
            self.interrupted += 1

    def line(self, live) -> str:
        running = sum(t.state == RUNNING for t in live.values())
        best = "-" if self.best is None else f"{self.best:.6g}"
        ended = self.done + self.failed + self.interrupted
        extra = f", {self.interrupted} interrupted" if self.interrupted else ""
        return (f"[hpogrid] {ended}/{self.total} trials: {self.done} done, {self.failed} failed{extra}, "
                f"{running} running, {len(live) - running} pending | best {self.metric}={best}")

    def show(self, live, final: bool = False) -> None:
        if not self.enabled:
            return
        text = self.line(live)
        now = time.monotonic()
        tty = sys.stderr.isatty()
        if not final and (text == self._text or now - self._last < (0.2 if tty else 10.0)):
            return
        self._last, self._text = now, text
        sys.stderr.write(("\r" + text + "\x1b[K") if tty else text + "\n")
        if final and tty:
            sys.stderr.write("\n")
        sys.stderr.flush()
