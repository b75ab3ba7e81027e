"""The rungs of a multi-fidelity central grid search and who climbs them (:mod:`hpogrid.backends.panda._waves`),
without PanDA: the waves themselves are tested through the PanDA test server in test_central_waves.py."""
from dataclasses import dataclass, field
from typing import Any, Dict, List

from hpogrid.backends.panda._waves import WavePlan, rung_budgets
from hpogrid.study.records import COMPLETED, RUNGS


@dataclass
class _Trial:  # the fields of a TrialRecord the waves read
    uid: str
    number: int
    annotations: Dict[str, Any] = field(default_factory=dict)
    intermediate: List[Dict[str, Any]] = field(default_factory=list)
    state: str = COMPLETED


def _plan(mode="min", rf=3.0):
    return WavePlan("asynchyperband", "training_iteration", "loss", mode, rf, rung_budgets(1, rf, 9))


def _at(rung, *values):
    return [_Trial(f"t{i}", i, {RUNGS: [{"rung": rung, "value": v}]}) for i, v in enumerate(values)]


def test_rungs_are_grace_period_times_powers_of_the_reduction_factor_up_to_max_t():
    assert rung_budgets(1, 3, 9) == (1, 3, 9)
    assert rung_budgets(1, 4, 100) == (1, 4, 16, 64, 100)
    assert rung_budgets(2, 2, 2) == (2,)
    assert _plan().stop(1, {"training_iteration": 9, "loss": 0.1}) == {"training_iteration": 3, "loss": 0.1}


def test_the_best_third_is_promoted_by_its_value_at_the_rung():
    trials = _at(0, 5.0, 1.0, 3.0, 2.0, 9.0, 4.0)
    assert [t.uid for t in _plan().promoted(trials, 0)] == ["t1", "t3"]
    assert [t.uid for t in _plan(mode="max").promoted(trials, 0)] == ["t4", "t0"]
    # at least one goes on; equal values: the earlier trial
    assert [t.uid for t in _plan().promoted(_at(0, 2.0, 2.0), 0)] == ["t0"]
    # only points that reached the rung count
    assert _plan().promoted(trials, 1) == []


def test_the_rung_a_trial_ran_at_follows_from_where_its_curve_ended():
    t = _Trial("t", 0, intermediate=[{"training_iteration": i} for i in (1, 2, 3)])
    assert _plan().rung_of(t, default=0) == 1
    t.intermediate = t.intermediate[:2]  # ended before a rung's budget: the wave's own
    assert _plan().rung_of(t, default=2) == 2
    t.intermediate = [{"training_iteration": i} for i in (1, 2, 3)]  # a model that has 3 epochs in all
    assert _plan().rung_of(t, default=2) == 2


def test_waves_need_a_multi_fidelity_scheduler_and_trials_that_report_more_than_once():
    from types import SimpleNamespace

    from hpogrid.objectives import Objectives

    def spec(scheduler, stop, **param):
        return SimpleNamespace(scheduler=scheduler, stop=stop, scheduler_param=param, metric="acc", mode="max",
                               objectives=Objectives.parse("acc", "max"))

    plan = WavePlan.of(spec("asynchyperband", {"training_iteration": 9}, max_t=9, reduction_factor=3))
    assert plan is not None and plan.budgets == (1, 3, 9) and plan.mode == "max" and plan.metric == "acc"
    assert WavePlan.of(spec("hyperband", {"training_iteration": 30}, max_t=27)).budgets == (1, 3, 9, 27)
    # the hpo_config's stop bounds the last rung
    assert WavePlan.of(spec("asynchyperband", {"training_iteration": 20})).budgets == (1, 4, 16, 20)
    assert WavePlan.of(spec("fifo", {"training_iteration": 9})) is None
    assert WavePlan.of(spec("median", {"training_iteration": 9})) is None
    assert WavePlan.of(spec("asynchyperband", {"training_iteration": 1})) is None
