"""A central grid search with 200 jobs in flight: PanDA tasks, requests per poll, driver CPU.

The real driver (``hpogrid run PROJECT --search central``, a subprocess whose CPU time is
measured) against the PanDA test server (tests/grid/panda_server) in this process, whose jobs
are instant: its ``payload`` hook stands in for ``hpogrid grid_job`` and hands back every
point of the job's sandbox (those of its ``--job`` index) as a COMPLETED trial, so the driver
is what is measured. Printed:

* tasks submitted and waves (a wave: the points the driver sends at once, one ``task/submit``);
* requests per poll: those the driver sends to follow its tasks between two polls (a poll
  begins with ``task/get_tasks_modified_since``), submissions left out; the largest and the mean;
* driver CPU seconds (user + system) per 1,000 trials.

Targets (issue 36): tasks = waves, requests per poll <= 3 whatever the number of jobs, driver
CPU <= 10 s per 1,000 trials.

Run: ``.venv/bin/python benchmarks/grid_scale.py [--trials 1000 --n_jobs 200 --trials_per_job 1]``.
``HPOGRID_BENCH_SRC=/path/to/other/checkout`` runs that checkout's driver instead (a before/after).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
FOLLOW = ("task/get_tasks_modified_since", "job/get_description_incl_archive", "task/get_tasks_detailed_info_since",
          "task/get_job_descriptions")
SUBMIT = ("file_server/upload_cache_file", "task/submit")


def instant_job(argv, cwd: Path, env) -> int:
    """What ``hpogrid grid_job PROJECT [--job K]`` hands back, at once: each of its points COMPLETED."""
    job = int(argv[argv.index("--job") + 1]) if "--job" in argv else None
    points = json.loads((cwd / ".hpogrid-project" / "points.json").read_text())
    trials = [{"uid": p["uid"], "number": i, "state": "COMPLETED", "params": p["values"],
               "metrics": {"loss": p["values"]["x"]}, "annotations": {}, "value": p["values"]["x"], "error": None}
              for i, p in enumerate(points) if p.get("job") in (None, job)]
    metadata = {"project": "bench", "seed": None, "metric": "loss", "mode": "min", "error": None,
                "trials": trials, **({"job": job} if job is not None else {})}
    (cwd / "userJobMetadata.json").write_text(json.dumps(metadata))
    for name in ("hpo_result.json", "hpogrid_trials.tgz"):
        (cwd / name).write_text("{}")
    return 0


def make_project(env, tmp: Path) -> None:
    scripts = tmp / "scripts"
    scripts.mkdir()
    (scripts / "train.py").write_text(textwrap.dedent("""
        def objective(config):
            return {"loss": config["x"]}
    """))
    space = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
    for cmd in (["model_config", "create", "bench", "--script", "train.py", "--model", "objective"],
                ["search_space", "create", "bench", json.dumps(space)],
                ["hpo_config", "create", "bench", "--algorithm", "random", "--metric", "loss", "--mode", "min",
                 "--scheduler", "fifo"],
                ["grid_config", "create", "bench", "--site", "ANALY_TEST", "--container", "docker://hpogrid:test"],
                ["project", "create", "bench", "--scripts_path", str(scripts), "--model_config", "bench",
                 "--search_space", "bench", "--hpo_config", "bench", "--grid_config", "bench"]):
        r = subprocess.run([sys.executable, "-m", "hpogrid", *cmd], env=env, capture_output=True, text=True, cwd=tmp)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[:2])}: {r.stderr.strip()[-500:]}")


def main() -> None:
    from tests.grid.panda_server.server import PandaTestServer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--n_jobs", type=int, default=200)
    ap.add_argument("--trials_per_job", type=int, default=1)
    ap.add_argument("--poll", type=float, default=1.0, help="the driver's poll interval (HPOGRID_GRID_POLL_S)")
    args = ap.parse_args()
    src = os.environ.get("HPOGRID_BENCH_SRC") or str(REPO)
    with tempfile.TemporaryDirectory(prefix="hpogrid-bench-") as tmp:
        server = PandaTestServer(Path(tmp) / "server", max_parallel_jobs=args.n_jobs).start()
        server.payload = instant_job
        server.unpack_only = lambda name: name.endswith("points.json")  # (what instant_job reads)
        calls, stamps = [], []
        for endpoint in FOLLOW + SUBMIT:
            server.gates[endpoint] = lambda _args, e=endpoint: calls.append(e) or stamps.append((time.perf_counter(), e))
        try:
            env = {**os.environ, "HPOGRID_HOME": str(Path(tmp) / "home"), "PANDA_URL": server.url,
                   "PANDA_URL_SSL": server.url, "PANDACACHE_URL": server.url, "PANDA_BEHIND_REAL_LB": "1",
                   "RUCIO_ACCOUNT": "bench", "HPOGRID_GRID_POLL_S": str(args.poll),
                   "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
            env.pop("X509_USER_PROXY", None)
            env.pop("PANDA_AUTH", None)
            make_project(env, Path(tmp))
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            profile = os.environ.get("HPOGRID_BENCH_PROFILE")  # a cProfile output file for the driver
            r = subprocess.run([sys.executable, *(["-m", "cProfile", "-o", profile] if profile else []),
                                "-m", "hpogrid", "run", "bench", "--search", "central",
                                "--trials", str(args.trials), "--n_jobs", str(args.n_jobs),
                                "--trials_per_job", str(args.trials_per_job), "--seed", "1"],
                               env=env, capture_output=True, text=True, cwd=tmp)  # (cwd: -m finds hpogrid in src)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if r.returncode != 0:
                raise SystemExit(f"the driver failed: {r.stderr.strip()[-1500:]}")
        finally:
            server.stop()
        if os.environ.get("HPOGRID_BENCH_TRACE"):
            for when, e in stamps:
                print(f"{when - t0:8.2f} {e}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        polls, current = [], None
        for endpoint in calls:
            if endpoint == "task/get_tasks_modified_since":
                current = [endpoint]
                polls.append(current)
            elif endpoint in FOLLOW and current is not None:
                current.append(endpoint)
        per_poll = [len(p) for p in polls] or [0]
        tasks, waves = len(server.tasks), calls.count("task/submit")
        jobs = sum(len(t.latest_jobs()) for t in server.tasks.values())
        print(f"driver: {src} ({r.stderr.count('Traceback')} tracebacks)")
        print(f"{args.trials} trials, {args.n_jobs} jobs in flight, {args.trials_per_job} point(s) per job: "
              f"{jobs} jobs in {tasks} tasks, {waves} waves (target: tasks = waves)")
        print(f"requests per poll: max {max(per_poll)}, mean {sum(per_poll) / len(per_poll):.2f} over {len(polls)} "
              f"polls ({max(per_poll) / 3:.2f} x target 3)")
        print(f"driver CPU: {cpu:.1f} s, {cpu * 1000 / args.trials:.1f} s per 1,000 trials "
              f"({cpu * 1000 / args.trials / 10:.2f} x target 10 s); wall {wall:.1f} s")


if __name__ == "__main__":
    main()
