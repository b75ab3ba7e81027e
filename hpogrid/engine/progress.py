"""The progress of a run on stderr, the same for every backend (local, Slurm, central grid).

At a terminal a rich bar (trials ended of the total, the counts and the best metric, elapsed
time); otherwise the plain line
``[hpogrid] 3/10 trials: 2 done, 1 failed, 2 running, 1 pending | best loss=0.25`` at most
every 10 s and once at the end (logs, CI, ``grep``). :class:`hpogrid.progress.Progress` draws
both; this module only says what a run's progress is.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, TextIO, Tuple

from hpogrid.progress import Progress


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


class BestSoFar:
    """The best of a run's completed trials under its objectives: the best value of the one
    objective, or the Pareto front of several; infeasible trials (outcome constraints) are
    counted, never best."""

    def __init__(self, objectives: Any):
        self.objectives = objectives
        self.value: Optional[float] = None
        self.front: List[Tuple[float, ...]] = []  # minimisation form
        self.infeasible = 0

    def add(self, metrics: dict) -> None:
        from hpogrid.pareto import dominates

        values = self.objectives.values(metrics)
        if values is None:
            return
        if not self.objectives.feasible(metrics):
            self.infeasible += 1
            return
        if not self.objectives.is_multi:
            if self.objectives.primary.better(values[0], self.value):
                self.value = values[0]
            return
        modes = ["min"] * len(values)
        point = tuple(v if m == "min" else -v for v, m in zip(values, self.objectives.modes))
        if any(dominates(f, point, modes) for f in self.front):
            return
        self.front = [f for f in self.front if not dominates(point, f, modes)] + [point]

    def text(self) -> str:
        if self.objectives.is_multi:
            text = f"Pareto front {len(self.front)} trial(s)"
        else:
            text = f"best {self.objectives.metric}={'-' if self.value is None else f'{self.value:.6g}'}"
        return text + (f" ({self.infeasible} infeasible)" if self.infeasible else "")


class ProgressLine:
    """The run's progress; the display starts at the first :meth:`show`."""

    def __init__(self, metric: str, total: int, enabled: bool = True, console: Any = None,
                 stream: Optional[TextIO] = None):
        self.metric, self.total, self.enabled = metric, total, enabled
        self._console, self._stream = console, stream
        self._display: Optional[Progress] = None
        self._text = ""

    def _parts(self, c: Counts, best):
        """``best``: the best value so far (None: none yet), or a :class:`BestSoFar`."""
        if isinstance(best, BestSoFar):
            best_text = best.text()
        else:
            best_text = f"best {self.metric}={'-' if best is None else f'{best:.6g}'}"
        extra = f", {c.interrupted} interrupted" if c.interrupted else ""
        pending = f", {c.pending} pending" if c.pending else ""
        return f"{c.done} done, {c.failed} failed{extra}, {c.running} running{pending}", best_text

    def status(self, c: Counts, best) -> str:
        """The bar's status: the best value first (a narrow terminal cuts the end)."""
        counts, best_text = self._parts(c, best)
        return f"{best_text} | {counts}"

    def text(self, c: Counts, best) -> str:
        """The plain line."""
        counts, best_text = self._parts(c, best)
        return f"[hpogrid] {c.ended}/{self.total} trials: {counts} | {best_text}"

    def show(self, c: Counts, best, final: bool = False) -> None:
        if not self.enabled:
            return
        if self._display is None:
            self._display = Progress("trials", self.total, "trials", console=self._console, stream=self._stream,
                                     formatter=lambda _: self._text)
        self._text = self.text(c, best)
        self._display.update(completed=c.ended, status=self.status(c, best), total=self.total, final=final)
        if final:
            self._display.close()
