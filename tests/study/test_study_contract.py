"""The study-store contract, run unchanged on SQLite, PostgreSQL and MariaDB."""
import math
import multiprocessing
import pickle
import threading
from datetime import datetime, timedelta, timezone

import pytest

from hpogrid.errors import (
    AlreadyExistsError,
    InvalidNameError,
    NotFoundError,
    StudyError,
    ValidationError,
)
from hpogrid.study import STATES, StudyInfo, StudyStore, TrialRecord

UTC = timezone.utc


# -- studies ------------------------------------------------------------------------


def test_create_get_list_study(store, unique_name):
    name = unique_name()
    attrs = {"project": "p", "hpo": {"algorithm": "random", "n": 3, "tags": ["a", "é"]}}
    info = store.create_study(name, metric="auc", mode="max", attrs=attrs)
    assert isinstance(info, StudyInfo)
    assert (info.name, info.metric, info.mode, info.attrs) == (name, "auc", "max", attrs)
    assert info.created_at.tzinfo is not None and info.created_at.utcoffset() == timedelta(0)
    assert store.get_study(name) == info
    assert name in [s.name for s in store.list_studies()]
    assert store.get_study(info) == info  # a StudyInfo works wherever a name does


def test_study_errors(store, unique_name):
    name = unique_name()
    store.create_study(name, "loss", "min")
    with pytest.raises(AlreadyExistsError, match=name):
        store.create_study(name, "loss", "min")
    with pytest.raises(NotFoundError, match="no_such"):
        store.get_study(unique_name("no_such"))
    with pytest.raises(ValidationError, match="mode"):
        store.create_study(unique_name(), "loss", "sideways")
    with pytest.raises(InvalidNameError):
        store.create_study("../evil", "loss", "min")


def test_study_names_are_case_sensitive(store, unique_name):
    name = unique_name("Case")
    store.create_study(name, "loss", "min")
    lower = name.lower()
    store.create_study(lower, "loss", "max")
    try:
        assert store.get_study(name).mode == "min"
        assert store.get_study(lower).mode == "max"
    finally:
        store.delete_study(lower)


def test_get_or_create_study(store, unique_name):
    name = unique_name()
    a = store.get_or_create_study(name, "loss", "min", {"v": 1})
    b = store.get_or_create_study(name, "loss", "min", {"v": 2})
    assert a == b and b.attrs == {"v": 1}
    with pytest.raises(StudyError, match="optimises 'loss'"):
        store.get_or_create_study(name, "loss", "max")


def test_delete_study_removes_trials(store, unique_name):
    name = unique_name()
    store.create_study(name, "loss", "min")
    store.upsert_trial(name, "a", state="COMPLETED", metrics={"loss": 1.0})
    store.delete_study(name)
    with pytest.raises(NotFoundError):
        store.get_study(name)
    with pytest.raises(NotFoundError):
        store.delete_study(name)
    store.create_study(name, "loss", "min")  # the name is free again, with no old trials
    assert store.trials(name) == []


def test_update_attrs_sets_keys_and_keeps_the_others(store, unique_name):
    name = unique_name()
    store.create_study(name, metric="loss", mode="min", attrs={"project": "p", "stop_rules": {"a": 1}})
    info = store.update_attrs(name, {"stop_rules": {"stopped_by": "timeout", "left": {"timeout_s": 0.0}}})
    assert info.attrs == {"project": "p", "stop_rules": {"stopped_by": "timeout", "left": {"timeout_s": 0.0}}}
    assert store.get_study(name).attrs == info.attrs
    with pytest.raises(NotFoundError):
        store.update_attrs(name + "-none", {"x": 1})


def test_copy_study(store, unique_name, study):
    store.upsert_trial(study, "a", state="COMPLETED", params={"x": [1, {"y": "z"}]},
                       metrics={"loss": 0.5}, backend="panda", job_id=42, site="CERN")
    store.append_intermediate(study, "b", {"loss": 2.0})
    store.append_intermediate(study, "b", {"loss": 1.0})
    dst = unique_name("backup")
    info = store.copy_study(study, dst)
    assert (info.name, info.metric, info.mode) == (dst, "loss", "min")
    src_trials, dst_trials = store.trials(study), store.trials(dst)
    assert len(dst_trials) == 2
    for s, d in zip(src_trials, dst_trials):
        assert d.study == dst
        assert {**s.__dict__, "study": dst} == d.__dict__
    # the copy is independent of its source
    store.upsert_trial(dst, "c", state="PENDING")
    store.upsert_trial(study, "a", state="FAILED")
    assert len(store.trials(study)) == 2
    assert store.trials(dst)[0].state == "COMPLETED"
    with pytest.raises(AlreadyExistsError):
        store.copy_study(study, dst)
    with pytest.raises(NotFoundError):
        store.copy_study(unique_name("missing"), unique_name())


