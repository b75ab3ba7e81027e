"""Multi-fidelity on a central grid search: successive halving in waves of grid tasks.

A grid job cannot be told to stop mid-way (it runs its points to the end, far from the
driver), so ``hyperband`` and ``asynchyperband`` act between jobs instead of inside them:
wave 0 evaluates every point at the first rung's budget (its ``time_attr`` value travels with
the task as the points' ``stop``), and each later wave runs again only the best
``1/reduction_factor`` of the points that reached the rung before (at least one), with the
next rung's budget, until ``max_t``. A promoted point runs again under its own uid, in a new
grid job, which gets the point's checkpoint from the earlier task's output
(:mod:`._checkpoints`): a model that checkpoints goes on from it, one that does not trains
from the start with the larger budget.

Everything a wave decides is read from the study (each trial's annotation ``rungs``, one entry
per wave it ran in), so the promotion is recorded where ``report``, the HTML page and the
dashboard read it. A point left at a rung below the last is COMPLETED with the annotation
``stopped_early`` (``at``: its budget), as a trial stopped by the engine's ASHA elsewhere.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from hpogrid.study.records import COMPLETED, RUNGS, STOPPED_EARLY

if TYPE_CHECKING:
    from hpogrid.engine import RunSpec
    from hpogrid.study import TrialRecord

#: schedulers a central grid search runs as waves
WAVE_SCHEDULERS = ("hyperband", "asynchyperband")


@dataclass(frozen=True)
class WavePlan:
    """The rungs of a run and how points climb them (see the module docstring)."""

    scheduler: str
    time_attr: str
    metric: str
    mode: str
    reduction_factor: float
    budgets: Tuple[float, ...]

    @classmethod
    def of(cls, spec: RunSpec) -> Optional["WavePlan"]:
        """The waves of a run with ``spec`` (None: no multi-fidelity scheduler, or trials that
        report once, as the engine's schedulers elsewhere)."""
        if spec.scheduler not in WAVE_SCHEDULERS or dict(spec.stop) == {"training_iteration": 1}:
            return None
        params = dict(spec.scheduler_param)
        metric = params.get("metric") or spec.metric
        mode = next((o.mode for o in spec.objectives if o.metric == metric), spec.mode)
        rf = float(params.get("reduction_factor", 4 if spec.scheduler == "asynchyperband" else 3))
        time_attr = str(params.get("time_attr", "training_iteration"))
        max_t = float(params.get("max_t", 100 if spec.scheduler == "asynchyperband" else 81))  # Ray's defaults
        bound = spec.stop.get(time_attr)
        if isinstance(bound, (int, float)) and not isinstance(bound, bool) and bound > 0:
            max_t = min(max_t, float(bound))  # the hpo_config's stop bounds the last rung
        grace = min(float(params.get("grace_period", 1)), max_t)
        return cls(spec.scheduler, time_attr, metric, mode, rf, rung_budgets(grace, rf, max_t))

    def budget(self, rung: int) -> Any:
        """The ``time_attr`` value that ends a point at ``rung`` (whole numbers stay whole)."""
        budget = self.budgets[rung]
        return int(budget) if float(budget).is_integer() else budget

    def stop(self, rung: int, base: Mapping[str, Any]) -> Dict[str, Any]:
        """The stop criteria of a point at ``rung``: ``base`` (the hpo_config's) with the budget."""
        return {**base, self.time_attr: self.budget(rung)}

    # -- what the study says ------------------------------------------------------------------
    def value_at(self, record: TrialRecord, rung: int) -> Optional[float]:
        """The scheduler metric's value trial ``record`` reached at ``rung`` (None: it did not)."""
        for entry in (record.annotations or {}).get(RUNGS) or []:
            if isinstance(entry, dict) and entry.get("rung") == rung and isinstance(entry.get("value"), (int, float)):
                return float(entry["value"])
        return None

    def promoted(self, records: Sequence[TrialRecord], rung: int) -> List[TrialRecord]:
        """The points that go on from ``rung`` to ``rung + 1``: the best ``1/reduction_factor`` of
        those that reached it (at least one), ties broken by trial number."""
        reached = [(v, r) for r in records if (v := self.value_at(r, rung)) is not None]
        keep = max(1, math.floor(len(reached) / self.reduction_factor)) if reached else 0
        sign = -1.0 if self.mode == "max" else 1.0
        reached.sort(key=lambda vr: (sign * vr[0], vr[1].number))
        return [r for _, r in reached[:keep]]

    def summary(self, records: Sequence[TrialRecord]) -> str:
        """One line for the run's notes: how many points of the study ran at each rung."""
        counts = [sum(self.value_at(t, k) is not None for t in records) for k in range(len(self.budgets))]
        return (f"{self.scheduler} as waves of grid tasks: " + ", ".join(
            f"{n} point(s) at {self.time_attr}={self.budget(k)}" for k, n in enumerate(counts)))

    def rung_of(self, record: TrialRecord, default: int) -> int:
        """The rung ``record`` ran at: ``default`` (the wave's), or a later one whose budget its
        curve ended at (a trial taken over by ``--resume`` ran at the budget its task carried)."""
        times = [i.get(self.time_attr) for i in record.intermediate or []]
        last = next((t for t in reversed(times) if isinstance(t, (int, float))), None)
        hit = next((k for k, b in enumerate(self.budgets) if last is not None and abs(last - b) < 1e-9), default)
        return max(hit, default)

    def next_wave(self, store, study: str, rung: int) -> List[TrialRecord]:
        """The points to run at ``rung`` (> 0): those promoted from the rung before among every
        point of the study that reached it, less those that ran at ``rung`` already (a resumed
        run). The others that reached the rung before are left there (stopped early)."""
        reached = [t for t in store.trials(study) if self.value_at(t, rung - 1) is not None]
        promoted = self.promoted(reached, rung - 1)
        going = {t.uid for t in promoted}
        for t in reached:
            if t.uid not in going and self.value_at(t, rung) is None:
                self._left(store, study, t, rung - 1)
        return [t for t in promoted if self.value_at(t, rung) is None]

    def ended(self, store, study: str, uids: Sequence[str], rung: int,
              curves: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """The wave that ran ``uids`` at ``rung`` is over: note each finished one's rung
        (:meth:`_record`); ``curves``: their curves before this wave, kept in front of its own."""
        wanted = set(uids)
        for t in store.trials(study):
            if t.uid not in wanted or not t.is_finished:
                continue
            if t.uid in curves:
                self._merge_curve(store, study, t.uid, curves[t.uid], t.intermediate or [])
            self._record(store, study, t, self.rung_of(t, rung))

    def _record(self, store, study: str, record: TrialRecord, rung: int) -> None:
        """Note in the study that ``record`` ran at ``rung``: its budget, state and value there
        (the scheduler metric; COMPLETED only) and its grid task."""
        notes = record.annotations or {}
        rungs = [e for e in notes.get(RUNGS) or [] if isinstance(e, dict) and e.get("rung") != rung]
        value = record.metrics.get(self.metric) if record.state == COMPLETED else None
        entry: Dict[str, Any] = {"rung": rung, "budget": self.budget(rung), "state": str(record.state),
                                 "value": value if isinstance(value, (int, float)) else None,
                                 "task": notes.get("taskname")}
        fields: Dict[str, Any] = {RUNGS: sorted(rungs + [entry], key=lambda e: e["rung"])}
        if notes.get(STOPPED_EARLY) is not None:  # left at a rung before, promoted since (a resumed run)
            fields[STOPPED_EARLY] = None
        store.upsert_trial(study, record.uid, annotations=fields)

    def _left(self, store, study: str, record: TrialRecord, rung: int) -> None:
        """``record`` reached ``rung`` and was not promoted: stopped early at its budget (as
        the engine's schedulers record a stopped trial, so every view shows it)."""
        budget = self.budget(rung)
        store.upsert_trial(study, record.uid, annotations={STOPPED_EARLY: {
            "by": self.scheduler, "at": budget,
            "why": f"not promoted past rung {rung} ({self.time_attr}={budget:g}): not in the best "
                   f"1/{self.reduction_factor:g}"}})

    def _merge_curve(self, store, study: str, uid: str, earlier: Sequence[Mapping[str, Any]],
                     now: Sequence[Mapping[str, Any]]) -> None:
        """The curve of a point run again: the earlier waves' iterations before the first one of
        this wave, then this wave's (a model that restarted from scratch reported them all)."""
        first = next((i.get(self.time_attr) for i in now if isinstance(i.get(self.time_attr), (int, float))), None)
        if first is None or not earlier:
            return
        kept = [i for i in earlier if isinstance(i.get(self.time_attr), (int, float)) and i[self.time_attr] < first]
        if kept:
            store.upsert_trial(study, uid, intermediate=[dict(i) for i in kept] + [dict(i) for i in now])


def rung_budgets(grace_period: float, reduction_factor: float, max_t: float) -> Tuple[float, ...]:
    """``grace_period * reduction_factor**k`` below ``max_t``, then ``max_t`` (ASHA's rungs and
    the end of a trial)."""
    out: List[float] = []
    budget = float(grace_period)
    while budget < max_t - 1e-9:
        out.append(budget)
        budget *= reduction_factor
    return tuple(out + [float(max_t)])
