"""``StudyInspector`` (what an evaluation stage receives) on constrained and multi-objective studies."""
import pytest

from hpogrid.errors import StudyError
from hpogrid.objectives import Objectives
from hpogrid.study import StudyStore, sqlite_url
from hpogrid.workflow._inspector import StudyInspector


def inspector(tmp_path, objectives):
    store = StudyStore(sqlite_url(tmp_path / "s.db"))
    store.create_study("s", objectives.metric, objectives.mode, attrs=objectives.to_attrs())
    for uid, loss, acc, latency in (("a", 0.3, 0.7, 10), ("cheat", 0.1, 0.9, 50), ("b", 0.2, 0.6, 5)):
        store.upsert_trial("s", uid, state="COMPLETED", metrics={"loss": loss, "acc": acc, "latency": latency})
    return StudyInspector(store, "s")


def test_constrained_study_skips_infeasible_trials(tmp_path):
    insp = inspector(tmp_path, Objectives.parse("loss", "min", {"latency": ["<=", 20]}))
    assert insp.best_trial.uid == "b" and [t.uid for t in insp.best_trials] == ["b"]
    assert insp.get_losses() == [0.3, 0.1, 0.2]  # every completed trial, as before
    assert [(h["best"], h["feasible"]) for h in insp.get_history()] == [(0.3, True), (0.3, False), (0.2, True)]
    assert list(insp.to_dataframe()["feasible"]) == [True, False, True]


def test_multi_objective_study_has_a_front_not_a_best(tmp_path):
    insp = inspector(tmp_path, Objectives.parse(["loss", "acc"], ["min", "max"]))
    assert insp.objectives.metrics == ("loss", "acc")
    assert [t.uid for t in insp.best_trials] == ["cheat"]
    with pytest.raises(StudyError, match="use best_trials"):
        insp.best_trial


def test_single_objective_history_is_unchanged(tmp_path):
    insp = inspector(tmp_path, Objectives.parse("loss", "min"))
    assert insp.get_history()[1] == {"number": 1, "params": {}, "value": 0.1, "best": 0.1}
    assert insp.best_trial.uid == "cheat"
