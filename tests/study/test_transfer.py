"""Whole studies moved between real stores and files: copy, merge, rename, export/import.

Each test builds a study with every kind of trial a physicist keeps (completed with
per-iteration values, failed with an error, interrupted, running, a NaN metric, annotations)
and checks that what arrives is the same study, field for field, and that a refused write
(a name taken, other objectives, a malformed file) changes nothing.
"""
import json
import uuid
from dataclasses import asdict, replace
from datetime import datetime, timedelta, timezone

import pytest

from hpogrid.errors import AlreadyExistsError, NotFoundError, StudyError, ValidationError
from hpogrid.study import StudyStore
from hpogrid.study.studyfile import read_file, write_file
from hpogrid.study.transfer import copy_study, merge_study, read_study, rename_study, summarize, write_study
from tests.study.conftest import storage_url

SPACE = {"lr": {"method": "loguniform", "dimension": {"low": 1e-4, "high": 1.0}},
         "layers": {"method": "uniformint", "dimension": {"low": 1, "high": 4}},
         "act": {"method": "categorical", "dimension": {"categories": ["relu", "tanh"]}}}


def fill(store, name, n=5, prefix="t"):
    """A study with trials in every state; returns its name."""
    store.create_study(name, metric="loss", mode="min", attrs={"search_space": SPACE, "note": "ü"})
    t0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
    for i in range(n):
        uid = f"{prefix}-{i:04d}"
        store.upsert_trial(name, uid, state="RUNNING", params={"lr": 10 ** -(i % 4 + 1), "layers": i % 4 + 1,
                                                               "act": ["relu", "tanh"][i % 2]},
                           backend="local", host="node1", started_at=t0 + timedelta(seconds=i))
        for step in range(3):
            store.append_intermediate(name, uid, {"loss": 1.0 / (i + step + 1), "epoch": step})
        end = {0: "COMPLETED", 1: "COMPLETED", 2: "FAILED", 3: "INTERRUPTED"}.get(i % 5, "RUNNING")
        metrics = {"loss": float("nan")} if i == 1 else {"loss": 0.5 / (i + 1), "acc": 0.9}
        store.upsert_trial(name, uid, state=end, metrics=metrics, annotations={"by": "test", "i": i},
                           error="Traceback: boom" if end == "FAILED" else None, site="CERN")
    return name


def same(a, b, name=None):
    """Two dumps hold the same study (ids of the database aside)."""
    ia, ib = asdict(a.info), asdict(b.info)
    ia.pop("id"), ib.pop("id")
    if name:
        ia["name"] = name
    assert ia == ib
    assert len(a.trials) == len(b.trials)
    for x, y in zip(a.trials, b.trials):
        x, y = asdict(x), asdict(y)
        x.pop("study"), y.pop("study")
        for key in ("metrics", "intermediate"):  # NaN != NaN: compare their JSON
            x[key], y[key] = json.dumps(x[key]), json.dumps(y[key])
        assert x == y


@pytest.fixture
def stores(tmp_path):
    """Open stores by kind; every study they made is deleted afterwards."""
    opened, made = {}, []

    def get(kind):
        if kind not in opened:
            opened[kind] = StudyStore(storage_url(kind, tmp_path / kind))
        return opened[kind]

    def name(prefix="s"):
        made.append(f"{prefix}_{uuid.uuid4().hex[:12]}")
        return made[-1]

    yield get, name
    for store in opened.values():
        for n in made:
            try:
                store.delete_study(n)
            except NotFoundError:
                pass
        store.close()


