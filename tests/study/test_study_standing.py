"""Several objectives and outcome constraints as a study reads them: feasibility, the Pareto
front (checked against a brute-force dominance test), front ranks, ``best_trial(s)`` and the
DataFrame columns. Studies are written straight through the store (no engine)."""
import math
import random

import pytest

from hpogrid.errors import StudyError
from hpogrid.objectives import Objectives
from hpogrid.study import StudyStore, load, sqlite_url
from hpogrid.study.view import BASE_COLUMNS, STANDING_COLUMNS

LIMIT = 0.7  # constraint: latency <= LIMIT


def better_or_equal(a, b, modes):
    return all((x <= y) if m == "min" else (x >= y) for x, y, m in zip(a, b, modes))


def brute_dominated(p, others, modes):
    return any(better_or_equal(q, p, modes) and q != p for q in others)


def write_random_study(url, name, modes, n=60, seed=0, constrained=True):
    """``n`` trials with random objective values (on a coarse grid: ties and duplicates), some
    FAILED / RUNNING / missing an objective / NaN, and a ``latency`` constraint."""
    metrics = ["loss", "acc", "size"][: len(modes)]
    objectives = Objectives.parse(metrics, list(modes), {"latency": ["<=", LIMIT]} if constrained else None)
    store = StudyStore(url)
    store.create_study(name, objectives.metric, objectives.mode, attrs={"project": name, **objectives.to_attrs()})
    rng = random.Random(seed)
    for i in range(n):
        values = {m: rng.randint(0, 6) / 6 for m in metrics}
        values["latency"] = rng.random()
        state = "COMPLETED"
        kind = i % 10
        if kind == 3:
            state = "FAILED"
        elif kind == 5:
            state = "RUNNING"
        elif kind == 7 and len(metrics) > 1:
            values.pop(metrics[-1])  # a completed trial that did not report every objective
        elif kind == 8:
            values[metrics[0]] = math.nan
        store.upsert_trial(name, f"t{i:03d}", state=state, params={"x": i}, metrics=values)
    store.close()
    return objectives


def expected(trials, objectives, constrained=True):
    """(feasible by uid, eligible uids, front uids, rank by uid), by brute force."""
    feasible, points = {}, {}
    for t in trials:
        if t.state != "COMPLETED":
            feasible[t.uid] = None
            continue
        feasible[t.uid] = (t.metrics.get("latency", math.inf) <= LIMIT) if constrained else True
        vals = [t.metrics.get(m) for m in objectives.metrics]
        if feasible[t.uid] and all(isinstance(v, float) and math.isfinite(v) for v in vals):
            points[t.uid] = tuple(vals)
    ranks, left, r = {}, dict(points), 0
    while left:
        front = {u for u, p in left.items() if not brute_dominated(p, list(left.values()), objectives.modes)}
        ranks.update(dict.fromkeys(front, r))
        left = {u: p for u, p in left.items() if u not in front}
        r += 1
    return feasible, set(points), {u for u, k in ranks.items() if k == 0}, ranks


@pytest.mark.parametrize("modes", [("min", "max"), ("max", "min", "min")])
def test_front_ranks_and_feasibility_match_brute_force(tmp_path, modes):
    url = sqlite_url(tmp_path / "s.db")
    objectives = write_random_study(url, "mo", modes)
    with load(url) as view:
        assert view.objectives == objectives
        trials = view.trials
        feasible, eligible, front, ranks = expected(trials, objectives)
        assert 2 <= len(front) < len(eligible)  # the data exercise both sides
        assert any(f is False for f in feasible.values())
        best = view.best_trials
        assert [t.uid for t in best] == sorted(front)
        assert all(feasible[t.uid] for t in best)

        df = view.to_dataframe()
        assert list(df.columns[: len(BASE_COLUMNS) + 3]) == [*BASE_COLUMNS, *STANDING_COLUMNS]
        by_uid = df.set_index("uid")
        for t in trials:
            row = by_uid.loc[t.uid]
            if feasible[t.uid] is None:
                assert row["feasible"] is None or str(row["feasible"]) == "<NA>"
            else:
                assert bool(row["feasible"]) is feasible[t.uid]
            assert bool(row["pareto"]) is (t.uid in front)
            if t.uid in ranks:
                assert int(row["pareto_rank"]) == ranks[t.uid]
            else:
                assert str(row["pareto_rank"]) == "<NA>"
        assert str(df["feasible"].dtype) == "boolean" and str(df["pareto_rank"].dtype) == "Int64"
        assert set(df[df["feasible"]]["uid"]) == {u for u, f in feasible.items() if f}  # NA counts as False
        assert {"metric.loss", "metric.acc", "metric.latency"} <= set(df.columns)


