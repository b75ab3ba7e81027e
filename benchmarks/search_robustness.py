"""Search robustness: every searcher on many problem families with a new optimum per seed.

``search_quality.py`` chose ``auto`` on eight fixed problems and three seeds; a rule fitted
there follows their noise. Here each problem is rebuilt for each seed: its optimum is drawn
afresh (never at the box's centre, an edge or a lattice point) and, for the non-separable
problems, the coordinates are rotated at random. The families: Ackley, Levy, Rastrigin,
Schwefel, Griewank, Rosenbrock, an ill-conditioned ellipsoid, random Gaussian bumps, a space of
normal and qnormal priors, and two mixed categorical/integer/log "training" surfaces whose best
categories and interactions change with the seed; separable and rotated, with inactive
dimensions, quantised, noisy (scored by the true value of the point the searcher believed
best), conditional, and in batches (ask 4-8, then tell them) as with ``--n_jobs``.

Statistics, per (problem, seed) "seed-run": each searcher's rank among the searchers (ties
share), and its normalised regret ``(value - best) / (worst - best)`` over the searchers on that
seed-run, so no single bad seed dominates a mean. Printed: mean rank per problem and overall,
the worst normalised regret of each searcher on each problem (its worst seed-run), the share of
its seed-runs that stall (regret over 0.5: nearer the worst searcher than the best), and
held-out: the searcher with the best mean rank on half the families, with its rank on the other
half, and the reverse (``auto``'s rank on both halves beside it).

Run: ``nice -n 19 .venv/bin/python benchmarks/search_robustness.py [--budget 50] [--seeds 10]
[--jobs 2] [--searchers random,optuna,...] [--problems ackley6r,...] [--save f.json] [--load ...]``.
"""
from __future__ import annotations

import math
import os
import statistics
import sys
import time
import warnings
import zlib
from typing import Callable, Dict, List, Tuple

import numpy as np

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _runs  # noqa: E402 - the benchmarks' shared command line and pool
from search_quality import build  # noqa: E402 - the same AskTell drive as search_quality

# -- test functions on z, minimum 0 at z = 0 ------------------------------------------------


def ackley(z):
    d = len(z)
    return float(-20 * np.exp(-0.2 * np.sqrt(np.sum(z ** 2) / d)) - np.exp(np.sum(np.cos(2 * np.pi * z)) / d)
                 + 20 + np.e)


def levy(z):
    w = 1 + z / 4  # the minimum of Levy is at x = 1: z = x - 1
    return float(np.sin(np.pi * w[0]) ** 2 + np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
                 + (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2))


def rastrigin(z):
    return float(10 * len(z) + np.sum(z ** 2 - 10 * np.cos(2 * np.pi * z)))


def schwefel(z):
    x = z + 420.9687  # the scale keeps x in [166, 676], where 420.97 is the global minimum
    return float(418.9829 * len(z) - np.sum(x * np.sin(np.sqrt(np.abs(x)))))


def griewank(z):
    i = np.arange(1, len(z) + 1)
    return float(1 + np.sum(z ** 2) / 4000 - np.prod(np.cos(z / np.sqrt(i))))


def rosenbrock(z):
    x = z + 1
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def ellipsoid(z):
    w = 10 ** (6 * np.arange(len(z)) / max(len(z) - 1, 1))
    return float(np.log10(1 + np.sum(w * z ** 2)))


# family -> (function, scale of z across the unit box)
FAMILIES: Dict[str, Tuple[Callable, float]] = {
    "ackley": (ackley, 20.0), "levy": (levy, 12.0), "rastrigin": (rastrigin, 6.0), "schwefel": (schwefel, 300.0),
    "griewank": (griewank, 100.0), "rosenbrock": (rosenbrock, 4.0), "ellipsoid": (ellipsoid, 2.0),
}


def _optimum(rng, d: int) -> np.ndarray:
    """A point of [0.15, 0.85]^d at least 0.1 from the centre in some coordinate (a random real:
    no lattice point)."""
    while True:
        o = rng.uniform(0.15, 0.85, d)
        if np.max(np.abs(o - 0.5)) > 0.1:
            return o


