"""``hpogrid report`` on a big study: 100,000 synthetic trials, 8 parameters, 2 metrics.

Setup writes the trials with one bulk SQLAlchemy Core ``INSERT`` (one transaction, the
store's own schema and column types) into a throwaway ``$HPOGRID_HOME``. Then it times,
in this order: building the report (reading the store, filtering, sorting), rendering and
writing the HTML page (plots downsampled, importance on a sample), the same as a user runs
it (``hpogrid report big --to_html`` in a fresh process, imports included), and the CSV /
JSON files. Targets: HTML report <= 10 s (in-process and fresh process) and <= 10 MB.
Then the dashboard (first answer <= 2 s; an update after 10 new trials <= 0.2 s server time
and <= 100 KB) and ``local_run --resume`` on the big study (<= 5 s to its first trial; its
instant trials no slower than 1.5x the same trials in an empty study of the same database).

Run: ``.venv/bin/python benchmarks/report_scale.py [--trials 100000] [--keep]``.
"""
import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SPACE = {
    "lr": {"method": "loguniform", "dimension": {"low": 1e-5, "high": 1e-1}},
    "weight_decay": {"method": "loguniform", "dimension": {"low": 1e-6, "high": 1e-2}},
    "dropout": {"method": "uniform", "dimension": {"low": 0.0, "high": 0.5}},
    "momentum": {"method": "uniform", "dimension": {"low": 0.5, "high": 0.99}},
    "layers": {"method": "uniformint", "dimension": {"low": 1, "high": 8}},
    "units": {"method": "categorical", "dimension": {"categories": [32, 64, 128, 256]}},
    "activation": {"method": "categorical", "dimension": {"categories": ["relu", "tanh", "gelu"]}},
    "optimizer": {"method": "categorical", "dimension": {"categories": ["adam", "sgd"]}},
}


def make_project(root: Path) -> str:
    from hpogrid.configs import NamedStore
    from hpogrid.project import create_project

    scripts = root / "scripts"  # outside the hpogrid home (a project's scripts never live there)
    scripts.mkdir()
    (scripts / "train.py").write_text("def objective(config):\n    return {'loss': 0.0}\n")
    NamedStore("model_config").create("big", {"script": "train.py", "model": "objective"})
    NamedStore("search_space").create("big", SPACE)
    NamedStore("hpo_config").create("big", {"metric": "loss", "mode": "min"})
    create_project("big", str(scripts), {"model_config": "big", "search_space": "big", "hpo_config": "big"})
    return "big"


def synthetic_rows(study_id: int, n: int, seed: int = 0) -> list:
    rng = random.Random(seed)
    t0 = datetime.now(timezone.utc) - timedelta(days=60)
    rows = []
    for i in range(n):
        p = {"lr": 10 ** rng.uniform(-5, -1), "weight_decay": 10 ** rng.uniform(-6, -2),
             "dropout": rng.uniform(0, 0.5), "momentum": rng.uniform(0.5, 0.99),
             "layers": rng.randint(1, 8), "units": rng.choice([32, 64, 128, 256]),
             "activation": rng.choice(["relu", "tanh", "gelu"]), "optimizer": rng.choice(["adam", "sgd"])}
        loss = (abs(math.log10(p["lr"]) + 3) + 2 * p["dropout"] + (0.3 if p["optimizer"] == "sgd" else 0)
                + 0.05 * abs(p["layers"] - 4) + rng.gauss(0, 0.1))
        state = "FAILED" if i % 50 == 7 else "RUNNING" if i >= n - 8 else "COMPLETED"
        grid = i % 3 == 0
        start = t0 + timedelta(seconds=50 * i)
        rows.append(dict(
            study_id=study_id, uid=f"t{i:06d}", number=i, state=state, params=p,
            metrics={} if state == "FAILED" else {"loss": loss, "accuracy": 1 / (1 + abs(loss))},
            value=None if state == "FAILED" else loss, intermediate=[],
            error="Traceback (most recent call last):\nRuntimeError: CUDA out of memory" if state == "FAILED" else None,
            backend="panda" if grid else "local", host="node1", job_id=None,
            task_id=str(10_000_000 + i // 300) if grid else None, site="CERN-PROD" if grid else None,
            annotations={"taskname": f"user.bench.hpo.{i // 300}"} if grid else {},
            created_at=start, started_at=start,
            finished_at=None if state == "RUNNING" else start + timedelta(seconds=40 + i % 20),
            heartbeat_at=start))
    return rows


def setup(n: int) -> str:
    from sqlalchemy import create_engine, insert

    from hpogrid import paths
    from hpogrid.study import StudyStore, sqlite_url
    from hpogrid.study.schema import TrialRow

    name = make_project(Path(os.environ["HPOGRID_HOME"]).parent)
    url = sqlite_url(paths.study_db(name))
    store = StudyStore(url)
    info = store.create_study(name, "loss", "min")
    store.close()
    t = time.perf_counter()
    rows = synthetic_rows(info.id, n)
    t_gen = time.perf_counter() - t
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(TrialRow.__table__), rows)
    engine.dispose()
    print(f"setup: {n:,} trials generated in {t_gen:.1f} s, bulk-inserted in "
          f"{time.perf_counter() - t - t_gen:.1f} s ({paths.study_db(name).stat().st_size / 1e6:.0f} MB SQLite)")
    return name


