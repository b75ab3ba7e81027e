"""Where each trial of a study stands against its objectives: feasible, on the Pareto front,
its front rank. Computed at read time from the study's stored definition
(:meth:`hpogrid.objectives.Objectives.from_study`), so every reader agrees on it.

* A trial is *eligible* when it is COMPLETED, feasible (its final metrics break no outcome
  constraint) and every objective has a finite value; only eligible trials are ever "best".
* The *front* is the set of eligible trials no other eligible trial dominates: the Pareto
  front of a multi-objective study, the trial(s) tied at the best value of a single one.
* Feasibility is known for COMPLETED trials only (``None`` for the others: their metrics are
  not final).

Single-objective values come from the ``value`` column (what :meth:`StudyStore.best_trial`
orders by); several objectives from each trial's ``metrics``. numpy is imported only when a
front is computed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from hpogrid.objectives import Objectives
from hpogrid.study.records import COMPLETED, StudyInfo, TrialRecord
from hpogrid.study.values import finite_or_none


def study_objectives(info: StudyInfo) -> Objectives:
    """The objectives and constraints a stored study was run for."""
    return Objectives.from_study(info.metric, info.mode, info.attrs)


def objective_values(objectives: Objectives, trial: TrialRecord) -> Optional[Tuple[float, ...]]:
    """The trial's finite value of every objective, in order; None when one is missing."""
    if not objectives.is_multi:
        value = finite_or_none(trial.value)
        return None if value is None else (value,)
    return objectives.values(trial.metrics)


def feasibility(objectives: Objectives, trial: TrialRecord) -> Optional[bool]:
    """True/False for a COMPLETED trial (its constraints hold or not), None for the others."""
    if trial.state != COMPLETED:
        return None
    return objectives.feasible(trial.metrics) if objectives.constraints else True


@dataclass(frozen=True)
class Standing:
    """Per trial, in the order given: ``feasible`` (None unless COMPLETED), ``eligible``,
    ``pareto`` (on the front of the eligible trials) and ``rank`` (0 = the front; None for
    trials that are not eligible, or when ranks were not asked for)."""

    feasible: Tuple[Optional[bool], ...]
    eligible: Tuple[bool, ...]
    pareto: Tuple[bool, ...]
    rank: Tuple[Optional[int], ...]

    @property
    def front(self) -> List[int]:
        """Positions of the trials on the front."""
        return [i for i, on in enumerate(self.pareto) if on]

    @property
    def infeasible(self) -> int:
        """How many COMPLETED trials break a constraint."""
        return sum(1 for f in self.feasible if f is False)


def standing(objectives: Objectives, trials: Sequence[TrialRecord], ranks: bool = False,
             front: bool = True) -> Standing:
    """Where each of ``trials`` stands (front ranks too with ``ranks``: a full non-dominated
    sort, which costs more than the front alone on big studies; ``front=False`` leaves the
    front out, all ``pareto`` False, for readers that only need feasibility)."""
    feasible = tuple(feasibility(objectives, t) for t in trials)
    points: List[Tuple[float, ...]] = []
    where: List[int] = []
    for i, (t, ok) in enumerate(zip(trials, feasible)):
        if ok:
            values = objective_values(objectives, t)
            if values is not None:
                points.append(values)
                where.append(i)
    eligible = [False] * len(trials)
    pareto_on = [False] * len(trials)
    rank: List[Optional[int]] = [None] * len(trials)
    if points and (front or ranks):
        from hpogrid import pareto

        if ranks:
            for i, r in zip(where, pareto.front_ranks(points, objectives.modes)):
                rank[i] = r
                pareto_on[i] = r == 0
        else:
            for i, on in zip(where, pareto.front_mask(points, objectives.modes)):
                pareto_on[i] = on
    for i in where:
        eligible[i] = True
    return Standing(feasible, tuple(eligible), tuple(pareto_on), tuple(rank))