def _rotation(rng, d: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


class Problem:
    """``make(rng)`` -> (objective on a decoded config, hpogrid space dict) for one seed."""

    def __init__(self, family: str, make: Callable, noise: float = 0.0, batch: int = 1, note: str = ""):
        self.family, self.make, self.noise, self.batch, self.note = family, make, noise, batch, note


def continuous(family: str, dims: int, active: int = 0, rotate: bool = True, method: str = "uniform",
               q: float = 0.0, lo: float = -3.0, hi: float = 7.0) -> Callable:
    """A shifted (and rotated) test function on ``active`` of ``dims`` parameters in [lo, hi]."""
    fun, scale = FAMILIES[family]
    active = active or dims

    def make(rng):
        o = _optimum(rng, active)
        rot = _rotation(rng, active) if rotate else np.eye(active)

        def f(p):
            u = (np.array([p[f"x{i}"] for i in range(active)]) - lo) / (hi - lo)
            return fun(scale * rot @ (u - o))

        extra = {"q": q} if q else {}
        return f, {f"x{i}": {"method": method, "dimension": {"low": lo, "high": hi, **extra}} for i in range(dims)}
    return make


def bumps(dims: int, count: int = 8) -> Callable:
    """A sum of ``count`` Gaussian wells of random depth, width and place (Hartmann-like)."""
    def make(rng):
        centres = np.array([_optimum(rng, dims) for _ in range(count)])
        depth = rng.uniform(0.3, 1.0, count)
        depth[0] = 1.2  # one well is the deepest
        width = rng.uniform(0.08, 0.25, count)

        def f(p):
            x = np.array([p[f"x{i}"] for i in range(dims)])
            return float(1.2 - np.sum(depth * np.exp(-np.sum((x - centres) ** 2, axis=1) / (2 * width ** 2))))
        return f, {f"x{i}": {"method": "uniform", "dimension": {"low": 0, "high": 1}} for i in range(dims)}
    return make


def normal_prior(dims: int) -> Callable:
    """Ackley on normal and qnormal parameters (prior N(0, 1)); the optimum about one sigma off."""
    def make(rng):
        o = rng.normal(0, 0.8, dims)
        o += np.sign(o) * 0.2  # never at the prior's centre
        rot = _rotation(rng, dims)

        def f(p):
            return ackley(4.0 * rot @ (np.array([p[f"x{i}"] for i in range(dims)]) - o))
        space = {f"x{i}": ({"method": "normal", "dimension": {"mu": 0, "sigma": 1}} if i % 2 else
                           {"method": "qnormal", "dimension": {"mu": 0, "sigma": 1, "q": 0.1}}) for i in range(dims)}
        return f, space
    return make


def training(conditional: bool = False) -> Callable:
    """A validation loss over training choices whose best categories and interactions are drawn
    per seed: the best learning rate depends on the optimiser and the batch size, momentum
    matters only for SGD (``conditional``: it exists only then)."""
    def make(rng):
        optimisers = ["sgd", "adam", "rmsprop"]
        base = dict(zip(optimisers, rng.permutation([0.0, 0.04, 0.09])))
        lr_at = dict(zip(optimisers, rng.uniform(-3.7, -1.3, 3)))
        acts = ["relu", "tanh", "gelu", "sigmoid"]
        act = dict(zip(acts, rng.permutation([0.0, 0.01, 0.05, 0.15])))
        layers_at, units_at = rng.uniform(2.3, 6.7), rng.uniform(5.3, 9.7)
        drop_at, wd_at, mom_at = rng.uniform(0.1, 0.55), rng.uniform(-5.3, -2.7), rng.uniform(0.6, 0.95)
        slope = rng.uniform(0.3, 0.7)

        def f(p):
            lr_opt = lr_at[p["optimizer"]] + slope * math.log10(p["batch"] / 64)
            loss = 0.2 + base[p["optimizer"]] + act[p["activation"]] + 0.15 * (math.log10(p["lr"]) - lr_opt) ** 2
            loss += 0.02 * (p["layers"] - layers_at) ** 2 + 0.03 * (math.log2(max(p["units"], 1)) - units_at) ** 2
            loss += 0.5 * (p["dropout"] - drop_at) ** 2 + 0.01 * (math.log10(p["weight_decay"]) - wd_at) ** 2
            if p["optimizer"] == "sgd":
                loss += 0.5 * (p["momentum"] - mom_at) ** 2
            return loss
        space = {
            "lr": {"method": "loguniform", "dimension": {"low": 1e-5, "high": 1}},
            "optimizer": {"method": "categorical", "dimension": {"categories": optimisers}},
            "batch": {"method": "categorical", "dimension": {"categories": [16, 32, 64, 128, 256]}},
            "activation": {"method": "categorical", "dimension": {"categories": acts}},
            "layers": {"method": "uniformint", "dimension": {"low": 1, "high": 8}},
            "units": {"method": "qloguniform", "dimension": {"low": 16, "high": 1024, "q": 16}},
            "dropout": {"method": "quniform", "dimension": {"low": 0, "high": 0.7, "q": 0.05}},
            "weight_decay": {"method": "loguniform", "dimension": {"low": 1e-6, "high": 1e-1}},
            "momentum": {"method": "uniform", "dimension": {"low": 0, "high": 0.99}},
        }
        if conditional:
            space["momentum"]["when"] = {"optimizer": ["sgd"]}
        return f, space
    return make


def gbm() -> Callable:
    """A boosted-trees loss: learning rate and tree count trade off (their log-sum matters),
    depth matters for tree boosters only, and which booster is best changes per seed."""
    def make(rng):
        boosters = ["gbtree", "dart", "linear"]
        base = dict(zip(boosters, rng.permutation([0.0, 0.03, 0.12])))
        budget_at, depth_at = rng.uniform(0.2, 1.4), rng.uniform(3.3, 8.7)
        sub_at, col_at, child_at = rng.uniform(0.55, 0.95), rng.uniform(0.45, 0.9), rng.uniform(-1.5, 1.5)

        def f(p):
            loss = 0.3 + base[p["booster"]]
            loss += 0.1 * (math.log10(p["learning_rate"]) + math.log10(p["n_estimators"]) - budget_at - 1) ** 2
            loss += 0.02 * max(0.0, -math.log10(p["learning_rate"]) - 1.5) ** 2  # tiny rates: slow to converge
            if p["booster"] != "linear":
                loss += 0.01 * (p["max_depth"] - depth_at) ** 2
            loss += 0.3 * (p["subsample"] - sub_at) ** 2 * (1 + (p["booster"] == "dart"))
            loss += 0.2 * (p["colsample"] - col_at) ** 2 + 0.02 * (math.log10(p["min_child"]) - child_at) ** 2
            return loss
        space = {
            "booster": {"method": "categorical", "dimension": {"categories": boosters}},
            "learning_rate": {"method": "loguniform", "dimension": {"low": 1e-3, "high": 1}},
            "n_estimators": {"method": "qloguniform", "dimension": {"low": 10, "high": 2000, "q": 10}},
            "max_depth": {"method": "uniformint", "dimension": {"low": 1, "high": 12}},
            "subsample": {"method": "uniform", "dimension": {"low": 0.3, "high": 1}},
            "colsample": {"method": "uniform", "dimension": {"low": 0.3, "high": 1}},
            "min_child": {"method": "loguniform", "dimension": {"low": 1e-2, "high": 1e2}},
        }
        return f, space
    return make


PROBLEMS: Dict[str, Problem] = {
    "ackley6r": Problem("ackley", continuous("ackley", 6)),
    "ackley10i": Problem("ackley", continuous("ackley", 10, active=4, rotate=False), note="6 inactive"),
    "ackley6r-noisy-b4": Problem("ackley", continuous("ackley", 6), noise=0.5, batch=4),
    "levy6r": Problem("levy", continuous("levy", 6)),
    "levy8q": Problem("levy", continuous("levy", 8, rotate=False, method="quniform", q=0.25), note="quantised"),
    "rastrigin4r": Problem("rastrigin", continuous("rastrigin", 4)),
    "rastrigin6s": Problem("rastrigin", continuous("rastrigin", 6, rotate=False)),
    "schwefel4s": Problem("schwefel", continuous("schwefel", 4, rotate=False)),
    "schwefel3r": Problem("schwefel", continuous("schwefel", 3)),
    "griewank6r": Problem("griewank", continuous("griewank", 6)),
    "griewank10i": Problem("griewank", continuous("griewank", 10, active=5), note="5 inactive"),
    "rosenbrock6r": Problem("rosenbrock", continuous("rosenbrock", 6)),
    "rosenbrock4s-b4": Problem("rosenbrock", continuous("rosenbrock", 4, rotate=False), batch=4),
    "ellipsoid8r": Problem("ellipsoid", continuous("ellipsoid", 8)),
    "ellipsoid12i": Problem("ellipsoid", continuous("ellipsoid", 12, active=6, rotate=False), note="6 inactive"),
    "bumps6": Problem("bumps", bumps(6)),
    "bumps4-noisy": Problem("bumps", bumps(4), noise=0.1),
    "normal6": Problem("normal", normal_prior(6), note="normal/qnormal priors"),
    "training9": Problem("training", training()),
    "training9-cond": Problem("training", training(conditional=True), note="conditional"),
    "training9-noisy-b8": Problem("training", training(), noise=0.03, batch=8),
    "gbm7": Problem("gbm", gbm()),
    "gbm7-b6": Problem("gbm", gbm(), batch=6),
}
#: the families in two halves (every other one in order of listing): a rule fitted on one is
#: scored on the other
_ORDER = list(dict.fromkeys(p.family for p in PROBLEMS.values()))
HALVES = (tuple(_ORDER[0::2]), tuple(_ORDER[1::2]))

SEARCHERS = ("random", "hyperopt", "skopt", "bayesian", "optuna", "optuna+gp", "optuna+gp-tpe", "optuna+cmaes",
             "optuna+qmc", "nevergrad", "hebo", "ax", "auto")
#: what ``auto`` may pick for one objective and an unconditional space: the held-out fit's candidates
CANDIDATES = ("optuna", "optuna+gp", "optuna+gp-tpe", "optuna+cmaes", "optuna+qmc", "nevergrad", "hyperopt",
              "skopt", "random")
STALL = 0.5


def instance(name: str, seed: int):
    """(objective, SearchSpace) of problem ``name`` for ``seed`` (the same on every call)."""
    from hpogrid.space import SearchSpace

    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    f, space = PROBLEMS[name].make(rng)
    return f, SearchSpace.from_dict(space)


def run_one(job: Tuple[str, str, int, int]) -> Tuple[str, str, int, float, float]:
    """(problem, searcher, seed, true value of the believed-best point, seconds)."""
    from hpogrid.search import Suggestion

    problem_name, algorithm, seed, evals = job
    problem = PROBLEMS[problem_name]
    started = time.perf_counter()
    f, space = instance(problem_name, seed)
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
            true = f(codec.decode(suggestion.config))
            seen = true + (noise.normal(0, problem.noise) if problem.noise else 0.0)
            asktell.tell(suggestion.uid, {"loss": seen}, True)
            if seen < best_seen:
                best_seen, best_true = seen, true
            done += 1
    return problem_name, algorithm, seed, best_true, time.perf_counter() - started


# -- statistics -----------------------------------------------------------------------------


def seed_stats(values: Dict[str, float]) -> Tuple[Dict[str, float], Dict[str, float]]:
    """Ranks (ties share the mean rank) and normalised regrets of one seed-run's searchers."""
    names = list(values)
    best, worst = min(values.values()), max(values.values())
    span = worst - best
    ranks = {a: 1 + sum(values[o] < values[a] for o in names) + 0.5 * sum(values[o] == values[a] for o in names
                                                                          if o != a) for a in names}
    regret = {a: (values[a] - best) / span if span > 0 else 0.0 for a in names}
    return ranks, regret


def tables(runs: Dict[Tuple[str, str, int], float], problems: List[str], searchers: List[str], seeds: List[int]):
    """(rank, regret) dicts keyed (problem, searcher) -> list over seeds."""
    rank: Dict[Tuple[str, str], List[float]] = {}
    regret: Dict[Tuple[str, str], List[float]] = {}
    for p in problems:
        for s in seeds:
            r, g = seed_stats({a: runs[p, a, s] for a in searchers})
            for a in searchers:
                rank.setdefault((p, a), []).append(r[a])
                regret.setdefault((p, a), []).append(g[a])
    return rank, regret


def mean_rank(rank, problems, a) -> float:
    return statistics.mean(x for p in problems for x in rank[p, a])


def report(runs, problems: List[str], searchers: List[str], seeds: List[int], chosen: Dict[str, str]) -> None:
    rank, regret = tables(runs, problems, searchers, seeds)
    if chosen:  # auto: the seed-runs of the searcher it picks, ranked as if it were that one
        for p in problems:
            rank[p, "auto"], regret[p, "auto"] = rank[p, chosen[p]], regret[p, chosen[p]]
        print("auto chose: " + ", ".join(f"{p} -> {c}" for p, c in chosen.items()))
    rows = sorted(list(searchers) + (["auto"] if chosen else []), key=lambda a: mean_rank(rank, problems, a))
    width = max(len(p) for p in problems) + 1
    cols = "".join(f"{a:>{max(len(a), 6) + 1}s}" for a in rows)

    def line(label, cells):
        return f"{label:{width}s}" + "".join(f"{c:>{max(len(a), 6) + 1}s}" for a, c in zip(rows, cells))
    print(f"\nmean rank over {len(seeds)} seeds (1 = best of {len(searchers)} on a seed-run; auto = the searcher "
          "it picks)")
    print(f"{'':{width}s}{cols}")
    for p in problems:
        print(line(p, [f"{statistics.mean(rank[p, a]):.2f}" for a in rows]))
    print(line("mean", [f"{mean_rank(rank, problems, a):.2f}" for a in rows]))
    print(f"\nworst seed-run per problem (normalised regret: 0 = best searcher on that seed, 1 = worst); "
          f"stalled = share of seed-runs over {STALL}")
    print(f"{'':{width}s}{cols}")
    worst = {(p, a): max(regret[p, a]) for p in problems for a in rows}
    for p in problems:
        print(line(p, [f"{worst[p, a]:.2f}" for a in rows]))
    print(line("mean worst", [f"{statistics.mean(worst[p, a] for p in problems):.2f}" for a in rows]))
    print(line("stalled", [f"{statistics.mean(float(x > STALL) for p in problems for x in regret[p, a]):.0%}"
                           for a in rows]))
    if chosen:
        others = list(searchers)
        beats = [p for p in problems if worst[p, "auto"] <= statistics.median(worst[p, a] for a in others) + 1e-12]
        print(f"auto's worst seed-run no worse than the median searcher's worst on {len(beats)} of {len(problems)}"
              f" problems" + ("" if len(beats) == len(problems) else
                              f" (not on: {', '.join(p for p in problems if p not in beats)})"))
    held_out(rank, problems, searchers, rows)


def held_out(rank, problems: List[str], searchers: List[str], rows: List[str]) -> None:
    """Fit "the best candidate by mean rank" on one half of the families, score it on the other."""
    candidates = [a for a in CANDIDATES if a in searchers]
    print("\nheld-out: fit = the candidate with the best mean rank on one half's families; rank on the other half")
    for fit, test in (HALVES, HALVES[::-1]):
        on_fit = [p for p in problems if PROBLEMS[p].family in fit]
        on_test = [p for p in problems if PROBLEMS[p].family in test]
        if not on_fit or not on_test or not candidates:
            continue
        pick = min(candidates, key=lambda a: mean_rank(rank, on_fit, a))
        order = sorted(rows, key=lambda a: mean_rank(rank, on_test, a))
        print(f"  fit on {'/'.join(fit)}: picks {pick}; on {'/'.join(test)} ({len(on_test)} problems):")
        for place, a in enumerate(order, 1):
            mark = " <- fitted pick" if a == pick else ""
            print(f"    {place:2d}. {a:{max(len(r) for r in rows)}s} {mean_rank(rank, on_test, a):6.2f}{mark}")


def main() -> None:
    parser = _runs.parser(__doc__.splitlines()[0], SEARCHERS, PROBLEMS)
    parser.set_defaults(seeds=10)
    parser.add_argument("--budget", type=int, help="evaluations per run (same as --evals)")
    parser.add_argument("--searchers", help="same as --algorithms")
    args = parser.parse_args()
    if args.budget:
        args.evals = args.budget
    searchers = (args.searchers or args.algorithms).split(",")
    problems = args.problems.split(",")
    unknown = [p for p in problems if p not in PROBLEMS]
    if unknown:
        raise SystemExit(f"--problems: unknown {', '.join(unknown)}; choose from {', '.join(PROBLEMS)}")
    from hpogrid.search import AutoAdapter

    chosen = {}
    if "auto" in searchers:
        for p in problems:
            choice = AutoAdapter.choose(instance(p, 0)[1], args.evals, parallel=PROBLEMS[p].batch)
            chosen[p] = _runs.label(choice)
    measured = [a for a in searchers if a != "auto"]
    missing = sorted(set(chosen.values()) - set(measured))
    if missing:
        raise SystemExit(f"auto picks {', '.join(missing)} here: include it in --searchers")
    raw = _runs.run_all(run_one, args, measured, problems, slow=("hebo", "skopt", "ax", "bayesian"),
                        keep=lambda r: r[0])
    seeds = list(range(args.seeds))
    runs = {(p, a, s): raw[f"{p}|{a}|{s}|{args.evals}"] for p in problems for a in measured for s in seeds}
    print(f"\n{args.evals} evaluations x {args.seeds} seeds, {len(problems)} problems, families halves "
          f"{'/'.join(HALVES[0])} | {'/'.join(HALVES[1])}")
    report(runs, problems, measured, seeds, chosen)


if __name__ == "__main__":
    main()