# -- upsert ---------------------------------------------------------------------------


def test_upsert_is_idempotent(store, study):
    first = store.upsert_trial(study, "ray-1", state="RUNNING", params={"lr": 0.1}, host="n1")
    second = store.upsert_trial(study, "ray-1", state="RUNNING", params={"lr": 0.1}, host="n1")
    assert isinstance(first, TrialRecord)
    assert len(store.trials(study)) == 1
    assert first.number == second.number == 0
    # later calls change only the fields they name
    third = store.upsert_trial(study, "ray-1", state="COMPLETED", metrics={"loss": 0.3})
    assert third.params == {"lr": 0.1} and third.host == "n1"
    assert third.number == 0 and third.value == 0.3
    assert store.trials(study) == [third]


def test_numbers_are_unique_and_sequential(store, study):
    numbers = [store.upsert_trial(study, f"u{i}").number for i in range(12)]
    assert numbers == list(range(12))
    assert store.upsert_trial(study, "u5", state="RUNNING").number == 5
    assert [t.number for t in store.trials(study)] == list(range(12))
    assert [t.uid for t in store.trials(study)] == [f"u{i}" for i in range(12)]


def test_uids_are_case_sensitive(store, study):
    store.upsert_trial(study, "Job-A")
    store.upsert_trial(study, "job-a")
    assert [t.uid for t in store.trials(study)] == ["Job-A", "job-a"]


def test_numbers_restart_per_study(store, unique_name):
    a, b = unique_name(), unique_name()
    store.create_study(a, "loss", "min")
    store.create_study(b, "loss", "min")
    store.upsert_trial(a, "x")
    store.upsert_trial(a, "y")
    assert store.upsert_trial(b, "x").number == 0


def test_value_follows_metric(store, study):
    t = store.upsert_trial(study, "a", metrics={"loss": 0.25, "acc": 0.9})
    assert t.value == 0.25
    t = store.upsert_trial(study, "a", metrics={"loss": 0.5}, value=0.1)  # explicit wins
    assert t.value == 0.1
    t = store.upsert_trial(study, "a", metrics={"acc": 0.9})  # metric missing
    assert t.value is None
    t = store.upsert_trial(study, "a", metrics={"loss": "oops"})  # not a number
    assert t.value is None
    t = store.upsert_trial(study, "a", value=7)
    assert t.value == 7.0 and t.metrics == {"loss": "oops"}
    precise = 0.123456789012345678
    assert store.upsert_trial(study, "b", metrics={"loss": precise}).value == precise
    assert store.trials(study)[1].value == precise  # double precision on every database


def test_unknown_field_and_bad_values(store, study):
    with pytest.raises(TypeError, match="colour"):
        store.upsert_trial(study, "a", colour="red")
    with pytest.raises(ValidationError, match="state"):
        store.upsert_trial(study, "a", state="DONE")
    with pytest.raises(ValidationError, match="params"):
        store.upsert_trial(study, "a", params=[1, 2])
    with pytest.raises(ValidationError, match="uid"):
        store.upsert_trial(study, "")
    with pytest.raises(ValidationError, match="naive"):
        store.upsert_trial(study, "a", started_at=datetime(2024, 1, 1))
    with pytest.raises(NotFoundError):
        store.upsert_trial("no_such_study_" + study, "a")
    assert store.trials(study) == []


def test_string_fields_and_ids(store, study):
    t = store.upsert_trial(study, 123, backend="panda", host="wn-7.cern.ch", job_id=6101234567,
                           task_id=42, site="CERN-PROD", error="Traceback...\nValueError: ✗")
    assert (t.uid, t.job_id, t.task_id) == ("123", "6101234567", "42")
    assert store.trials(study)[0] == t
    assert t.error.endswith("ValueError: ✗")


