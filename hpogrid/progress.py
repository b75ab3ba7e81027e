"""Progress of long work on stderr: a rich progress bar at a terminal, plain lines otherwise.

Runs (every backend), dataset transfers and reports of large studies use this one class, so
they look alike. Whether stderr is a terminal is rich's own decision
(``Console(stderr=True).is_terminal``, which honours ``FORCE_COLOR``/``TTY_COMPATIBLE`` and
``NO_COLOR``-style settings); when it is not (a log file, CI, a pipe), a plain line
``[hpogrid] <label>: 3/10 <unit> <status>`` is written at most every ``plain_every_s``
seconds and once at the end, so logs stay greppable and small. rich is imported only when a
bar is actually drawn. Thread-safe: backends update from their event-loop threads.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, Optional, TextIO

#: seconds between two plain lines (when the status changed)
PLAIN_EVERY_S = 10.0


def _fmt(x: Optional[float]) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


class Progress:
    """One progress display; use as a context manager or call :meth:`close`.

    ``total`` may be ``None`` (unknown) and changed later; ``bytes=True`` shows sizes and
    transfer speed. ``console`` (a rich Console) and ``stream`` (for plain lines) are for tests;
    ``plain_first_after_s`` keeps plain output silent for short work (reports); ``formatter``
    replaces :meth:`plain_text` (a run keeps its long-standing line).
    """

    def __init__(self, label: str, total: Optional[float] = None, unit: str = "", *,
                 enabled: bool = True, bytes: bool = False, transient: bool = False,
                 console: Any = None, stream: Optional[TextIO] = None,
                 plain_every_s: float = PLAIN_EVERY_S, plain_first_after_s: float = 0.0,
                 formatter: Optional[Callable[["Progress"], str]] = None):
        self._formatter = formatter
        self.label, self.total, self.unit, self.enabled = label, total, unit, enabled
        self.completed: float = 0
        self.status = ""
        self._lock = threading.Lock()
        self._stream = stream
        self._every, self._start = plain_every_s, time.monotonic()
        self._first_after = plain_first_after_s
        self._last_time, self._last_text = float("-inf"), ""
        self._bar = self._task = None
        self._closed = False
        if enabled:
            self._bar, self._task = self._rich(console, bytes, transient)

    @property
    def is_bar(self) -> bool:
        """Whether a rich bar is drawn (else plain lines)."""
        return self._bar is not None

    def _rich(self, console: Any, bytes: bool, transient: bool):
        from rich.console import Console

        console = console if console is not None else Console(stderr=True)
        if not console.is_terminal:
            return None, None
        from rich import progress as rp
        from rich.markup import escape
        from rich.table import Column

        counts = ([rp.DownloadColumn(), rp.TransferSpeedColumn()] if bytes
                  else [rp.MofNCompleteColumn(), rp.TextColumn(escape(self.unit))])
        # the status takes what is left of the line and is cut with an ellipsis: counts stay whole
        status = rp.TextColumn("{task.fields[status]}", markup=False,
                               table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis"))
        bar = rp.Progress(rp.SpinnerColumn(), rp.TextColumn("[bold]{task.description}"),
                          rp.BarColumn(bar_width=24), *counts, rp.TimeElapsedColumn(), status,
                          console=console, transient=transient, expand=True,
                          redirect_stdout=False, redirect_stderr=False)
        task = bar.add_task(escape(f"[hpogrid] {self.label}"), total=self.total, status="")
        bar.start()
        return bar, task

    def plain_text(self) -> str:
        """The plain line for the current state (also what logs get)."""
        if self._formatter is not None:
            return self._formatter(self)
        unit = f" {self.unit}" if self.unit else ""
        status = f" {self.status}" if self.status else ""
        return f"[hpogrid] {self.label}: {_fmt(self.completed)}/{_fmt(self.total)}{unit}{status}"

    def update(self, completed: Optional[float] = None, status: Optional[str] = None,
               total: Optional[float] = None, advance: float = 0, final: bool = False) -> None:
        """Set what is done (or ``advance`` it), the status text and the total; redraw."""
        if not self.enabled:
            return
        with self._lock:
            if self._closed:
                return
            if completed is not None:
                self.completed = completed
            self.completed += advance
            if status is not None:
                self.status = status
            if total is not None:
                self.total = total
            if self._bar is not None:
                self._bar.update(self._task, completed=self.completed, total=self.total, status=self.status)
                return
            self._plain(final)

    def _plain(self, final: bool) -> None:
        text = self.plain_text()
        now = time.monotonic()
        if not final:
            if text == self._last_text or now - self._last_time < self._every:
                return
            if now - self._start < self._first_after:
                return
        elif text == self._last_text:
            return  # the end was already said
        elif self._first_after and now - self._start < self._first_after and not self._last_text:
            return  # short work: nothing was said, nothing to close
        self._last_time, self._last_text = now, text
        stream = self._stream or sys.stderr
        stream.write(text + "\n")
        stream.flush()

    def close(self, status: Optional[str] = None) -> None:
        """Draw the final state (the last plain line) and stop the bar; idempotent."""
        if not self.enabled or self._closed:
            return
        self.update(status=status, final=True)
        with self._lock:
            self._closed = True
            if self._bar is not None:
                self._bar.refresh()
                self._bar.stop()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
