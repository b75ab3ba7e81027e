"""Scale on Slurm: job arrays vs one sbatch per trial, and 20 pool workers on one PostgreSQL study.

Instant trials (the objective returns at once), so what is measured is the scheduler and the
study store, not the work. Needs a running Slurm (``tests/backends/slurm/start-slurm.sh``
brings up the single-node one of the tests) and, for part b, PostgreSQL (``--url``).

a. ``--trials`` per-trial ``slurm_run`` trials (random search, ``--workers`` in flight,
   ``--poll`` s between polls) twice: with job arrays (what ``slurm_run`` does: the trials
   started together are one ``sbatch --array``) and without (one sbatch per trial, as before
   arrays). Prints sbatch calls (the distinct array ids the study recorded: one per sbatch) and
   wall time. Target: sbatch calls <= trials / 50 with arrays.
b. ``--pool_trials`` trials run by ``slurm_run --pool 20`` on one PostgreSQL study: lost
   (trials not COMPLETED) and duplicated (trials the objective saw more than once, from a
   file each run appends its uid to). Then the store under the same 20 writers without Slurm:
   20 processes claim and finish ``--pool_trials`` queued trials as pool workers and the driver
   do (``claim_pending``; ``upsert_trial`` COMPLETED with metrics; the driver's ``heartbeat``
   of its live trials, once per trial here, more often than the driver's period) and time each
   call: store time per trial (claim + result + heartbeat) median and p95, lost, duplicated.
   Target: 0 lost, 0 duplicated, store <= 5 ms per trial at the median.

Run: ``.venv/bin/python benchmarks/slurm_scale.py [--trials 2000] [--workers 100] [--poll 5]
[--pool_trials 2000] [--parts a,b] [--url postgresql+psycopg2://postgres@127.0.0.1:5432/test]``.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

URL = os.environ.get("HPOGRID_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
SPACE = {"x": {"method": "uniform", "dimension": {"low": 0.0, "high": 1.0}}}
INSTANT = "def objective(config):\n    return {'loss': config['x']}\n"
#: each run appends its trial's uid to the file named by the model's ``runs`` parameter
COUNTED = """
import os
from hpogrid.trial import trial_uid

def objective(config):
    with open(config["runs"], "a") as fh:
        fh.write(trial_uid() + "\\n")
    return {"loss": config["x"]}