def test_json_round_trip(store, study):
    params = {
        "quote": 'it\'s "quoted" \\ back\\slash',
        "unicode": "αβγ ✓ 日本 🚀",
        "int": 3,
        "big": 2**53 + 1,
        "neg": -7,
        "float": 1.0,
        "small": 1e-12,
        "bool": True,
        "none": None,
        "list": [1, 2.5, "x", [True, None]],
        "nested": {"optimizer": {"name": "adam", "betas": [0.9, 0.999]}, "layers": 4},
        "empty": {},
    }
    annotations = {"ray": {"trial_id": "abc_00001"}, "note": "ünï"}
    store.upsert_trial(study, "a", params=params, annotations=annotations,
                       metrics={"loss": 1.5, "epoch": 3, "acc": float("nan")})
    fresh = StudyStore(store._url.render_as_string(hide_password=False))  # a new engine
    try:
        t = fresh.trials(study)[0]
    finally:
        fresh.close()
    assert t.params == params
    assert t.annotations == annotations
    assert type(t.params["int"]) is int and type(t.params["big"]) is int
    assert type(t.params["float"]) is float and type(t.params["nested"]["layers"]) is int
    assert type(t.metrics["epoch"]) is int and type(t.metrics["loss"]) is float
    assert math.isnan(t.metrics["acc"])


def test_numpy_and_tuples_are_normalised(store, study):
    np = pytest.importorskip("numpy")
    t = store.upsert_trial(study, "a", params={"n": np.int64(5), "x": np.float32(0.5), "t": (1, 2)},
                           metrics={"loss": np.float64(0.25), "v": np.array([1.0, 2.0])})
    assert store.trials(study) == [t]
    assert t.params == {"n": 5, "x": 0.5, "t": [1, 2]} and type(t.params["n"]) is int
    assert t.metrics == {"loss": 0.25, "v": [1.0, 2.0]} and t.value == 0.25


def test_datetimes_are_utc(store, study):
    cet = timezone(timedelta(hours=1))
    started = datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=cet)
    t = store.upsert_trial(study, "a", state="RUNNING", started_at=started,
                           heartbeat_at=1_700_000_000.5)
    stored = store.trials(study)[0]
    assert stored == t
    assert stored.started_at == started and stored.started_at.tzinfo == UTC
    assert stored.started_at.hour == 11 and stored.started_at.microsecond == 123456
    assert stored.heartbeat_at == datetime.fromtimestamp(1_700_000_000.5, UTC)


def test_lifecycle_timestamps(store, study):
    before = datetime.now(UTC) - timedelta(seconds=5)
    t = store.upsert_trial(study, "a")
    assert t.state == "PENDING" and t.started_at is None and t.finished_at is None
    assert t.created_at >= before
    t = store.upsert_trial(study, "a", state="RUNNING")
    assert t.started_at is not None and t.finished_at is None
    t = store.upsert_trial(study, "a", state="COMPLETED", metrics={"loss": 1.0})
    assert t.finished_at >= t.started_at and t.duration_s >= 0
    finished = t.finished_at
    t = store.upsert_trial(study, "a", state="COMPLETED")  # a repeated sync keeps the time
    assert t.finished_at == finished
    t = store.upsert_trial(study, "a", state="FAILED", error="boom")
    assert t.error == "boom"
    t = store.upsert_trial(study, "a", state="RUNNING")  # retried: not finished any more
    assert t.finished_at is None and t.error is None


# -- intermediate results, staleness -------------------------------------------------------


def test_append_intermediate_in_order(store, study):
    store.upsert_trial(study, "a", state="PENDING", params={"lr": 1})
    for i, loss in enumerate([3.0, 2.0, float("nan"), 1.0]):
        t = store.append_intermediate(study, "a", {"loss": loss, "iteration": i + 1})
    stored = store.trials(study)[0]
    assert stored.state == "RUNNING" and stored.started_at is not None
    assert [r["iteration"] for r in stored.intermediate] == [1, 2, 3, 4]
    losses = [r["loss"] for r in stored.intermediate]
    assert losses[:2] == [3.0, 2.0] and math.isnan(losses[2]) and losses[3] == 1.0
    assert stored.metrics == {"loss": 1.0, "iteration": 4} and stored.value == 1.0
    assert stored.params == {"lr": 1}
    assert stored.heartbeat_at == t.heartbeat_at
    nan_last = store.append_intermediate(study, "a", {"loss": float("nan")})
    assert nan_last.value is None