def test_infeasible_trials_are_never_best(tmp_path):
    """A trial that would dominate everything but breaks the constraint is left out of the front."""
    url = sqlite_url(tmp_path / "s.db")
    objectives = Objectives.parse(["loss", "acc"], ["min", "max"], {"latency": ["<=", 20]})
    store = StudyStore(url)
    store.create_study("s", "loss", "min", attrs=objectives.to_attrs())
    store.upsert_trial("s", "cheat", state="COMPLETED", metrics={"loss": 0.0, "acc": 1.0, "latency": 50})
    store.upsert_trial("s", "a", state="COMPLETED", metrics={"loss": 0.2, "acc": 0.7, "latency": 10})
    store.upsert_trial("s", "b", state="COMPLETED", metrics={"loss": 0.3, "acc": 0.9, "latency": 20})
    store.upsert_trial("s", "c", state="COMPLETED", metrics={"loss": 0.4, "acc": 0.6, "latency": 5})
    store.upsert_trial("s", "no-latency", state="COMPLETED", metrics={"loss": 0.1, "acc": 0.95})
    view = load(url)
    assert [t.uid for t in view.best_trials] == ["a", "b"]
    df = view.to_dataframe().set_index("uid")
    assert list(df["feasible"]) == [False, True, True, True, False]
    assert list(df["pareto"]) == [False, True, True, False, False]
    assert df.loc["c", "pareto_rank"] == 1 and str(df.loc["cheat", "pareto_rank"]) == "<NA>"
    # the store's primary-objective best skips the infeasible ones too
    assert store.best_trial("s").uid == "a"
    store.close()


def test_best_trial_of_a_multi_objective_study_is_an_error(tmp_path):
    url = sqlite_url(tmp_path / "s.db")
    objectives = Objectives.parse("loss,latency", "min,min")
    store = StudyStore(url)
    store.create_study("s", "loss", "min", attrs=objectives.to_attrs())
    store.upsert_trial("s", "a", state="COMPLETED", metrics={"loss": 0.2, "latency": 3.0})
    with pytest.raises(StudyError) as err:
        load(url).best_trial
    message = str(err.value)
    assert "\n" not in message and "best_trials" in message and "loss (min), latency (min)" in message
    assert store.best_trial("s").uid == "a"  # the store still answers for the primary objective
    store.close()


def test_best_trial_skips_infeasible_on_every_storage(store, unique_name):
    objectives = Objectives.parse("loss", "min", {"latency": ["<=", 20], "acc": [">=", 0.5]})
    name = store.create_study(unique_name(), "loss", "min", attrs=objectives.to_attrs()).name
    store.upsert_trial(name, "fast-but-wrong", state="COMPLETED", metrics={"loss": 0.1, "latency": 10, "acc": 0.4})
    store.upsert_trial(name, "too-slow", state="COMPLETED", metrics={"loss": 0.2, "latency": 30, "acc": 0.9})
    assert store.best_trial(name) is None  # none feasible yet
    store.upsert_trial(name, "ok", state="COMPLETED", metrics={"loss": 0.3, "latency": 20, "acc": 0.5})
    store.upsert_trial(name, "worse", state="COMPLETED", metrics={"loss": 0.4, "latency": 1, "acc": 1.0})
    store.upsert_trial(name, "nan", state="COMPLETED", metrics={"loss": 0.35, "latency": math.nan, "acc": 1.0})
    assert store.best_trial(name).uid == "ok"


def test_single_objective_study_reads_as_before(tmp_path):
    url = sqlite_url(tmp_path / "s.db")
    store = StudyStore(url)
    store.create_study("s", "acc", "max")
    for uid, acc, state in (("a", 0.5, "COMPLETED"), ("b", 0.9, "COMPLETED"), ("c", 0.9, "COMPLETED"),
                            ("d", 0.99, "RUNNING")):
        store.upsert_trial("s", uid, state=state, metrics={"acc": acc})
    store.close()
    view = load(url)
    assert view.objectives == Objectives.parse("acc", "max")
    assert view.best_trial.uid == "b"
    assert [t.uid for t in view.best_trials] == ["b", "c"]  # ties all belong to the front
    assert list(view.to_dataframe().columns) == [*BASE_COLUMNS, "metric.acc"]
