"""Whether a trial that did not finish runs again: the engine's one retry rule for every backend.

A backend says only HOW a trial ended (:class:`~hpogrid.engine.executor.Ended`; ``lost``: the
infrastructure's reason, e.g. ``NODE_FAIL`` or ``killed by SIGKILL``). :class:`RetryPolicy`
decides, from hpo_config ``max_retries``, ``retry_on`` and ``failure_rules``, whether the
attempt is retried (same uid, same trial folder, so from its checkpoint), retried away from
its node, or the trial ends as it is. Retries are neither new trials nor failures: only the
last attempt's end reaches the trial sink (``max_failures``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from hpogrid.study.attempts import FailureRule, parse_rules
from hpogrid.study.records import COMPLETED, FAILED

#: bytes read from the end of each of a trial's logs for the failure rules
LOG_TAIL_BYTES = 256 * 1024


@dataclass(frozen=True)
class Retry:
    """Run the trial again; ``reason`` goes to its attempt record; ``exclude``: the node to
    leave out of later jobs of the run (a failure rule's ``exclude_node``)."""

    reason: str
    exclude: Optional[str] = None


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 0
    retry_on: tuple = ("lost",)
    rules: tuple = ()

    @classmethod
    def of(cls, spec: Any) -> "RetryPolicy":
        """From a :class:`~hpogrid.engine.options.RunSpec`."""
        return cls(spec.max_retries, tuple(spec.retry_on), tuple(parse_rules(list(spec.failure_rules))))

    @property
    def active(self) -> bool:
        return self.max_retries > 0 or any(r.action == "fail" for r in self.rules)

    def decide(self, ended: Any, retries_done: int, folder: Optional[Path], node: Optional[str] = None) -> Optional[Retry]:
        """A :class:`Retry` when the attempt that ended as ``ended`` runs again (``retries_done``
        retries already ran), None when the trial ends with it."""
        if ended.state == COMPLETED or self.max_retries <= 0 and not self.rules:
            return None
        rule = self._rule(ended, folder)
        if rule is not None and rule.action == "fail":
            return None
        if retries_done >= self.max_retries:
            return None
        if rule is not None:
            return Retry(f"rule: {rule.label}", node if rule.action == "exclude_node" else None)
        lost = getattr(ended, "lost", None)
        if lost and "lost" in self.retry_on:
            return Retry(lost)
        if not lost and ended.state == FAILED and "error" in self.retry_on:
            return Retry("error")
        return None

    def _rule(self, ended: Any, folder: Optional[Path]) -> Optional[FailureRule]:
        if not self.rules:
            return None
        # the error, what the attempt printed (a backend that keeps it outside the trial folder
        # hands its tail over: a pool worker's log) and the trial's own logs
        output = getattr(ended, "output", None)
        text = "\n".join([ended.error or "", output or ""] + _logs(folder))
        for rule in self.rules:
            if rule.matches(text, getattr(ended, "exit_code", None)):
                return rule
        return None


def tail(path: Path, since: int = 0, limit: int = LOG_TAIL_BYTES) -> str:
    """The end of the file ``path`` after byte ``since`` (at most ``limit`` bytes); "" when unreadable."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(since, size - limit) if size >= since else max(0, size - limit))
            return fh.read().decode(errors="replace")
    except OSError:
        return ""


def _logs(folder: Optional[Path]) -> List[str]:
    """The ends of the trial's logs (``*.log`` in its folder and its ``program`` subfolder)."""
    if folder is None:
        return []
    out: List[str] = []
    for pattern in ("*.log", "program/*.log"):
        try:
            paths = sorted(Path(folder).glob(pattern))
        except OSError:
            continue
        out.extend(tail(path) for path in paths)
    return out


def where_of(ended: Any, node: Optional[str] = None) -> Dict[str, str]:
    """Where the attempt ran: ``{"node": ...}`` (a Slurm node), ``{"site": ...}`` or ``{"host": ...}``."""
    fields = ended.fields or {}
    if fields.get("site"):
        return {"site": str(fields["site"])}
    if node:
        return {"node": node}
    return {"host": str(fields["host"])} if fields.get("host") else {}