def time_run(name: str, args: list) -> dict:
    """``hpogrid local_run`` in a fresh process: wall time, time to its first trial's end
    (start-up: imports, settling the study; the trials are instant) and from there to its last
    trial's end (the trials), from the study's own timestamps."""
    from hpogrid import paths
    from hpogrid.study import StudyStore, sqlite_url

    t0 = datetime.now(timezone.utc)
    t, c = time.perf_counter(), _child_cpu()
    proc = subprocess.run([sys.executable, "-m", "hpogrid", "local_run", name, *args, "--algorithm", "random"],
                          capture_output=True, text=True, cwd=REPO)
    wall, cpu = time.perf_counter() - t, _child_cpu() - c
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr)
    study = args[args.index("--study") + 1] if "--study" in args else name
    with StudyStore(sqlite_url(paths.study_db(name)), access="read") as store:
        # (a re-run trial keeps its first start: the run's trials are told by their end)
        ends = sorted(x.finished_at for x in store.trials(study, changed_since=t0) if x.finished_at and x.finished_at >= t0)
    first, last = ends[0], ends[-1]
    mine = ends
    return {"wall": wall, "cpu": cpu, "startup": (first - t0).total_seconds(),
            "trials_s": (last - first).total_seconds(), "n": len(mine), "ok": proc.returncode == 0}


def dashboard(name: str, new_trials: int = 10) -> dict:
    """The dashboard's first answer, its full snapshot, and an update after ``new_trials``
    new trials, through Flask's test client (server time: no browser, no network)."""
    from hpogrid import paths
    from hpogrid.dashboard import Source, create_app
    from hpogrid.study import StudyStore, sqlite_url

    client = create_app(Source(name)).test_client()
    out: dict = {}
    t = time.perf_counter()
    first = client.get("/api/snapshot?quick=1")
    out["first_s"], out["first_kb"] = time.perf_counter() - t, len(first.data) / 1e3
    out["first_partial"] = bool(first.get_json().get("partial"))
    snap = first.get_json()
    t = time.perf_counter()
    while snap.get("partial"):  # the page's polls until the full snapshot is there
        time.sleep(0.2)
        snap = client.get("/api/snapshot", query_string={"since": snap["cursor"], "base": snap["fingerprint"]}).get_json()
    out["full_s"] = time.perf_counter() - t
    out["full_kb"] = len(json.dumps(snap, separators=(",", ":"), default=str)) / 1e3
    with StudyStore(sqlite_url(paths.study_db(name))) as store:
        for i in range(new_trials):
            store.upsert_trial(name, f"bench-new-{i}", state="COMPLETED", params={"lr": 1e-3}, metrics={"loss": 0.5})
    t, c = time.perf_counter(), time.process_time()
    upd = client.get("/api/snapshot", query_string={"since": snap["cursor"], "base": snap["fingerprint"]})
    out["update_s"], out["update_kb"] = time.perf_counter() - t, len(upd.data) / 1e3
    out["update_cpu"] = time.process_time() - c
    body = upd.get_json()
    out["update_rows"] = len(body.get("rows", [])) if body.get("delta") else None
    return out


