"""The stop rules applied: one :class:`Budget` per run, fed by the trial sink, ending the run
through the run control.

Every backend's trials pass through the one :class:`~hpogrid.engine.sink.TrialSink`, so the
rules of :mod:`hpogrid.budgets` are checked here once, for all of them: ``target`` and
``patience`` as each trial completes, ``timeout`` and ``max_cost`` (running trials' time so
far included) whenever the sink is ticked (every pass of a backend's loop). A rule that fires
calls :meth:`RunControl.end_by_rule`: target, patience and (by default) the timeout drain,
``timeout_action stop`` and ``max_cost`` stop the running trials.

What carries over a ``--resume``: the cost (each trial's hours are in its ``cost_h``
annotation, earlier attempts of a re-run trial added), the best so far and the completed
trials since it improved (read from the study); the timeout is this run's wall clock. The
clock is injected (``RunOptions.clock``) so tests never wait for a real timeout.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from hpogrid.budgets import COST_KINDS, StopRules, added, cost_of, format_cost, format_duration, point_reached
from hpogrid.engine.control import RunControl
from hpogrid.objectives import Objectives
from hpogrid.study.records import COMPLETED

#: trial annotations: the resources a trial held, and the hours it used ({"cpu": h, "gpu": h})
RESOURCES = "resources"
COST = "cost_h"


class Budget:
    """The stop rules of one run (see the module docstring). ``resources``: what one trial of
    this run holds (``{"cpu": n, "gpu": m}``); ``started``: ``clock()`` when the run began."""

    def __init__(self, rules: StopRules, objectives: Objectives, control: RunControl,
                 resources: Mapping[str, float], clock: Callable[[], float], started: float):
        self.rules, self.objectives, self.control, self.clock = rules, objectives, control, clock
        self.resources = {k: float(resources.get(k) or 0.0) for k in COST_KINDS}
        self.started = started
        #: hours of trials that ended (earlier runs included), and each trial's (for a re-run)
        self.spent: Dict[str, float] = dict.fromkeys(COST_KINDS, 0.0)
        self._of: Dict[str, Dict[str, float]] = {}
        self._live: Dict[str, Tuple[float, Dict[str, float]]] = {}
        self._front: List[Tuple[float, ...]] = []  # minimisation form, improvements only
        self.since_improved = 0

    # -- what the study already holds ------------------------------------------------------------
    def load(self, trials: Iterable[Any]) -> None:
        """Start from the study's trials (``TrialRecord``s): their cost, best and patience count."""
        trials = list(trials)
        for t in trials:
            hours = _hours((t.annotations or {}).get(COST))
            if hours is None:  # a trial recorded before costs were: its run time x this run's resources
                end = min((x for x in (t.finished_at, t.heartbeat_at) if x is not None), default=None)
                seconds = (end - t.started_at).total_seconds() if end and t.started_at else 0.0
                hours = cost_of(seconds, self.resources)
            self._of[t.uid] = hours
            self.spent = added(self.spent, hours)
        done = [t for t in trials if t.state == COMPLETED]
        far = datetime.max.replace(tzinfo=timezone.utc)
        reached = None
        for t in sorted(done, key=lambda t: (t.finished_at or far, t.number)):
            if self._completed(t.metrics, check=False) and reached is None:
                reached = t
        # a study that already met its target, or used up its patience, has nothing left to run
        if reached is not None:
            self.control.end_by_rule("target", f"target {','.join(f'{x:g}' for x in self.rules.target or ())} "
                                     f"already reached by trial {reached.number} of this study")
        elif self.rules.patience and self.since_improved >= self.rules.patience:
            self.control.end_by_rule("patience", f"patience {self.rules.patience}: no improvement of the best in "
                                     f"the study's last {self.since_improved} completed trials")

    # -- a trial's life ---------------------------------------------------------------------------
    def running(self, uid: str, resources: Optional[Mapping[str, float]] = None,
                since: Optional[float] = None) -> Dict[str, Any]:
        """Trial ``uid`` runs from now (or from ``since``, a reading of the clock); returns its
        annotations (the resources it holds)."""
        held = {k: float((resources or self.resources).get(k) or 0.0) for k in COST_KINDS}
        if uid not in self._live:
            self._live[uid] = (self.clock() if since is None else since, held)
        return {RESOURCES: held}

    def ended(self, uid: str, state: str, metrics: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        """Trial ``uid`` ended; returns its annotations (its hours, earlier attempts included).
        A completed one may reach the target or use up the patience."""
        notes: Dict[str, Any] = {}
        live = self._live.pop(uid, None)
        if live is not None:
            attempt = cost_of(self.clock() - live[0], live[1])
            total = added(self._of.get(uid, {}), attempt)
            self._of[uid] = total
            self.spent = added(self.spent, attempt)
            notes[COST] = {k: round(v, 9) for k, v in total.items()}
        if state == COMPLETED:
            self._completed(metrics or {}, check=True)
        self.check()
        return notes

    def _completed(self, metrics: Mapping[str, Any], check: bool) -> bool:
        """Count one completed trial (``check``: end the run when a rule fires); True when it
        reaches the target."""
        values = self.objectives.values(metrics)
        ok = values is not None and self.objectives.feasible(metrics)
        reached = False
        point = tuple(v if m == "min" else -v for v, m in zip(values or (), self.objectives.modes)) if ok else None
        target = self.rules.target
        if point is not None and target is not None:
            goal = tuple(t if m == "min" else -t for t, m in zip(target, self.objectives.modes))
            reached = point_reached(point, goal)
            if reached and check:
                shown = ",".join(f"{v:g}" for v in values or ())
                self.control.end_by_rule("target", f"target {','.join(f'{t:g}' for t in target)} reached "
                                         f"({','.join(self.objectives.metrics)} = {shown})")
        delta = self.rules.min_delta
        if point is not None and all(any(p < f - delta for p, f in zip(point, old)) for old in self._front):
            self._front = [f for f in self._front if not all(p <= x for p, x in zip(point, f))] + [point]
            self.since_improved = 0
        else:
            self.since_improved += 1
        patience = self.rules.patience
        if check and patience and self.since_improved >= patience:
            by = f" by more than {delta:g}" if delta else ""
            self.control.end_by_rule("patience", f"patience {patience}: no improvement of the best{by} in the last "
                                     f"{self.since_improved} completed trials")
        return bool(point is not None and target is not None and reached)

    # -- the clock --------------------------------------------------------------------------------
    def used(self) -> Dict[str, float]:
        """Hours used so far: ended trials (earlier runs included) and running ones until now."""
        now = self.clock()
        out = dict(self.spent)
        for start, held in self._live.values():
            out = added(out, cost_of(now - start, held))
        return out

    def elapsed(self) -> float:
        return self.clock() - self.started

    def check(self) -> None:
        """The timeout and the cost budget, now."""
        rules = self.rules
        if rules.timeout_s and self.elapsed() >= rules.timeout_s:
            self.control.end_by_rule("timeout", f"timeout {format_duration(rules.timeout_s)} passed",
                                     stop=rules.timeout_action == "stop")
        if rules.max_cost:
            used = self.used()
            over = [k for k, limit in rules.max_cost.items() if used.get(k, 0.0) >= limit]
            if over:
                shown = format_cost({k: round(used[k], 3) for k in over})
                self.control.end_by_rule("max_cost", f"max_cost {format_cost(rules.max_cost)} used up ({shown} "
                                         "spent in this study)", stop=True)

    def status(self) -> Dict[str, Any]:
        """What the study's ``stop_rules`` attribute holds (the dashboard shows it): the rules,
        what is used and left, and the rule that ended the run (None while none did)."""
        used = self.used()
        rules = self.rules
        left: Dict[str, Any] = {}
        if rules.timeout_s:
            left["timeout_s"] = max(0.0, rules.timeout_s - self.elapsed())
        for kind, limit in rules.max_cost.items():
            left[f"{kind}_h"] = max(0.0, limit - used.get(kind, 0.0))
        if rules.patience:
            left["patience"] = max(0, rules.patience - self.since_improved)
        return {"rules": rules.to_json(), "described": rules.describe(), "used_h": {k: round(v, 6) for k, v in
                                                                                      used.items()},
                "elapsed_s": round(self.elapsed(), 3), "left": left,
                "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "stopped_by": self.control.rule, "stop_reason": self.control.rule_reason}


def _hours(value: Any) -> Optional[Dict[str, float]]:
    if not isinstance(value, dict):
        return None
    try:
        return {k: float(value.get(k) or 0.0) for k in COST_KINDS}
    except (TypeError, ValueError):
        return None
