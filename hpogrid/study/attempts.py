"""Attempts of a trial that did not finish, and the hpo_config rules on how a trial failed.

A trial whose process or job was lost (a node failed, a job was preempted, a worker was
killed) is run again by the engine, in the same trial folder and under the same uid, from its
checkpoint; each attempt that did not finish is one record of the trial's
:data:`~hpogrid.study.records.ATTEMPTS` annotation (:func:`attempt_record`). ``failure_rules``
(hpo_config) match a failed attempt's output, error or exit status and say what to do
(:data:`ACTIONS`). A retried trial's curve goes on from where its retry resumed
(:func:`continued`). Pure values: the engine applies them (:mod:`hpogrid.engine.retry`), ``create`` checks them.
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


#: the keys of one failure rule
RULE_KEYS = ("match", "exit_code", "action")


@dataclass(frozen=True)
class FailureRule:
    """``{"match": regex, "exit_code": int, "action": one of ACTIONS}`` (``match`` or
    ``exit_code`` or both); :meth:`matches` says whether a failed attempt meets all it names."""

    match: Optional[str]
    action: str
    exit_code: Optional[int] = None

    def matches(self, text: str, exit_code: Optional[int] = None) -> bool:
        """``text``: the attempt's error and the tail of its output; ``exit_code``: its process's
        exit status (None: not known, e.g. the trial's code raised in a live process)."""
        if self.exit_code is not None and exit_code != self.exit_code:
            return False
        return self.match is None or re.search(self.match, text, re.MULTILINE) is not None

    @property
    def label(self) -> str:
        """How an attempt record names the rule (its reason ``rule: <label>``)."""
        if self.match is None:
            return f"exit code {self.exit_code}"
        return self.match if self.exit_code is None else f"{self.match} (exit code {self.exit_code})"


def parse_rules(rules: Optional[Sequence[Any]]) -> List[FailureRule]:
    """hpo_config ``failure_rules`` as :class:`FailureRule` values; a ValueError names the bad
    rule's field (``failure_rules[1].match``) and what is allowed."""
    out = []
    for i, rule in enumerate(rules or ()):
        where = f"failure_rules[{i}]"
        if not isinstance(rule, dict) or set(rule) - set(RULE_KEYS) or "action" not in rule \
                or "match" not in rule and "exit_code" not in rule:
            raise ValueError(f'{where} must be {{"match": REGEX, "exit_code": INT, "action": {"|".join(ACTIONS)}}} '
                             f'(match or exit_code or both; got {rule!r})')
        match, action, code = rule.get("match"), rule["action"], rule.get("exit_code")
        if "match" in rule:
            if not isinstance(match, str):
                raise ValueError(f"{where}.match must be a regular expression string (got {match!r})")
            try:
                re.compile(match)
            except re.error as exc:
                raise ValueError(f"{where}.match {match!r} is not a valid regular expression: {exc}") from None
        if "exit_code" in rule and (not isinstance(code, int) or isinstance(code, bool)):
            raise ValueError(f"{where}.exit_code must be an integer exit status, e.g. 1 (got {code!r})")
        if action not in ACTIONS:
            raise ValueError(f"{where}.action {action!r} is not allowed; choose one of: {', '.join(ACTIONS)}")
        out.append(FailureRule(match, action, code))
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


def _step(item: Any) -> Optional[float]:
    """The epoch an item of a curve reports (``step``, from ``trial.report(epoch, ...)``), else None."""
    step = item.get("step") if isinstance(item, dict) else None
    return step if isinstance(step, (int, float)) and not isinstance(step, bool) else None


def _before(item: Any, first: float) -> bool:
    step = _step(item)
    return step is not None and step < first


def continued(curve: Sequence[Dict[str, Any]], steps: Sequence[Dict[str, Any]], attempt: int) -> List[Dict[str, Any]]:
    """The curve of a retried trial once attempt number ``attempt`` reported ``steps`` (its own
    reports, in order) after the earlier attempts' ``curve``.

    The attempt goes on from the checkpoint it resumed from: the curve keeps the earlier
    items whose ``step`` comes before the attempt's first step, and the attempt's items follow
    (what the lost attempt reported after its last checkpoint, done again, gives way: no step
    twice, none missing). An attempt whose reports carry no ``step`` started over: its items
    alone. Each item says its ``attempt``; ``training_iteration`` counts the items of the whole
    curve (1..N), so a plot by iteration continues where the checkpoint was."""
    if not steps:
        return [dict(item) for item in curve]
    first = _step(steps[0])
    kept = [] if first is None else [item for item in curve if _before(item, first)]
    merged = [dict(item) for item in kept] + [{**item, "attempt": attempt} for item in steps]
    for number, item in enumerate(merged, start=1):
        item["training_iteration"] = number
    return merged
