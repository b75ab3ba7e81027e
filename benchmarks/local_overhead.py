"""What hpogrid adds on top of Ray Tune, measured in one run.

1. Overhead: N instant trials (default 200) with random search through hpogrid's Ray Tune backend (study
   store writes, codec, progress) vs the same searcher and settings driven directly through
   Ray Tune. Each arm runs in a fresh process (Ray started and stopped inside, as a user
   sees it), alternating, ``--repeat`` times; the ratio of medians is printed (target <= 1.10).
2. Utilisation: 2 parallel trials of 0.5 s on 2 cores through hpogrid's Ray Tune backend: busy trial time
   divided by 2 x the wall time from the first trial start to the last trial end (target >= 90 %),
   next to the same trials driven by Ray Tune directly (what Ray itself allows).

Run: ``.venv/bin/python benchmarks/local_overhead.py [--trials 200] [--repeat 3]``.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import projects  # benchmarks/projects.py

REPO = Path(__file__).resolve().parents[1]

DIRECT = """
import os, sys, time
os.environ.update(RAY_AUTH_MODE="disabled", RAY_AIR_NEW_OUTPUT="0", RAY_USAGE_STATS_ENABLED="0")
t0 = time.perf_counter()
import ray
from ray import tune
from ray.tune.search.basic_variant import BasicVariantGenerator
def objective(config):
    tune.report({"loss": config["x"] ** 2 + config["y"]})
ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level="ERROR")
tune.Tuner(tune.with_resources(objective, {"cpu": 1}),
           param_space={"x": tune.uniform(-1, 1), "y": tune.uniform(0, 1)},
           tune_config=tune.TuneConfig(search_alg=BasicVariantGenerator(random_state=1, max_concurrent=2),
                                       num_samples=int(sys.argv[1]), reuse_actors=True),
           run_config=tune.RunConfig(storage_path=sys.argv[2], verbose=0)).fit()
ray.shutdown()
print(time.perf_counter() - t0)
"""

HPOGRID = """
import sys, time
t0 = time.perf_counter()
from hpogrid.backends import RunOptions, get_backend
from hpogrid.project import load_project
get_backend("ray").run(load_project(sys.argv[1]), RunOptions(progress=False))
print(time.perf_counter() - t0)
"""

# the same 20 sleeping trials driven by Ray Tune directly: the ceiling hpogrid is held against
DIRECT_SLEEPY = """
import os, sys, time
os.environ.update(RAY_AUTH_MODE="disabled", RAY_AIR_NEW_OUTPUT="0", RAY_USAGE_STATS_ENABLED="0")
import ray
from ray import tune
def objective(config):
    t0 = time.time()
    time.sleep(0.5)
    return {"loss": config["x"], "t0": t0, "t1": time.time()}
ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level="ERROR")
results = tune.Tuner(objective, param_space={"x": tune.uniform(-1, 1)},
                     tune_config=tune.TuneConfig(num_samples=20, reuse_actors=True, max_concurrent_trials=2),
                     run_config=tune.RunConfig(storage_path=sys.argv[1], verbose=0,
                                               stop={"training_iteration": 1})).fit()
rows = [(r.metrics["t0"], r.metrics["t1"]) for r in results]
ray.shutdown()
print(sum(b - a for a, b in rows) / (2 * (max(b for a, b in rows) - min(a for a, b in rows))))
"""

INSTANT = "def objective(config):\n    return config['x'] ** 2 + config['y']\n"
SLEEPY = textwrap.dedent("""
    import time

    def objective(config):
        t0 = time.time()
        time.sleep(0.5)
        return {"loss": config["x"], "t0": t0, "t1": time.time()}
""")
def make_project(home: str, name: str, script: str, trials: int) -> None:
    projects.make_project(home, name, script, algorithm="random", trials=trials, scheduler="fifo")


def run(code: str, *args: str, env=None) -> float:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="hpogrid-bench-")
    env = {**os.environ, "HPOGRID_HOME": home}
    ours, direct = [], []
    for i in range(args.repeat):
        make_project(home, f"inst{i}", INSTANT, args.trials)
        ours.append(run(HPOGRID, f"inst{i}", env=env))
        direct.append(run(DIRECT, str(args.trials), str(Path(home) / f"direct{i}"), env=env))
        print(f"  repeat {i + 1}: hpogrid {ours[-1]:.2f} s, Ray Tune directly {direct[-1]:.2f} s", flush=True)
    mo, md = statistics.median(ours), statistics.median(direct)
    print(f"{args.trials} instant trials: hpogrid local_run {mo:.2f} s, Ray Tune directly {md:.2f} s "
          f"(medians of {args.repeat}, each including Ray start/stop)")
    print(f"overhead ratio: {mo / md:.3f} (target <= 1.10)")

    make_project(home, "sleepy", SLEEPY, 20)
    run(HPOGRID, "sleepy", env=env)
    from hpogrid.study import load

    trials = load("sleepy").trials
    busy = sum(t.metrics["t1"] - t.metrics["t0"] for t in trials)
    span = max(t.metrics["t1"] for t in trials) - min(t.metrics["t0"] for t in trials)
    direct_util = run(DIRECT_SLEEPY, str(Path(home) / "direct-sleepy"), env=env)
    print(f"utilisation, 20 trials of 0.5 s, 2 at a time on {os.cpu_count()} cores: "
          f"{100 * busy / (2 * span):.1f} % (target >= 90 %; Ray Tune directly: {100 * direct_util:.1f} %)")


if __name__ == "__main__":
    main()
