"""Multi-objective search quality: hypervolume after a fixed budget, the measurements behind
``auto``'s choice for several objectives.

Each searcher that optimises several objectives (optuna's NSGA-II, MOTPE, GP and QMC samplers,
Ax's qNEHVI, random search) gets ``--evals`` evaluations of each problem for each of
``--seeds`` seeds, driven exactly as ``local_run``, Slurm and the grid drive it (the adapter's
native ask/tell through :class:`hpogrid.search.AskTell`). Problems: ZDT1 in 6 dimensions (a
convex front), ZDT2 in 6 (a concave one), DTLZ2 in 7 dimensions with 3 objectives (their
optimal sets moved off the box's centre and edges), and a mixed
categorical/integer/log-scale "training" trade-off (validation loss against latency) with an
outcome constraint on memory. The score is the hypervolume of the feasible points against a
fixed reference point per problem (higher is better), computed by :mod:`hpogrid.pareto`.

Prints the mean hypervolume per problem and searcher with its rank (1 = best mean), the mean
rank, how many problems each is within noise of the best (the best mean minus one standard
error of its seeds), and the mean seconds per run. ``auto`` is the searcher it chooses for the
problem's space and budget (its result is that searcher's: the same seeded run).

Run: ``.venv/bin/python benchmarks/multi_objective.py [--evals 50] [--seeds 3] [--jobs 2]
[--algorithms random,optuna+nsga2,...] [--problems zdt1,...] [--save F] [--load F]``.
"""
from __future__ import annotations

import math
import os
import statistics
import sys
import time
import warnings
from typing import Callable, Dict, List, Optional, Tuple

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _runs  # noqa: E402 - the benchmarks' shared command line and pool


def _box(n: int) -> dict:
    return {f"x{i}": {"method": "uniform", "dimension": {"low": 0, "high": 1}} for i in range(n)}


#: where the Pareto-optimal set lies in the distance variables: off the box's centre and edges,
#: where a lattice's (QMC's) first points would land on it by construction
OPTIMAL = 0.37


def _zdt_g(x):
    return 1 + 9 * sum(abs(xi - OPTIMAL) for xi in x[1:]) / (len(x) - 1) / (1 - OPTIMAL)


def zdt1(p):
    x = [p[f"x{i}"] for i in range(6)]
    g = _zdt_g(x)
    return {"f1": x[0], "f2": g * (1 - math.sqrt(x[0] / g))}


def zdt2(p):
    x = [p[f"x{i}"] for i in range(6)]
    g = _zdt_g(x)
    return {"f1": x[0], "f2": g * (1 - (x[0] / g) ** 2)}


def dtlz2(p):
    x = [p[f"x{i}"] for i in range(7)]
    g = sum((xi - OPTIMAL) ** 2 for xi in x[2:])
    a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
    return {"f1": (1 + g) * math.cos(a) * math.cos(b), "f2": (1 + g) * math.cos(a) * math.sin(b),
            "f3": (1 + g) * math.sin(a)}


TRAINING_SPACE = {
    "lr": {"method": "loguniform", "dimension": {"low": 1e-5, "high": 1e-1}},
    "layers": {"method": "uniformint", "dimension": {"low": 1, "high": 8}},
    "units": {"method": "categorical", "dimension": {"categories": [32, 64, 128, 256, 512]}},
    "optimizer": {"method": "categorical", "dimension": {"categories": ["sgd", "adam", "rmsprop"]}},
    "dropout": {"method": "uniform", "dimension": {"low": 0, "high": 0.6}},
}


def training(p):
    """Loss falls with capacity (layers x units) with diminishing returns, has an optimum in
    log(lr) that depends on the optimizer, and suffers from too much dropout; latency grows
    with capacity; memory with units. A trade-off, not a function of one variable."""
    capacity = p["layers"] * p["units"]
    best_lr = {"sgd": -1.5, "adam": -3.0, "rmsprop": -2.5}[p["optimizer"]]
    lr_term = 0.08 * (math.log10(p["lr"]) - best_lr) ** 2
    loss = 0.15 + 0.6 / math.sqrt(capacity / 32) + lr_term + 0.4 * (p["dropout"] - 0.2) ** 2
    latency = 0.5 + capacity / 400 + 0.3 * p["layers"]
    return {"loss": loss, "latency": latency, "memory": p["units"] * (1 + 0.2 * p["layers"])}


class Problem:
    def __init__(self, f: Callable, space: dict, metrics: List[str], reference: List[float],
                 constraints: Optional[dict] = None, note: str = ""):
        self.f, self.space, self.metrics, self.reference = f, space, metrics, reference
        self.constraints, self.note = constraints, note


PROBLEMS: Dict[str, Problem] = {
    "zdt1": Problem(zdt1, _box(6), ["f1", "f2"], [1.1, 6.0], note="convex front"),
    "zdt2": Problem(zdt2, _box(6), ["f1", "f2"], [1.1, 6.0], note="concave front"),
    "dtlz2": Problem(dtlz2, _box(7), ["f1", "f2", "f3"], [2.0, 2.0, 2.0], note="3 objectives"),
    "training": Problem(training, TRAINING_SPACE, ["loss", "latency"], [1.5, 25.0],
                        constraints={"memory": ["<=", 400]}, note="mixed, memory <= 400"),
}
ALGORITHMS = ("random", "optuna+nsga2", "optuna+tpe", "optuna+gp", "optuna+qmc", "ax", "auto")