def _child_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=100_000)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder and print it")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hpogrid-report-bench-"))
    os.environ["HPOGRID_HOME"] = str(tmp / "home")
    (tmp / "home").mkdir()
    try:
        name = setup(args.trials)
        from hpogrid.report import build_report, write

        t, c = time.perf_counter(), time.process_time()
        report = build_report(name)
        t_build, c_build = time.perf_counter() - t, time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        paths, notes = write(report, "hpo_result", ["html"], str(tmp))
        t_html, c_html = time.perf_counter() - t, time.process_time() - c
        size = paths[0].stat().st_size
        t = time.perf_counter()
        write(report, "hpo_result", ["csv", "json"], str(tmp))
        t_files = time.perf_counter() - t
        total = t_build + t_html
        # what a user waits for: a fresh process running the command (imports included)
        code = ("from hpogrid.cli.report import report; "
                f"report.main(['{name}', '--to_html', '--top', '5', '--outname', 'cli', '--outdir', {str(tmp)!r}], "
                "prog_name='hpogrid report')")
        t, c = time.perf_counter(), _child_cpu()
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
        t_cli, c_cli = time.perf_counter() - t, _child_cpu() - c
        if proc.returncode != 0:
            print(proc.stdout + proc.stderr)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times suffer above 1 per CPU)")
        print(f"read + filter + sort: {t_build:.2f} s wall, {c_build:.2f} s CPU")
        print(f"HTML render + write:  {t_html:.2f} s wall, {c_html:.2f} s CPU, {size / 1e6:.2f} MB")
        print(f"HTML end to end:      {total:.2f} s wall, {c_build + c_html:.2f} s CPU (target <= 10 s), "
              f"{size / 1e6:.2f} MB (target <= 10 MB)")
        print(f"CLI, new process:     {t_cli:.2f} s wall, {c_cli:.2f} s CPU "
              f"('hpogrid report {name} --to_html', interpreter start and imports included)")
        print(f"CSV + JSON:           {t_files:.2f} s "
              f"({(tmp / 'hpo_result.csv').stat().st_size / 1e6:.1f} MB, "
              f"{(tmp / 'hpo_result.json').stat().st_size / 1e6:.1f} MB)")
        for note in notes:
            print(f"page note: {note}")
        ok = max(total, t_cli) <= 10 and size <= 10e6 and proc.returncode == 0
        d = dashboard(name)
        print(f"dashboard first answer: {d['first_s']:.2f} s, {d['first_kb']:.0f} KB "
              f"({'partial: counts, best, best rows' if d['first_partial'] else 'the full snapshot'}) "
              f"(target <= 2 s); full snapshot after {d['full_s']:.1f} s more, {d['full_kb']:.0f} KB")
        print(f"dashboard update after 10 new trials: {d['update_s']:.3f} s server time ({d['update_cpu']:.3f} s CPU), "
              f"{d['update_kb']:.1f} KB, "
              f"{d['update_rows']} rows (target <= 0.2 s, <= 100 KB)")
        # the setup's 8 RUNNING trials become INTERRUPTED and are re-run; the dashboard added 10: 10 new ones
        big = time_run(name, ["--resume", "--no-backup", "--trials", str(args.trials + 10 + 10)])
        empty = time_run(name, ["--study", "empty", "--trials", str(big["n"])])
        ratio = big["trials_s"] / max(empty["trials_s"], 1e-3)
        print(f"local_run --resume on the big study: {big['wall']:.1f} s wall, {big['cpu']:.1f} s CPU, "
              f"{big['startup']:.1f} s to the first trial's end (target <= 5 s), {big['n']} trials, "
              f"{big['trials_s']:.2f} s from the first's end to the last's")
        print(f"same trials in an empty study of the same database: {empty['trials_s']:.2f} s "
              f"({empty['startup']:.1f} s to the first trial's end); big/empty = {ratio:.2f} (target <= 1.5)")
        ok = ok and d["first_s"] <= 2 and d["update_s"] <= 0.2 and d["update_kb"] <= 100 \
            and big["startup"] <= 5 and ratio <= 1.5 and big["ok"] and empty["ok"]
        print("PASS" if ok else "FAIL")
        if args.keep:
            print(f"files kept in {tmp}")
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
