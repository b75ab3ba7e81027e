"""Attempts of a trial that did not finish, and the hpo_config rules on how a trial failed.

A trial whose process or job was lost (a node failed, a job was preempted, a worker was
killed) is run again by the engine, in the same trial folder and under the same uid, from its
checkpoint; each attempt that did not finish is one record of the trial's
:data:`~hpogrid.study.records.ATTEMPTS` annotation (:func:`attempt_record`). ``failure_rules``
(hpo_config) match a failed attempt's output or error and say what to do (:data:`ACTIONS`).
Pure values: the engine applies them (:mod:`hpogrid.engine.retry`), ``create`` checks them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence

#: what a failure rule may do: run the trial again, run it again away from the node it ran on
#: (Slurm: ``--exclude``), or fail it now (no retry even if the loss would be retried)
ACTIONS = ("retry", "exclude_node", "fail")
#: hpo_config ``retry_on`` values: a lost trial (the infrastructure's doing), the trial's own error
RETRY_ON = ("lost", "error")


@dataclass(frozen=True)
class FailureRule:
    """``{"match": regex, "action": one of ACTIONS}``; :meth:`matches` searches the text."""

    match: str
    action: str

    def matches(self, text: str) -> bool:
        return re.search(self.match, text, re.MULTILINE) is not None


def parse_rules(rules: Optional[Sequence[Any]]) -> List[FailureRule]:
    """hpo_config ``failure_rules`` as :class:`FailureRule` values; a ValueError names the bad
    rule's field (``failure_rules[1].match``) and what is allowed."""
    out = []
    for i, rule in enumerate(rules or ()):
        where = f"failure_rules[{i}]"
        if not isinstance(rule, dict) or set(rule) - {"match", "action"} or "match" not in rule or "action" not in rule:
            raise ValueError(f'{where} must be {{"match": REGEX, "action": {"|".join(ACTIONS)}}} (got {rule!r})')
        match, action = rule["match"], rule["action"]
        if not isinstance(match, str):
            raise ValueError(f"{where}.match must be a regular expression string (got {match!r})")
        try:
            re.compile(match)
        except re.error as exc:
            raise ValueError(f"{where}.match {match!r} is not a valid regular expression: {exc}") from None
        if action not in ACTIONS:
            raise ValueError(f"{where}.action {action!r} is not allowed; choose one of: {', '.join(ACTIONS)}")
        out.append(FailureRule(match, action))
    return out


def first_line(text: Optional[str]) -> Optional[str]:
    """The first non-empty line of an error (None: no error text)."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:500]
    return None


def attempt_record(attempt: int, reason: str, where: Dict[str, str], error: Optional[str],
                   final: bool = False) -> Dict[str, Any]:
    """One entry of the :data:`~hpogrid.study.records.ATTEMPTS` annotation, ended now. ``final``:
    the trial ended with this attempt (no retry followed), so a failure digest counts it once,
    as the trial's failure, not also as a lost attempt."""
    record = {"attempt": attempt, "reason": reason, "where": {k: str(v) for k, v in where.items() if v},
              "error": first_line(error), "ended": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if final:
        record["final"] = True
    return record
