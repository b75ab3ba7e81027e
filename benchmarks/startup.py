"""Speed a user feels, measured in one run (issue: "first trial within 2 seconds").

1. Time to first trial: ``hpogrid local_run`` (a real CLI process) of a project whose function
   objective writes the moment it starts; the time from launching the command to that write.
   Target <= 2 s with any searcher (the model-based ones start from a random start drawn
   while their library loads; bohb is not measured: it needs Ray's bohbhyperband scheduler).
2. A whole 1-trial run vs ``python -c "import optuna; optuna.create_study().optimize(f, n_trials=1)"``.
   Target <= 3x.
3. 200 instant trials: ``local_run`` (optuna's TPE, every trial in the SQLite study store as it
   finishes) vs optuna itself with a SQLite study and the same sampler. Target <= 1.0x.
4. Peak memory of all of a ``local_run``'s processes together (the whole process tree, sampled
   with psutil) for a function objective with 2 parallel trials. Target <= 300 MB.
Each line also shows the same run with ``--ray`` (Ray Tune), the engine's other local path.

Run: ``.venv/bin/python benchmarks/startup.py [--repeat 3]``.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import projects  # benchmarks/projects.py

REPO = Path(__file__).resolve().parents[1]

FIRST = """
import os, time
def objective(config):
    mark = os.environ.get("BENCH_MARK")
    if mark and not os.path.exists(mark):
        open(mark, "w").write(repr(time.time()))
    time.sleep(float(os.environ.get("BENCH_SLEEP", "0")))
    return config["x"] ** 2 + config["y"]
"""
OPTUNA_ONE = ("import optuna; optuna.logging.set_verbosity(optuna.logging.WARNING); "
              "optuna.create_study().optimize(lambda t: t.suggest_float('x', -1, 1) ** 2, n_trials=1)")
OPTUNA_SQLITE = """
import sys, optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(storage=f"sqlite:///{sys.argv[1]}", sampler=optuna.samplers.TPESampler(seed=1))
study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2 + t.suggest_float("y", 0, 1), n_trials=int(sys.argv[2]))
"""
SEARCHERS = ("random", "optuna", "hyperopt", "skopt", "bayesian", "ax")


def make_project(home: str, name: str, algorithm: str, trials: int) -> None:
    projects.make_project(home, name, FIRST, algorithm=algorithm, trials=trials)


def local_run(env, *args) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hpogrid", "local_run", *args], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def first_trial(env, home, name, *extra) -> float:
    mark = Path(home) / f"mark-{name}-{time.monotonic_ns()}"
    t0 = time.time()
    subprocess.run([sys.executable, "-m", "hpogrid", "local_run", name, "--trials", "1", *extra],
                   env={**env, "BENCH_MARK": str(mark)}, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return float(mark.read_text()) - t0


def timed(argv, env) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def peak_tree_mb(argv, env) -> float:
    """Largest sum of RSS over the process and all its descendants, sampled every 20 ms."""
    import psutil

    proc = psutil.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        total = 0
        try:
            for p in [proc] + proc.children(recursive=True):
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.02)
    return peak / 2 ** 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="hpogrid-startup-")
    env = {**os.environ, "HPOGRID_HOME": home, "PYTHONPATH": str(REPO)}
    med = statistics.median
    for algorithm in SEARCHERS:
        make_project(home, f"first-{algorithm}", algorithm, 1)
    print("1. time from `hpogrid local_run` to the first trial's start (target <= 2 s):")
    for algorithm in SEARCHERS:
        name = f"first-{algorithm}"
        pool = med([first_trial(env, home, name) for _ in range(args.repeat)])
        ray = med([first_trial(env, home, name, "--ray") for _ in range(max(1, args.repeat // 2))])
        print(f"   {algorithm:8s}: {pool:.2f} s (with --ray: {ray:.2f} s)", flush=True)

    one = med([local_run(env, "first-optuna", "--trials", "1") for _ in range(args.repeat)])
    ref = med([timed([sys.executable, "-c", OPTUNA_ONE], env) for _ in range(args.repeat)])
    print(f"2. whole 1-trial run: {one:.2f} s vs optuna in memory {ref:.2f} s -> {one / ref:.2f}x (target <= 3x)")

    make_project(home, "many", "optuna", args.trials)
    ours = med([local_run(env, "many", "--seed", "1", "--study", f"s{i}") for i in range(args.repeat)])
    theirs = med([timed([sys.executable, "-c", OPTUNA_SQLITE, str(Path(home) / f"optuna-{i}.db"), str(args.trials)], env)
                  for i in range(args.repeat)])
    print(f"3. {args.trials} instant trials, TPE, SQLite: local_run {ours:.2f} s vs optuna {theirs:.2f} s "
          f"-> {ours / theirs:.2f}x (target <= 1.0x)")

    make_project(home, "mem", "random", 20)
    argv = [sys.executable, "-m", "hpogrid", "local_run", "mem", "--n_jobs", "2"]
    pool = peak_tree_mb(argv, {**env, "BENCH_SLEEP": "0.2"})
    ray = peak_tree_mb(argv + ["--ray", "--study", "ray"], {**env, "BENCH_SLEEP": "0.2"})
    print(f"4. peak memory of the whole process tree, 2 parallel trials: {pool:.0f} MB "
          f"(with --ray: {ray:.0f} MB; target <= 300 MB)")


if __name__ == "__main__":
    main()