def test_append_intermediate_creates_trial(store, study):
    t = store.append_intermediate(study, "new", {"loss": 0.5})
    assert (t.state, t.number, t.intermediate, t.value) == ("RUNNING", 0, [{"loss": 0.5}], 0.5)


def test_mark_stale(store, study):
    old = datetime.now(UTC) - timedelta(seconds=100)
    store.upsert_trial(study, "silent", state="RUNNING", heartbeat_at=old)
    store.upsert_trial(study, "alive", state="RUNNING")
    store.upsert_trial(study, "done", state="COMPLETED", heartbeat_at=old)
    store.upsert_trial(study, "queued", state="PENDING", heartbeat_at=old)
    assert store.mark_stale(study, 60) == 1
    by_uid = {t.uid: t for t in store.trials(study)}
    silent = by_uid["silent"]
    assert silent.state == "INTERRUPTED" and silent.finished_at is not None
    assert silent.error.startswith("no heartbeat for ") and silent.error.endswith(" s")
    assert 100 <= int(silent.error.split()[3]) < 160
    assert [by_uid[u].state for u in ("alive", "done", "queued")] == ["RUNNING", "COMPLETED", "PENDING"]
    assert store.mark_stale(study, 60) == 0
    # a report from the "stale" trial proves it is alive again
    back = store.append_intermediate(study, "silent", {"loss": 1.0})
    assert back.state == "RUNNING" and back.error is None and back.finished_at is None
    with pytest.raises(ValidationError):
        store.mark_stale(study, -1)


# -- reading --------------------------------------------------------------------------


def test_best_trial_min_and_max(store, unique_name):
    for mode, expected in (("min", "low"), ("max", "high")):
        name = unique_name(mode)
        store.create_study(name, "score", mode)
        assert store.best_trial(name) is None
        store.upsert_trial(name, "mid", state="COMPLETED", metrics={"score": 0.5})
        store.upsert_trial(name, "low", state="COMPLETED", metrics={"score": -1.0})
        store.upsert_trial(name, "high", state="COMPLETED", metrics={"score": 2.0})
        store.upsert_trial(name, "nan", state="COMPLETED", metrics={"score": float("nan")})
        store.upsert_trial(name, "inf", state="COMPLETED", metrics={"score": float("inf")})
        store.upsert_trial(name, "-inf", state="COMPLETED", metrics={"score": float("-inf")})
        store.upsert_trial(name, "none", state="COMPLETED", metrics={"other": 1})
        # better values that do not count: not COMPLETED
        store.upsert_trial(name, "running", state="RUNNING", metrics={"score": -100.0})
        store.upsert_trial(name, "failed", state="FAILED", metrics={"score": 100.0})
        store.upsert_trial(name, "stopped", state="INTERRUPTED", metrics={"score": -100.0})
        best = store.best_trial(name)
        assert best.uid == expected, mode


def test_best_trial_all_nan_is_none(store, study):
    store.upsert_trial(study, "a", state="COMPLETED", metrics={"loss": float("nan")})
    assert store.best_trial(study) is None
    assert math.isnan(store.trials(study)[0].metrics["loss"])


def test_best_trial_tie_takes_lowest_number(store, study):
    for uid in ("first", "second"):
        store.upsert_trial(study, uid, state="COMPLETED", metrics={"loss": 1.0})
    assert store.best_trial(study).uid == "first"


def test_trials_filter_and_counts(store, study):
    states = ["PENDING", "RUNNING", "COMPLETED", "COMPLETED", "FAILED", "INTERRUPTED"]
    for i, s in enumerate(states):
        store.upsert_trial(study, f"t{i}", state=s)
    assert store.counts(study) == {"PENDING": 1, "RUNNING": 1, "COMPLETED": 2, "FAILED": 1, "INTERRUPTED": 1}
    assert list(store.counts(study)) == list(STATES)
    assert [t.uid for t in store.trials(study, "COMPLETED")] == ["t2", "t3"]
    assert [t.uid for t in store.trials(study, ["failed", "PENDING"])] == ["t0", "t4"]
    assert store.trial(study, "t1").state == "RUNNING"
    with pytest.raises(NotFoundError):
        store.trial(study, "nope")


def test_counts_of_empty_study(store, study):
    assert store.counts(study) == dict.fromkeys(STATES, 0)


# -- processes and threads -------------------------------------------------------------