def test_copy_sqlite_to_postgresql_to_mariadb_keeps_every_field(stores):
    get, name = stores
    sqlite = get("sqlite")
    src = fill(sqlite, name())
    original = read_study(sqlite, src)
    hops = [("sqlite", src)]
    for kind in ("postgresql", "mariadb"):
        new = name()
        done = copy_study(get(hops[-1][0]), hops[-1][1], get(kind), new)
        assert done.added == len(original.trials)
        same(original, read_study(get(kind), new), name=new)
        hops.append((kind, new))
    # back into SQLite under another name: still the same study, same best trial
    back = name()
    copy_study(get("mariadb"), hops[-1][1], sqlite, back)
    same(original, read_study(sqlite, back), name=back)
    assert sqlite.best_trial(back).uid == sqlite.best_trial(src).uid


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_copy_onto_a_taken_name_changes_nothing(stores, kind):
    get, name = stores
    store = get(kind)
    a, b = fill(store, name()), fill(store, name(), n=2, prefix="other")
    before = read_study(store, b)
    with pytest.raises(AlreadyExistsError, match=b):
        copy_study(store, a, store, b)
    same(before, read_study(store, b))
    with pytest.raises(AlreadyExistsError, match=b):
        rename_study(store, a, b)
    assert store.get_study(a) and store.get_study(b)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_merge_adds_only_new_uids_and_refuses_other_objectives(stores, kind):
    get, name = stores
    store = get(kind)
    a = fill(store, name(), n=3)
    b = fill(get("sqlite") if kind != "sqlite" else store, name(), n=5)
    src = get("sqlite") if kind != "sqlite" else store
    done = merge_study(src, b, store, a)
    assert (done.added, done.skipped) == (2, 3)
    trials = store.trials(a)
    assert [t.number for t in trials] == [0, 1, 2, 3, 4]
    assert [t.uid for t in trials[3:]] == ["t-0003", "t-0004"]
    assert trials[3].intermediate == read_study(src, b).trials[3].intermediate
    # a study optimising something else: refused, nothing added
    other = name()
    store.create_study(other, metric="acc", mode="max")
    store.upsert_trial(other, "x-1", state="COMPLETED", metrics={"acc": 1.0})
    with pytest.raises(ValidationError, match="cannot be merged"):
        merge_study(store, other, store, a)
    assert len(store.trials(a)) == 5


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_rename_and_list(stores, kind):
    get, name = stores
    store = get(kind)
    a, new = fill(store, name()), name()
    before = read_study(store, a)
    rename_study(store, a, new)
    same(before, read_study(store, new), name=new)
    with pytest.raises(NotFoundError):
        store.get_study(a)
    row = {s.name: s for s in summarize(store)}[new]
    assert row.counts["COMPLETED"] == 2 and row.counts["FAILED"] == 1 and row.counts["INTERRUPTED"] == 1
    assert row.counts["RUNNING"] == 1 and row.total == 5
    assert row.best == store.best_trial(new).value
    assert row.objectives == "loss (min)" and row.updated_at is not None


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_file_round_trip_is_exact(stores, kind, tmp_path):
    get, name = stores
    store = get(kind)
    a = fill(store, name())
    path = write_file(read_study(store, a), tmp_path / "study.jsonl")
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["hpogrid_study"] == 1 and len(lines) == 6
    dump = read_file(path)
    new = name()
    write_study(store, dump, new)
    same(read_study(store, a), read_study(store, new), name=new)
    # writing the file again gives the same bytes
    again = write_file(read_study(store, new), tmp_path / "again.jsonl")
    assert again.read_text().splitlines()[1:] == lines[1:]


def _bad(tmp_path, lines):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_malformed_file_names_line_and_field(tmp_path, stores):
    get, name = stores
    store = get("sqlite")
    a = fill(store, name(), n=2)
    good = list(map(str, write_file(read_study(store, a), tmp_path / "g.jsonl").read_text().splitlines()))
    trial = json.loads(good[1])
    cases = [
        ([good[0], good[1], "{oops"], "line 3", "not JSON"),
        ([good[0], json.dumps({**trial, "state": "DONE"})], "line 2: state", "expected one of"),
        ([good[0], json.dumps({**trial, "created_at": "yesterday"})], "line 2: created_at", "ISO 8601"),
        ([good[0], json.dumps({**trial, "colour": 1})], "line 2: colour", "unknown field"),
        ([good[0], good[1], good[1]], "line 3: uid", "already on line 2"),
        ([json.dumps({"name": "x"})], "line 1: hpogrid_study", "header"),
        ([good[0], json.dumps({k: v for k, v in trial.items() if k != "uid"})], "line 2: uid", "missing"),
    ]
    for lines, where, what in cases:
        with pytest.raises(ValidationError) as err:
            read_file(_bad(tmp_path, lines))
        assert where in str(err.value) and what in str(err.value), str(err.value)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_a_write_that_fails_half_way_leaves_no_study(stores, kind):
    """One transaction: a trial the database refuses rolls back the study row written before it."""
    get, name = stores
    store = get(kind)
    src = fill(get("sqlite"), name(), n=3)
    dump = read_study(get("sqlite"), src)
    broken = replace(dump, trials=dump.trials + (replace(dump.trials[0], uid="dup", number=0),))
    new = name()
    with pytest.raises(StudyError, match="nothing written"):
        write_study(store, broken, new)
    with pytest.raises(NotFoundError):
        store.get_study(new)
