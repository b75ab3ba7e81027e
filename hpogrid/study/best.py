"""What a run says at its end about the whole study: its best trials, read in one place.

Every backend's run summary shows the same thing, so it is computed here from the store and
the CLI only prints it: for one objective the feasible COMPLETED trials by value (infeasible
ones are never best), for several the Pareto front ordered by the primary objective; plus how
many trials broke a constraint and how many failed, with the last failure's error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from hpogrid.objectives import Objectives
from hpogrid.study.records import COMPLETED, FAILED, TrialRecord
from hpogrid.study.standing import standing, study_objectives
from hpogrid.study.store import StudyStore


@dataclass(frozen=True)
class BestSoFar:
    """The study's best trials, best first (see the module docstring)."""

    objectives: Objectives
    best: Tuple[TrialRecord, ...]
    #: COMPLETED trials that break an outcome constraint
    infeasible: int
    failed: int
    #: the error text of the failed trial with the highest number (None: no failed trial)
    last_error: Optional[str]


def best_so_far(url: str, study: str, top: Optional[int] = None) -> BestSoFar:
    """The best trials of ``study`` in the store at ``url`` (a run's own store: it exists);
    with ``top``, at most that many: one objective without constraints then reads only those
    trials and the last failure (a run's end on a study of 100,000 trials stays quick)."""
    with StudyStore(url, access="read") as store:
        objectives = study_objectives(store.get_study(study))
        if top is not None and not objectives.is_multi and not objectives.constraints:
            last = store.latest(study, FAILED)
            return BestSoFar(objectives=objectives, best=tuple(store.ranked(study, top)), infeasible=0,
                             failed=store.counts(study).get(FAILED, 0), last_error=last.error if last else None)
        done = store.trials(study, states=[COMPLETED])
        failed = store.trials(study, states=[FAILED])
    marks = standing(objectives, done)
    if objectives.is_multi:
        sign = -1 if objectives.mode == "max" else 1  # the front by its primary objective
        best = sorted((t for t, on in zip(done, marks.pareto) if on),  # on the front: every value finite
                      key=lambda t: (sign * (objectives.values(t.metrics) or (0.0,))[0], t.number))
    else:
        best = [t for t, ok in zip(done, marks.feasible) if ok and t.value is not None]
        best.sort(key=lambda t: float(t.value or 0.0), reverse=objectives.mode == "max")
    return BestSoFar(objectives=objectives, best=tuple(best), infeasible=marks.infeasible, failed=len(failed),
                     last_error=failed[-1].error if failed else None)