def objectives_of(problem: Problem):
    from hpogrid.objectives import Objectives

    return Objectives.parse(problem.metrics, ["min"] * len(problem.metrics), problem.constraints)


def build(name: str, space, objectives, evals: int, seed: int):
    """(AskTell, codec) of ``name`` ("optuna+gp": optuna's GP sampler) for a run of ``evals`` trials."""
    from hpogrid.search import AskTell, AutoAdapter, get_adapter
    from hpogrid.search._base import RunShape

    algorithm, _, sampler = name.partition("+")
    params = {"sampler": sampler} if sampler else {}
    adapter = get_adapter(algorithm)
    if isinstance(adapter, AutoAdapter):
        choice = AutoAdapter.choose(space, evals, objectives=objectives)
        adapter, params = choice.adapter, dict(choice.params)
    searcher, codec = adapter.build(space, objectives.metric, objectives.mode, seed, params, native=True,
                                    shape=RunShape(evals, 1), objectives=objectives)
    return AskTell(searcher, codec, objectives.metric, objectives.mode, objectives=objectives), codec


def run_one(job: Tuple[str, str, int, int]) -> Tuple[str, str, int, float, float]:
    """(problem, algorithm, seed, hypervolume of the feasible points, seconds)."""
    from hpogrid.pareto import hypervolume
    from hpogrid.search import Suggestion
    from hpogrid.space import SearchSpace

    problem_name, algorithm, seed, evals = job
    problem = PROBLEMS[problem_name]
    objectives = objectives_of(problem)
    started = time.perf_counter()
    asktell, codec = build(algorithm, SearchSpace.from_dict(problem.space), objectives, evals, seed)
    points, uid = [], 0
    while uid < evals:
        answer = asktell.ask(f"t{uid}")
        if not isinstance(answer, Suggestion):
            time.sleep(0.01)  # the library is still loading (its random start is done)
            continue
        uid += 1
        metrics = problem.f(codec.decode(answer.config))
        asktell.tell(answer.uid, metrics, True)
        if objectives.feasible(metrics):
            points.append(objectives.values(metrics))
    volume = hypervolume(points, objectives.modes, problem.reference) if points else 0.0
    return problem_name, algorithm, seed, volume, time.perf_counter() - started


def _table(results: Dict[Tuple[str, str], List[float]], seconds: Dict[str, List[float]], problems: List[str],
           algorithms: List[str]) -> None:
    mean = {k: statistics.mean(v) for k, v in results.items()}
    ranks: Dict[str, List[int]] = {a: [] for a in algorithms}
    near = dict.fromkeys(algorithms, 0)
    width = max(len(a) for a in algorithms) + 2
    print("\nmean hypervolume per problem (rank); * = within noise of the best "
          "(best mean - 1 standard error of its seeds)")
    print(f"{'':{width}s}" + "".join(f"{p:>20s}" for p in problems))
    cells: Dict[str, List[str]] = {a: [] for a in algorithms}
    others = [a for a in algorithms if a != "auto"]
    for p in problems:
        top = max(others, key=lambda a: mean[p, a])
        best = results[p, top]
        bar = statistics.mean(best) - (statistics.stdev(best) / math.sqrt(len(best)) if len(best) > 1 else 0.0)
        for a in algorithms:
            r = 1 + sum(mean[p, o] > mean[p, a] for o in others)
            ranks[a].append(r)
            within = mean[p, a] >= bar
            near[a] += within
            cells[a].append(f"{mean[p, a]:10.4f} ({r:2d}){'*' if within else ' '}")
    for a in algorithms:
        print(f"{a:{width}s}" + "".join(f"{c:>20s}" for c in cells[a]))
    print(f"\n{'searcher':{width}s} mean rank   within noise of best   seconds per run")
    for a in sorted(algorithms, key=lambda a: statistics.mean(ranks[a])):
        spent = statistics.mean(seconds[a]) if seconds.get(a) else float("nan")
        print(f"{a:{width}s} {statistics.mean(ranks[a]):9.2f}   {near[a]:d} of {len(problems):<17d}  {spent:8.1f}")


def main() -> None:
    args = _runs.parser(__doc__.splitlines()[0], ALGORITHMS, PROBLEMS).parse_args()
    algorithms, problems = args.algorithms.split(","), args.problems.split(",")
    from hpogrid.search import AutoAdapter
    from hpogrid.space import SearchSpace

    chosen = {}
    for p in problems:
        choice = AutoAdapter.choose(SearchSpace.from_dict(PROBLEMS[p].space), args.evals,
                                    objectives=objectives_of(PROBLEMS[p]))
        chosen[p] = _runs.label(choice)
    measured = [a for a in algorithms if a != "auto"]
    # "problem|algorithm|seed|evals" -> [hypervolume, seconds]
    runs = _runs.run_all(run_one, args, measured, problems, slow=("ax", "optuna+gp"), keep=list)
    results: Dict[Tuple[str, str], List[float]] = {}
    seconds: Dict[str, List[float]] = {a: [] for a in algorithms}
    for p in problems:
        for a in measured:
            got = [runs[f"{p}|{a}|{s}|{args.evals}"] for s in range(args.seeds)]
            results[p, a] = [g[0] for g in got]
            seconds[a] += [g[1] for g in got]
    _runs.add_auto(results, algorithms, problems, chosen)
    print(f"\n{args.evals} evaluations x {args.seeds} seeds")
    _table(results, seconds, problems, algorithms)


if __name__ == "__main__":
    main()