def test_threads_share_one_store(store, study):
    errors = []

    def work(k):
        try:
            for i in range(15):
                store.upsert_trial(study, f"th{k}-{i}", state="RUNNING")
                store.append_intermediate(study, "shared", {"loss": float(k)})
        except Exception as exc:  # noqa: BLE001 - counted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    trials = store.trials(study)
    assert len(trials) == 6 * 15 + 1
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert len(store.trial(study, "shared").intermediate) == 6 * 15  # no lost update


def _forked_writer(store, study, queue):
    try:
        for i in range(5):
            store.upsert_trial(study, f"child-{i}", state="COMPLETED", metrics={"loss": float(i)})
        queue.put(None)
    except Exception as exc:  # noqa: BLE001
        queue.put(repr(exc))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_store_survives_fork(store, study):
    store.upsert_trial(study, "parent-0")  # the pool now holds a connection
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_forked_writer, args=(store, study, queue))
    proc.start()
    result = queue.get(timeout=60)
    proc.join(60)
    assert result is None and proc.exitcode == 0
    store.upsert_trial(study, "parent-1")  # the parent's connections still work
    assert len(store.trials(study)) == 7


def test_store_pickles_by_url(store, study):
    clone = pickle.loads(pickle.dumps(store))
    try:
        assert clone.url == store.url
        assert clone.get_study(study).name == study
    finally:
        clone.close()


def test_study_recreated_by_another_process(store, url, unique_name):
    name = unique_name()
    first = store.create_study(name, "loss", "min")
    store.upsert_trial(name, "a", metrics={"loss": 1.0})  # this store now knows the study
    other = StudyStore(url)
    try:
        other.delete_study(name)
        second = other.create_study(name, "acc", "max")
    finally:
        other.close()
    assert second.id != first.id  # ids are never reused
    t = store.upsert_trial(name, "a", metrics={"acc": 2.0, "loss": 5.0})
    assert (t.number, t.value) == (0, 2.0)  # written into the new study, with its metric
    assert store.trials(name) == [t]


def test_annotations_add_up_and_a_key_given_again_wins(store, study):
    """A trial's annotations come from several writers (the run, the backend, the trial itself):
    each write adds its keys instead of wiping the others."""
    store.upsert_trial(study, "a", annotations={"taskname": "t.c0001", "trial_dir": "/x"})
    store.upsert_trial(study, "a", state="RUNNING", annotations={"attempt": 1})
    store.upsert_trial(study, "a", state="COMPLETED", metrics={"loss": 1.0}, annotations={"attempt": 2, "n": 7})
    assert store.trial(study, "a").annotations == {"taskname": "t.c0001", "trial_dir": "/x", "attempt": 2, "n": 7}


def test_reading_only_the_trials_a_reader_needs(store, study):
    """By uid, written since a time, the best few, the latest in a state: what a run's start and
    end and the dashboard's updates read on a study of 100,000 trials."""
    from datetime import datetime, timedelta, timezone

    old = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    for uid, state, loss in [("a", "COMPLETED", 0.3), ("b", "FAILED", None), ("c", "COMPLETED", 0.1),
                             ("d", "COMPLETED", 0.1), ("e", "FAILED", None), ("f", "RUNNING", None)]:
        store.upsert_trial(study, uid, state=state, metrics={} if loss is None else {"loss": loss},
                           error=f"err {uid}" if state == "FAILED" else None,
                           created_at=old, finished_at=old if state != "RUNNING" else None, heartbeat_at=old)
    assert [t.uid for t in store.trials(study, uids=["e", "a", "zz"])] == ["a", "e"]
    assert store.trials(study, uids=[]) == []
    assert [t.uid for t in store.trials(study, states=["COMPLETED"], uids=["a", "b"])] == ["a"]
    since = datetime.now(timezone.utc) - timedelta(minutes=30)
    assert store.trials(study, changed_since=since) == []
    store.upsert_trial(study, "f", state="COMPLETED", metrics={"loss": 0.05})
    store.upsert_trial(study, "g", state="PENDING")
    assert [t.uid for t in store.trials(study, changed_since=since)] == ["f", "g"]
    assert [t.uid for t in store.ranked(study, 3)] == ["f", "c", "d"]  # ties: lowest number first
    assert store.ranked(study, 0) == []
    assert store.latest(study, "FAILED").error == "err e" and store.latest(study, "INTERRUPTED") is None
