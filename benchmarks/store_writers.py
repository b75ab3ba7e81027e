"""Study-store write cost per trial on SQLite, PostgreSQL and MariaDB, 1 and 20 writer processes.

One trial write is what every backend does per trial: ``upsert_trial`` to RUNNING (params,
backend, job id, host) and ``upsert_trial`` to COMPLETED (metrics). Each writer is its own
process with its own ``StudyStore`` (as Slurm jobs or Ray workers would be); all writers
start together on a barrier and write ``--trials`` trials each into one shared study.

Printed per backend and writer count:

* ``latency``: a writer's own wall time per trial (median over writers), what one job waits;
* ``throughput``: elapsed wall time of the whole batch / all trials written, i.e. the store's
  cost per trial under that concurrency (lower is better).

A server that cannot be reached is skipped with the reason. Studies are deleted afterwards
(the SQLite file lives in a temporary folder that is removed).

Run: ``.venv/bin/python benchmarks/store_writers.py [--trials 50] [--writers 1 20]``.
Server URLs: ``HPOGRID_TEST_POSTGRES_URL`` / ``HPOGRID_TEST_MARIADB_URL`` (defaults below).
"""
import argparse
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SERVERS = {
    "PostgreSQL": os.environ.get("HPOGRID_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"),
    "MariaDB": os.environ.get("HPOGRID_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}


def _writer(url: str, study: str, index: int, trials: int, barrier, out) -> None:
    from hpogrid.study import StudyStore

    store = StudyStore(url)
    store.get_study(study)  # connect and cache before the clock starts
    host = socket.gethostname()
    barrier.wait()
    t0 = time.perf_counter()
    for k in range(trials):
        uid = f"w{index:02d}-{k:05d}"
        store.upsert_trial(study, uid, state="RUNNING", params={"lr": 0.01 * k, "layers": k % 5},
                           backend="slurm", job_id=str(1000000 + index * trials + k), host=host)
        store.upsert_trial(study, uid, state="COMPLETED", metrics={"loss": 1.0 / (k + 1), "acc": 0.5})
    out.put((time.perf_counter() - t0) / trials)
    store.close()


def measure(url: str, writers: int, trials: int) -> dict:
    from hpogrid.study import StudyStore

    study = f"bench-writers-{uuid.uuid4().hex[:8]}"
    store = StudyStore(url)
    store.create_study(study, metric="loss", mode="min")
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(writers + 1), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, study, i, trials, barrier, out)) for i in range(writers)]
    try:
        for p in procs:
            p.start()
        barrier.wait(timeout=120)
        t0 = time.perf_counter()
        per_writer = [out.get(timeout=600) for _ in procs]
        elapsed = time.perf_counter() - t0
        for p in procs:
            p.join(timeout=60)
        failed = [p.exitcode for p in procs if p.exitcode != 0]
        if failed:
            raise RuntimeError(f"{len(failed)} writer(s) failed (exit codes {failed})")
        written = store.counts(study)["COMPLETED"]
        if written != writers * trials:
            raise RuntimeError(f"expected {writers * trials} completed trials, found {written}")
        return {"latency_ms": 1000 * statistics.median(per_writer),
                "throughput_ms": 1000 * elapsed / (writers * trials)}
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        store.delete_study(study)
        store.close()


def reachable(url: str):
    """None when the server answers, else the reason."""
    from hpogrid.study import StudyStore
    from hpogrid.study.engine import first_line

    try:
        StudyStore(url).list_studies()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available here"
        return first_line(exc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=50, help="trials written by each writer (default 50)")
    ap.add_argument("--writers", type=int, nargs="+", default=[1, 20], help="writer process counts (default 1 20)")
    args = ap.parse_args()
    from hpogrid.study import safe_url, sqlite_url

    tmp = Path(tempfile.mkdtemp(prefix="hpogrid-bench-store-"))
    backends = {"SQLite": sqlite_url(tmp / "study.db"), **SERVERS}
    print(f"{args.trials} trials per writer; one trial = upsert RUNNING + upsert COMPLETED")
    print(f"{'store':<11} {'writers':>7} {'latency ms/trial':>17} {'throughput ms/trial':>20}")
    try:
        for name, url in backends.items():
            reason = reachable(url)
            if reason:
                print(f"{name:<11} skipped: {safe_url(url)} unreachable ({reason})")
                continue
            for n in args.writers:
                r = measure(url, n, args.trials)
                print(f"{name:<11} {n:>7} {r['latency_ms']:>17.2f} {r['throughput_ms']:>20.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
