"""Search quality per algorithm on Branin, Hartmann-6 and 5-D Rosenbrock.

Each algorithm gets ``--evals`` sequential evaluations (default 50) for each of ``--seeds``
seeds (default 5), through the same adapter and codec ``local_run`` uses; the searcher is
driven with its own suggest/complete calls (the Ray runner adds nothing to quality and
would only add minutes). Prints the mean best value per function, each algorithm's rank
(1 = best mean) and whether it beats random search. Used to decide the ``auto`` default.

Run: ``.venv/bin/python benchmarks/search_quality.py [--evals 50] [--seeds 5] [--algorithms a,b]``.
"""
import argparse
import math
import os
import statistics
import time
import warnings

import numpy as np

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
warnings.filterwarnings("ignore")

from hpogrid.search import get_adapter  # noqa: E402
from hpogrid.search._adapters import AutoAdapter  # noqa: E402
from hpogrid.space import SearchSpace  # noqa: E402

_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def branin(p):
    x1, x2 = p["x1"], p["x2"]
    return ((x2 - 5.1 / (4 * math.pi ** 2) * x1 ** 2 + 5 / math.pi * x1 - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10)


def hartmann6(p):
    x = np.array([p[f"x{i}"] for i in range(6)])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def rosenbrock5(p):
    x = [p[f"x{i}"] for i in range(5)]
    return float(sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(4)))


def _box(names, low, high):
    return {n: {"method": "uniform", "dimension": {"low": low, "high": high}} for n in names}


PROBLEMS = {
    "branin (min 0.398)": (branin, {"x1": {"method": "uniform", "dimension": {"low": -5, "high": 10}},
                                    "x2": {"method": "uniform", "dimension": {"low": 0, "high": 15}}}),
    "hartmann6 (min -3.322)": (hartmann6, _box([f"x{i}" for i in range(6)], 0, 1)),
    "rosenbrock5 (min 0)": (rosenbrock5, _box([f"x{i}" for i in range(5)], -2, 2)),
}
ALGORITHMS = ("random", "hyperopt", "skopt", "bohb", "ax", "bayesian", "optuna", "auto")


def best_of(algorithm: str, f, space_dict: dict, evals: int, seed: int) -> float:
    space = SearchSpace.from_dict(space_dict)
    adapter = get_adapter(algorithm)
    if isinstance(adapter, AutoAdapter):
        adapter = AutoAdapter.choose(space, evals)
    searcher, codec = adapter.build(space, "loss", "min", seed, {})
    best = math.inf
    if adapter.name in ("random", "tune"):  # the basic generator samples Tune's domains
        rng = np.random.default_rng(seed)
        domains = codec.param_space()
        for _ in range(evals):
            best = min(best, f(codec.decode({n: d.sample(random_state=rng) for n, d in domains.items()})))
        return best
    searcher.set_search_properties("loss", "min", codec.param_space())
    for i in range(evals):
        config = searcher.suggest(f"t{i}")
        value = f(codec.decode(config))
        searcher.on_trial_complete(f"t{i}", {"loss": value, "training_iteration": 1})
        best = min(best, value)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS))
    args = parser.parse_args()
    algorithms = args.algorithms.split(",")
    results = {}
    for problem, (f, space) in PROBLEMS.items():
        for alg in algorithms:
            t = time.perf_counter()
            try:
                bests = [best_of(alg, f, space, args.evals, seed) for seed in range(args.seeds)]
                results[problem, alg] = statistics.mean(bests)
            except Exception as exc:  # noqa: BLE001 - a broken searcher is a result too
                results[problem, alg] = math.nan
                print(f"  {alg} on {problem}: FAILED {type(exc).__name__}: {exc}")
            print(f"  {problem:24s} {alg:9s} mean best {results[problem, alg]:10.4f} "
                  f"({time.perf_counter() - t:.1f} s)", flush=True)
    print(f"\n{args.evals} evaluations x {args.seeds} seeds; mean best value (rank among algorithms, "
          "+ = better than random)")
    header = f"{'algorithm':10s}" + "".join(f"{p:>28s}" for p in PROBLEMS)
    print(header)
    for alg in algorithms:
        cells = []
        for problem in PROBLEMS:
            ranked = sorted((v, a) for (p, a), v in results.items() if p == problem and not math.isnan(v))
            rank = next((i + 1 for i, (_, a) in enumerate(ranked) if a == alg), None)
            v, r = results[problem, alg], results.get((problem, "random"), math.nan)
            mark = "+" if v < r else ("=" if v == r else "-")
            cells.append(f"{v:14.4f} (rank {rank}) {mark}" if rank else f"{'failed':>26s}")
        print(f"{alg:10s}" + "".join(f"{c:>28s}" for c in cells))


if __name__ == "__main__":
    main()