"""


def _project(root: Path, name: str, script: str, slurm: dict, trials: int, param: dict | None = None) -> str:
    from hpogrid.configs import NamedStore
    from hpogrid.project import create_project

    scripts = root / f"scripts-{name}"
    scripts.mkdir()
    (scripts / "train.py").write_text(script)
    NamedStore("model_config").create(name, {"script": "train.py", "model": "objective",
                                             **({"param": param} if param else {})})
    NamedStore("search_space").create(name, SPACE)
    NamedStore("hpo_config").create(name, {"metric": "loss", "mode": "min", "algorithm": "random",
                                           "trials": trials})
    NamedStore("slurm_config").create(name, {"mem": "100M", "time": "10", **slurm})
    create_project(name, str(scripts), {"model_config": name, "search_space": name, "hpo_config": name,
                                        "slurm_config": name})
    return name


def _recorded(name: str, url: str | None = None) -> list:
    from hpogrid import paths
    from hpogrid.study import StudyStore, sqlite_url

    store = StudyStore(url or sqlite_url(paths.study_db(name)))
    try:
        return store.trials(name)
    finally:
        store.close()


def part_a(root: Path, trials: int, workers: int, poll: float) -> None:
    from hpogrid.backends.slurm import SlurmOptions, run_slurm
    from hpogrid.backends.slurm._executor import SlurmExecutor
    from hpogrid.project import load_project

    print(f"a. {trials} instant trials, {workers} in flight, poll every {poll} s (per-trial slurm_run)")
    rows = {}
    for arrays in (True, False):
        name = _project(root, f"arr{int(arrays)}", INSTANT, {"workers": workers, "poll_interval": poll}, trials)
        SlurmExecutor.starts_together = arrays  # without: each trial is its own sbatch (an array of one), as before arrays
        try:
            t0 = time.perf_counter()
            summary = run_slurm(load_project(name), SlurmOptions(seed=0, progress=False))
            wall = time.perf_counter() - t0
        finally:
            SlurmExecutor.starts_together = True
        done = _recorded(name)
        calls = len({t.job_id.partition("_")[0] for t in done if t.job_id})
        rows[arrays] = (calls, wall, summary.counts.get("COMPLETED", 0))
        label = "arrays" if arrays else "one sbatch per trial"
        print(f"   {label:22s} sbatch calls {calls:5d} (trials/{trials / max(calls, 1):.0f}), "
              f"wall {wall:7.1f} s, completed {rows[arrays][2]}/{trials}", flush=True)
    (with_calls, with_wall, _), (without_calls, without_wall, _) = rows[True], rows[False]
    print(f"   arrays / per-trial: sbatch calls {with_calls / without_calls:.3f}, wall {with_wall / without_wall:.2f}; "
          f"target sbatch calls <= trials/50 = {trials // 50}: {'met' if with_calls <= trials / 50 else 'NOT met'}")


def part_b_slurm(root: Path, trials: int, url: str) -> None:
    from hpogrid.backends.slurm import SlurmOptions, run_slurm
    from hpogrid.project import load_project
    from hpogrid.study import StudyStore

    runs = root / "runs.txt"
    runs.touch()
    name = _project(root, f"pool{uuid.uuid4().hex[:6]}", COUNTED, {"pool": 20, "poll_interval": 1.0}, trials,
                    param={"runs": str(runs)})
    print(f"b. slurm_run --pool 20 on PostgreSQL, {trials} instant trials")
    t0 = time.perf_counter()
    run_slurm(load_project(name), SlurmOptions(seed=0, study_url=url, progress=False))
    wall = time.perf_counter() - t0
    done = _recorded(name, url)
    seen = runs.read_text().split()
    lost = trials - sum(t.state == "COMPLETED" for t in done)
    duplicated = len(seen) - len(set(seen))
    print(f"   wall {wall:.1f} s ({1000 * wall / trials:.0f} ms per trial), lost {lost}, duplicated {duplicated}, "
          f"workers (Slurm jobs) {len({t.job_id for t in done})}", flush=True)
    store = StudyStore(url)
    store.delete_study(name)
    store.close()


def _worker(url: str, study: str, index: int, barrier, out) -> None:
    from hpogrid.study import StudyStore

    store = StudyStore(url)
    store.get_study(study)  # connect before the clock starts
    barrier.wait()
    times, claimed = [], []
    while True:
        t0 = time.perf_counter()
        trial = store.claim_pending(study, "slurm-pool", job_id=f"9{index:02d}", host=f"node{index}")
        t1 = time.perf_counter()
        if trial is None:
            break
        claimed.append(trial.uid)
        store.heartbeat(study, [trial.uid])  # (while it runs)
        t2 = time.perf_counter()
        store.upsert_trial(study, trial.uid, state="COMPLETED", metrics={"loss": trial.params["x"]})
        t3 = time.perf_counter()
        times.append((t1 - t0, t3 - t2, t2 - t1))  # claim, result, heartbeat
    out.put((claimed, times))
    store.close()


def part_b_store(trials: int, url: str, writers: int = 20) -> None:
    from hpogrid.study import StudyStore

    study = f"bench-pool-{uuid.uuid4().hex[:8]}"
    store = StudyStore(url)
    store.create_study(study, metric="loss", mode="min")
    for k in range(trials):  # queued by the driver: PENDING, the pool's backend
        store.upsert_trial(study, f"t{k:05d}", state="PENDING", params={"x": k / trials}, backend="slurm-pool")
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(writers + 1), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, study, i, barrier, out)) for i in range(writers)]
    try:
        for p in procs:
            p.start()
        barrier.wait(timeout=120)
        t0 = time.perf_counter()
        results = [out.get(timeout=1200) for _ in procs]
        wall = time.perf_counter() - t0
        for p in procs:
            p.join(timeout=60)
        claimed = [uid for got, _ in results for uid in got]
        times = [t for _, ts in results for t in ts]
        per_trial = sorted(1000 * sum(t) for t in times)
        lost = trials - store.counts(study)["COMPLETED"]
        duplicated = len(claimed) - len(set(claimed))

        def med(i):
            return 1000 * statistics.median(t[i] for t in times)

        p95 = per_trial[int(0.95 * (len(per_trial) - 1))]
        print(f"b. store under {writers} pool workers (processes), {trials} queued trials on PostgreSQL")
        print(f"   lost {lost}, duplicated {duplicated}; store per trial median {statistics.median(per_trial):.2f} ms, "
              f"p95 {p95:.2f} ms (claim {med(0):.2f}, result {med(1):.2f}, heartbeat {med(2):.2f} ms at the median); "
              f"{1000 * wall / trials:.2f} ms of wall time per trial for the 20 together; "
              f"target median <= 5 ms: {'met' if statistics.median(per_trial) <= 5 else 'NOT met'}", flush=True)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        store.delete_study(study)
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=2000, help="part a: trials per mode")
    ap.add_argument("--workers", type=int, default=100, help="part a: trials in flight (slurm_config workers)")
    ap.add_argument("--poll", type=float, default=5.0, help="part a: seconds between polls of Slurm")
    ap.add_argument("--pool_trials", type=int, default=2000, help="part b: trials")
    ap.add_argument("--parts", default="a,b", help="a, b (b: the Slurm pool run and the store alone), bstore")
    ap.add_argument("--url", default=URL, help="part b: the PostgreSQL study store")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory(prefix="hpogrid-slurm-scale-") as tmp:
        root = Path(tmp)
        os.environ["HPOGRID_HOME"] = str(root / "home")
        if "a" in parts:
            part_a(root, args.trials, args.workers, args.poll)
        if "b" in parts:
            part_b_slurm(root, args.pool_trials, args.url)
        if "b" in parts or "bstore" in parts:
            part_b_store(args.pool_trials, args.url)


if __name__ == "__main__":
    main()
