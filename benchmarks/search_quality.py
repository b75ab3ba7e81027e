"""Search quality and suggestion speed of every searcher: the measurements behind ``auto``.

Each searcher gets ``--evals`` evaluations (default 50) of each problem for each of
``--seeds`` seeds, driven exactly as ``local_run``, Slurm and the grid drive it: the adapter's
native ask/tell through :class:`hpogrid.search.AskTell` (random starts, waits and all). The
problems are chosen to cover what physicists tune rather than one family of test functions:
10-D with 4 inactive dimensions, 8-D Rosenbrock, 20-D Styblinski-Tang, a mixed
categorical/integer/log-scale "training" surface with interactions, a quantised 8-D Levy, a
noisy one (scored by the true value of the point the searcher believed best), and two in
batch mode (ask 4, then tell 4, as with ``--n_jobs 4`` or four grid jobs in flight).

Prints the mean best value per problem and searcher, each searcher's rank on each problem
(1 = best mean), the mean rank over problems, and how many problems each is within noise of
the best (the best mean plus one standard error of the best's seeds). ``auto`` is the
searcher it chooses for that problem's space, budget and batch size (its result is that
searcher's: the same seeded run). ``--timing`` prints the time per suggestion after 50, 200
and 1000 told trials instead.

Run: ``.venv/bin/python benchmarks/search_quality.py [--evals 50] [--seeds 3] [--jobs 2]
[--algorithms random,optuna+gp,...] [--problems mixed9,...] [--timing]``.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import statistics
import sys
import time
import warnings
from typing import Callable, Dict, List, Tuple

import numpy as np

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _runs  # noqa: E402 - the benchmarks' shared command line and pool

_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _box(names, low, high, method="uniform", **extra):
    return {n: {"method": method, "dimension": {"low": low, "high": high, **extra}} for n in names}


def hartmann10(p):
    """Hartmann-6 in the first six of ten dimensions (four do nothing): min -3.322."""
    x = np.array([p[f"x{i}"] for i in range(6)])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def rosenbrock8(p):
    x = [p[f"x{i}"] for i in range(8)]
    return float(sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(7)))


def styblinski20(p):
    """Styblinski-Tang, 20-D, divided by 20: min -39.166."""
    x = np.array([p[f"x{i}"] for i in range(20)])
    return float(np.sum(x ** 4 - 16 * x ** 2 + 5 * x) / 2 / 20)


def levy8(p):
    """Levy on a grid of 0.25 steps: min 0 at x = 1."""
    w = 1 + (np.array([p[f"x{i}"] for i in range(8)]) - 1) / 4
    return float(np.sin(np.pi * w[0]) ** 2 + np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
                 + (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2))


_OPT = {"sgd": (0.05, -1.5), "adam": (0.0, -3.0), "rmsprop": (0.02, -2.5)}
_ACT = {"relu": 0.01, "tanh": 0.05, "gelu": 0.0, "sigmoid": 0.15}


def training(p):
    """A validation loss as a function of training choices, with the interactions of real
    ones: the best learning rate depends on the optimiser and the batch size, momentum matters
    only for SGD. Min 0.2 (adam, lr 1e-3 at batch 64, 4 layers, 256 units, ...)."""
    base, lr_opt = _OPT[p["optimizer"]]
    lr_opt += 0.5 * math.log10(p["batch"] / 64)
    loss = 0.2 + base + _ACT[p["activation"]] + 0.15 * (math.log10(p["lr"]) - lr_opt) ** 2
    loss += 0.02 * (p["layers"] - 4) ** 2 + 0.03 * (math.log2(max(p["units"], 1)) - 8) ** 2
    loss += 0.5 * (p["dropout"] - 0.3) ** 2 + 0.01 * (math.log10(p["weight_decay"]) + 4) ** 2
    if p["optimizer"] == "sgd":
        loss += 0.5 * (p["momentum"] - 0.9) ** 2
    return loss


TRAINING_SPACE = {
    "lr": {"method": "loguniform", "dimension": {"low": 1e-5, "high": 1}},
    "optimizer": {"method": "categorical", "dimension": {"categories": ["sgd", "adam", "rmsprop"]}},
    "batch": {"method": "categorical", "dimension": {"categories": [16, 32, 64, 128, 256]}},
    "activation": {"method": "categorical", "dimension": {"categories": list(_ACT)}},
    "layers": {"method": "uniformint", "dimension": {"low": 1, "high": 8}},
    "units": {"method": "qloguniform", "dimension": {"low": 16, "high": 1024, "q": 16}},
    "dropout": {"method": "quniform", "dimension": {"low": 0, "high": 0.7, "q": 0.05}},
    "weight_decay": {"method": "loguniform", "dimension": {"low": 1e-6, "high": 1e-1}},
    "momentum": {"method": "uniform", "dimension": {"low": 0, "high": 0.99}},
}


class Problem:
    def __init__(self, f: Callable, space: dict, noise: float = 0.0, batch: int = 1, note: str = ""):
        self.f, self.space, self.noise, self.batch, self.note = f, space, noise, batch, note


PROBLEMS: Dict[str, Problem] = {
    "hartmann10": Problem(hartmann10, _box([f"x{i}" for i in range(10)], 0, 1), note="min -3.322"),
    # boxes off-centre: a symmetric box puts a lattice's first points (QMC, grids) on or next
    # to the optimum of these functions, which says nothing about problems never seen
    "rosenbrock8": Problem(rosenbrock8, _box([f"x{i}" for i in range(8)], -1.6, 2.4), note="min 0"),
    "styblinski20": Problem(styblinski20, _box([f"x{i}" for i in range(20)], -4.2, 5.8), note="min -39.17"),
    "training9": Problem(training, TRAINING_SPACE, note="mixed, min 0.2"),
    "levy8q": Problem(levy8, _box([f"x{i}" for i in range(8)], -7, 13, "quniform", q=0.25), note="quantised, min 0"),
    "hartmann10-noisy": Problem(hartmann10, _box([f"x{i}" for i in range(10)], 0, 1), noise=0.3,
                                note="noise sd 0.3"),
    "training9-batch4": Problem(training, TRAINING_SPACE, batch=4, note="ask 4, tell 4"),
    "hartmann10-batch4": Problem(hartmann10, _box([f"x{i}" for i in range(10)], 0, 1), batch=4,
                                 note="ask 4, tell 4"),
}
ALGORITHMS = ("random", "hyperopt", "skopt", "ax", "bayesian", "optuna", "optuna+gp", "optuna+cmaes",
              "optuna+qmc", "nevergrad", "hebo", "auto")


def build(name: str, space, evals: int, batch: int, seed: int):
    """(AskTell, codec, concrete name) of ``name`` ("optuna+gp": optuna's GP sampler) for a run of
    ``evals`` trials, ``batch`` at once."""
    from hpogrid.search import AskTell, AutoAdapter, get_adapter
    from hpogrid.search._base import RunShape

    shape = RunShape(evals, batch)
    algorithm, _, sampler = name.partition("+")
    params = {"sampler": sampler} if sampler else {}
    adapter = get_adapter(algorithm)
    if isinstance(adapter, AutoAdapter):
        choice = AutoAdapter.choose(space, evals, parallel=batch)
        adapter, params = choice.adapter, dict(choice.params)
    searcher, codec = adapter.build(space, "loss", "min", seed, params, native=True, shape=shape)
    label = adapter.name + (f"+{params['sampler']}" if params.get("sampler") else "")
    return AskTell(searcher, codec, "loss", "min"), codec, label


def run_one(job: Tuple[str, str, int, int]) -> Tuple[str, str, int, float, float]:
    """(problem, algorithm, seed, true value of the best point, seconds)."""
    from hpogrid.search import Suggestion
    from hpogrid.space import SearchSpace

    problem_name, algorithm, seed, evals = job
    problem = PROBLEMS[problem_name]
    started = time.perf_counter()
    space = SearchSpace.from_dict(problem.space)
    asktell, codec, _ = build(algorithm, space, evals, problem.batch, seed)
    noise = np.random.default_rng(10_000 + seed)
    best_seen, best_true, done, uid = math.inf, math.inf, 0, 0
    while done < evals:
        batch: List[Suggestion] = []
        while len(batch) < min(problem.batch, evals - done):
            answer = asktell.ask(f"t{uid}")
            uid += 1
            if not isinstance(answer, Suggestion):
                if batch:
                    break
                time.sleep(0.01)  # the library is still loading (its random start is done)
                continue
            batch.append(answer)
        for suggestion in batch:
            true = problem.f(codec.decode(suggestion.config))
            seen = true + (noise.normal(0, problem.noise) if problem.noise else 0.0)
            asktell.tell(suggestion.uid, {"loss": seen}, True)
            if seen < best_seen:
                best_seen, best_true = seen, true
            done += 1
    return problem_name, algorithm, seed, best_true, time.perf_counter() - started


def suggestion_seconds(job: Tuple[str, int]) -> Tuple[str, int, float]:
    """Seconds per suggestion of ``algorithm`` after ``told`` results on training9."""
    from hpogrid.search import Suggestion
    from hpogrid.space import SearchSpace

    algorithm, told = job
    space = SearchSpace.from_dict(TRAINING_SPACE)
    asktell, codec, _ = build(algorithm, space, told + 10, 1, 0)
    rng = np.random.default_rng(0)
    from hpogrid.search import RandomSampler

    sampler = RandomSampler(codec, seed=1)
    for i in range(told):
        config = sampler.suggest(f"r{i}")
        asktell.adopt(f"r{i}", config)
        asktell.tell(f"r{i}", {"loss": training(codec.decode(config)) + rng.normal(0, 0.01)}, True)
    times, uid = [], 0
    while len(times) < 3:
        t = time.perf_counter()
        answer = asktell.ask(f"s{uid}")
        uid += 1
        if isinstance(answer, Suggestion):
            times.append(time.perf_counter() - t)
            asktell.tell(answer.uid, {"loss": training(codec.decode(answer.config))}, True)
    return algorithm, told, statistics.median(times)


def _timed(job, timeout: float) -> str:
    """``suggestion_seconds(job)`` in a process of its own, given up after ``timeout`` seconds
    (telling a GP-based searcher 1000 trials one by one can take far longer)."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        pending = pool.apply_async(suggestion_seconds, (job,))
        try:
            return f"{pending.get(timeout)[2]:10.3f}"
        except multiprocessing.TimeoutError:
            pool.terminate()
            return f"{'> ' + str(int(timeout)) + ' s':>10s}"


def _timing(algorithms: List[str], timeout: float) -> None:
    print(f"seconds per suggestion after N told trials (training9, median of 3; '>': telling "
          f"N trials and asking 3 took over {timeout:.0f} s)")
    print(f"{'searcher':14s}" + "".join(f"{n:>10d}" for n in (50, 200, 1000)), flush=True)
    for a in algorithms:
        cells = []
        for n in (50, 200, 1000):
            cells.append(_timed((a, n), timeout))
            if cells[-1].strip().startswith(">"):
                cells += [f"{'-':>10s}"] * (3 - len(cells))  # more trials only take longer
                break
        print(f"{a:14s}" + "".join(cells[:3]), flush=True)


def _table(results: Dict[Tuple[str, str], List[float]], problems: List[str], algorithms: List[str]) -> None:
    mean = {k: statistics.mean(v) for k, v in results.items()}
    ranks: Dict[str, List[int]] = {a: [] for a in algorithms}
    near: Dict[str, int] = {a: 0 for a in algorithms}
    width = max(len(a) for a in algorithms) + 2
    print("\nmean best value per problem (rank); * = within noise of the best "
          "(best mean + 1 standard error of its seeds)")
    print(f"{'':{width}s}" + "".join(f"{p:>22s}" for p in problems))
    cells: Dict[str, List[str]] = {a: [] for a in algorithms}
    for p in problems:
        others = [a for a in algorithms if a != "auto"]
        ranked = sorted(others, key=lambda a: mean[p, a])
        best = results[p, ranked[0]]
        bar = statistics.mean(best) + (statistics.stdev(best) / math.sqrt(len(best)) if len(best) > 1 else 0.0)
        for a in algorithms:
            r = 1 + sum(mean[p, o] < mean[p, a] for o in others)  # ties share a rank; auto is not its own rival
            ranks[a].append(r)
            within = mean[p, a] <= bar
            near[a] += within
            cells[a].append(f"{mean[p, a]:12.4f} ({r:2d}){'*' if within else ' '}")
    for a in algorithms:
        print(f"{a:{width}s}" + "".join(f"{c:>22s}" for c in cells[a]))
    print(f"\n{'searcher':{width}s} mean rank   within noise of best")
    for a in sorted(algorithms, key=lambda a: statistics.mean(ranks[a])):
        print(f"{a:{width}s} {statistics.mean(ranks[a]):9.2f}   {near[a]:d} of {len(problems)}")


def main() -> None:
    parser = _runs.parser(__doc__.splitlines()[0], ALGORITHMS, PROBLEMS)
    parser.add_argument("--timing", action="store_true", help="time per suggestion after 50, 200, 1000 trials")
    parser.add_argument("--timeout", type=float, default=120, help="--timing: seconds per measurement")
    args = parser.parse_args()
    algorithms = args.algorithms.split(",")
    problems = args.problems.split(",")
    if args.timing:
        _timing([a for a in algorithms if a != "auto"], args.timeout)
        return
    from hpogrid.search import AutoAdapter
    from hpogrid.space import SearchSpace

    chosen = {}
    for p in problems:
        problem = PROBLEMS[p]
        choice = AutoAdapter.choose(SearchSpace.from_dict(problem.space), args.evals, parallel=problem.batch)
        chosen[p] = _runs.label(choice)
    measured = [a for a in algorithms if a != "auto"]
    # "problem|algorithm|seed|evals" -> best true value
    runs = _runs.run_all(run_one, args, measured, problems, slow=("hebo", "skopt", "ax"), keep=lambda r: r[0])
    results: Dict[Tuple[str, str], List[float]] = {}
    for p in problems:
        for a in measured:
            results[p, a] = [runs[f"{p}|{a}|{s}|{args.evals}"] for s in range(args.seeds)]
    _runs.add_auto(results, algorithms, problems, chosen)
    print(f"\n{args.evals} evaluations x {args.seeds} seeds")
    _table(results, problems, algorithms)


if __name__ == "__main__":
    main()
