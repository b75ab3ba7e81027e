"""Many writer processes on one store: no lost, duplicated or renumbered trial, no lock error.

Writers are separate processes (``fork`` where available, so the suite stays fast; each
opens its own store from the URL, as a Ray worker or Slurm task would) released together
by a barrier. Every exception inside a writer is caught and counted.
"""
import multiprocessing
import threading
import time
import traceback
import uuid

import pytest

from hpogrid.study import StudyStore, sqlite_url

N_WORKERS = 20
N_SHARED = 10
#: trials per writer: the full 100 on SQLite, fewer on the servers (the suite must stay fast)
TRIALS = {"sqlite": 100, "postgresql": 25, "mariadb": 25}


def _writer(url, study, shared, worker, n_trials, barrier, results):
    """Per trial: upsert RUNNING, one intermediate result, upsert COMPLETED; plus one
    append to each trial every writer shares."""
    errors = []

    def attempt(fn, *args, **kwargs):
        try:
            fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors.append(f"{type(exc).__name__}: {exc}"[:500])

    try:
        store = StudyStore(url)
        barrier.wait(timeout=60)
        start = time.perf_counter()
        for i in range(n_trials):
            uid = f"w{worker:02d}-t{i:04d}"
            attempt(store.upsert_trial, study, uid, state="RUNNING", params={"w": worker, "i": i},
                    backend="local", host=f"proc-{worker}")
            attempt(store.append_intermediate, study, uid, {"loss": 1.0 / (i + 1), "iteration": 1})
            attempt(store.upsert_trial, study, uid, state="COMPLETED", metrics={"loss": 1.0 / (i + 1)})
            if i < N_SHARED:
                attempt(store.append_intermediate, shared, f"shared-{i}", {"worker": worker})
        elapsed = time.perf_counter() - start
        store.close()
    except Exception:  # noqa: BLE001
        errors.append(traceback.format_exc())
        elapsed = None
    results.put({"worker": worker, "errors": errors, "elapsed": elapsed})


def run_writers(url, study, shared, n_trials):
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    barrier = ctx.Barrier(N_WORKERS + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(url, study, shared, w, n_trials, barrier, results))
        for w in range(N_WORKERS)
    ]
    for p in procs:
        p.start()
    try:
        barrier.wait(timeout=120)
        start = time.perf_counter()
        out = [results.get(timeout=300) for _ in procs]
        seconds = time.perf_counter() - start
        for p in procs:
            p.join(30)
        assert [p.exitcode for p in procs] == [0] * N_WORKERS
        return out, seconds
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_concurrent_writer_processes(kind, tmp_path, record_property, require_server):
    url = sqlite_url(tmp_path / "concurrent.db") if kind == "sqlite" else require_server(kind)
    n_trials = TRIALS[kind]
    store = StudyStore(url)
    tag = uuid.uuid4().hex[:12]
    study, shared = f"conc_{tag}", f"shared_{tag}"
    store.create_study(study, "loss", "min")
    store.create_study(shared, "loss", "min")
    store.close()  # no pooled connection may cross the fork
    try:
        results, seconds = run_writers(url, study, shared, n_trials)
        errors = [e for r in results for e in r["errors"]]
        locked = sum("locked" in e.lower() for e in errors)
        trials = store.trials(study)
        expected = N_WORKERS * n_trials
        record_property("rows", len(trials))
        record_property("seconds", round(seconds, 2))
        print(f"\n{kind}: {N_WORKERS} writers x {n_trials} trials -> {len(trials)} rows, "
              f"{len(errors)} errors ({locked} 'database is locked') in {seconds:.2f} s")
        assert locked == 0
        assert errors == []
        assert len(trials) == expected
        assert sorted(t.number for t in trials) == list(range(expected))
        assert len({t.uid for t in trials}) == expected
        assert all(t.state == "COMPLETED" and len(t.intermediate) == 1 for t in trials)
        assert store.counts(study)["COMPLETED"] == expected
        # trials every writer reported into: one row each, no lost appends
        shared_trials = store.trials(shared)
        assert sorted(t.number for t in shared_trials) == list(range(N_SHARED))
        for t in shared_trials:
            assert sorted(r["worker"] for r in t.intermediate) == list(range(N_WORKERS))
    finally:
        store.delete_study(study)
        store.delete_study(shared)
        store.close()


def _open_concurrently(url: str, n: int = 8) -> list:
    barrier = threading.Barrier(n)
    errors: list = []

    def open_store():
        try:
            barrier.wait()
            s = StudyStore(url)
            s.get_or_create_study("race", "loss", "min")
            s.close()
        except Exception as exc:  # noqa: BLE001 - counted by the caller
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_schema_creation_race_sqlite(tmp_path):
    url = sqlite_url(tmp_path / "fresh" / "race.db")
    assert _open_concurrently(url) == []
    assert [s.name for s in StudyStore(url).list_studies()] == ["race"]


def test_schema_creation_race_postgresql(require_server):
    """Fresh schema (own search_path), several openers at once, then the schema is dropped."""
    from sqlalchemy import create_engine, text

    base = require_server("postgresql")
    schema = f"hpogrid_race_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in base else "?"
        url = f"{base}{sep}options=-csearch_path%3D{schema}"
        assert _open_concurrently(url) == []
        assert [s.name for s in StudyStore(url).list_studies()] == ["race"]
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _claimer(url, study, worker, barrier, results):
    """Claim PENDING trials until none is left; report which."""
    got, errors = [], []
    try:
        store = StudyStore(url)
        barrier.wait(timeout=60)
        while True:
            t = store.claim_pending(study, "slurm-pool", job_id=f"job{worker}", host=f"h{worker}")
            if t is None:
                break
            got.append((t.uid, t.state, t.job_id))
        store.close()
    except Exception:  # noqa: BLE001
        errors.append(traceback.format_exc())
    results.put({"worker": worker, "got": got, "errors": errors})


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_workers_claiming_at_once_each_get_different_trials(kind, tmp_path, require_server):
    """The queue of a Slurm worker pool: 8 processes take 40 queued trials; each trial goes
    to exactly one of them, none is left, trials of another backend are not touched."""
    url = sqlite_url(tmp_path / "claim.db") if kind == "sqlite" else require_server(kind)
    store = StudyStore(url)
    study = f"claim_{uuid.uuid4().hex[:12]}"
    store.create_study(study, "loss", "min")
    for i in range(40):
        store.upsert_trial(study, f"q{i:02d}", state="PENDING", params={"i": i}, backend="slurm-pool")
    store.upsert_trial(study, "other", state="PENDING", backend="slurm")
    store.close()
    n = 8
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_claimer, args=(url, study, w, barrier, results)) for w in range(n)]
    for p in procs:
        p.start()
    try:
        out = [results.get(timeout=300) for _ in procs]
        assert [e for r in out for e in r["errors"]] == []
        claimed = [uid for r in out for uid, _, _ in r["got"]]
        assert sorted(claimed) == [f"q{i:02d}" for i in range(40)]  # each exactly once
        store = StudyStore(url)
        rows = {t.uid: t for t in store.trials(study)}
        owner = {uid: job for r in out for uid, _, job in r["got"]}
        assert all(rows[u].state == "RUNNING" and rows[u].job_id == owner[u] for u in owner)
        assert rows["other"].state == "PENDING"
    finally:
        for p in procs:
            p.join(30)
        store = StudyStore(url)
        store.delete_study(study)
        store.close()
