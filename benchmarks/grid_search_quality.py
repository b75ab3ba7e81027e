"""One search across the grid vs independent searches per job, at the same budget.

``hpogrid run --n_jobs 10 --trials 5`` (``--search independent``) runs ten 5-trial searches,
seeds base..base+9, none learning from another; ``--search central --n_jobs 10 --trials 50``
runs one 50-trial search with 10 jobs in flight, told every result as its job ends. Jobs are
simulated through hpogrid's own ask/tell layer (the searchers and codecs the backends use;
jobs end in a random order), so the benchmark runs in minutes. Printed per function: the
mean regret (best found - known minimum) over ``--seeds`` seeds for both, and their ratio
central / independent (< 1: central better). Target: central better on every function.

Run: ``.venv/bin/python benchmarks/grid_search_quality.py [--jobs 10] [--per-job 5] [--seeds 5]
[--algorithm optuna]``.
"""
import argparse
import math
import statistics
import warnings

import numpy as np

warnings.filterwarnings("ignore")

from search_quality import PROBLEMS as SMOOTH  # noqa: E402  (benchmarks/search_quality.py)

from hpogrid.search import AskTell, Suggestion, get_adapter  # noqa: E402
from hpogrid.space import SearchSpace  # noqa: E402

_PENALTY = {"sgd": 0.5, "adam": 0.0, "rmsprop": 0.2}


def mixed(p):
    """A network-training-like function: categorical, integer, log-scale and quantised; min 0."""
    return (_PENALTY[p["optimizer"]] + (p["layers"] - 5) ** 2 / 8 + (math.log10(p["lr"]) + 2.5) ** 2 / 4
            + 4 * (p["dropout"] - 0.2) ** 2)


MIXED_SPACE = {"optimizer": {"method": "categorical", "dimension": {"categories": list(_PENALTY)}},
               "layers": {"method": "uniformint", "dimension": {"low": 1, "high": 8}},
               "lr": {"method": "loguniform", "dimension": {"low": 1e-5, "high": 1e-1}},
               "dropout": {"method": "quniform", "dimension": {"low": 0.0, "high": 0.5, "q": 0.05}}}
MINIMA = {"branin (min 0.398)": 0.397887, "hartmann6 (min -3.322)": -3.32237, "rosenbrock5 (min 0)": 0.0,
          "mixed cat/int/log (min 0)": 0.0}
PROBLEMS = {**SMOOTH, "mixed cat/int/log (min 0)": (mixed, MIXED_SPACE)}


def _searcher(algorithm, space, seed):
    searcher, codec = get_adapter(algorithm).build(space, "loss", "min", seed, {}, native=True)
    return AskTell(searcher, codec, "loss", "min"), codec


def _ask(asker, uid):
    answer = asker.ask(uid)
    while not isinstance(answer, Suggestion):  # a searcher waiting for its library (random start)
        import time

        time.sleep(0.05)
        answer = asker.ask(uid)
    return answer


def independent(fn, space, algorithm, jobs, per_job, seed):
    """Today's grid: job k searches alone, seed + k, its trials one after another."""
    best = math.inf
    for k in range(jobs):
        asker, codec = _searcher(algorithm, space, seed * 1000 + k)
        for i in range(per_job):
            answer = _ask(asker, f"{k}-{i}")
            value = fn(codec.decode(answer.config))
            asker.tell(answer.uid, {"loss": value}, ok=True)
            best = min(best, value)
    return best


def central(fn, space, algorithm, jobs, per_job, seed):
    """One searcher, ``jobs`` points in flight; a random one of them ends next."""
    rng = np.random.default_rng(seed)
    asker, codec = _searcher(algorithm, space, seed * 1000)
    total, asked, best = jobs * per_job, 0, math.inf
    live = []
    while asked < total or live:
        while len(live) < jobs and asked < total:
            live.append(_ask(asker, f"t{asked}"))
            asked += 1
        done = live.pop(int(rng.integers(len(live))))
        value = fn(codec.decode(done.config))
        asker.tell(done.uid, {"loss": value}, ok=True)
        best = min(best, value)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--per-job", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--algorithm", default="optuna")
    args = parser.parse_args()
    print(f"{args.jobs} jobs x {args.per_job} trials, algorithm {args.algorithm}, {args.seeds} seeds: "
          "mean regret (best - minimum), lower is better")
    print(f"{'function':28s} {'independent':>12s} {'central':>12s} {'central/indep':>14s}")
    wins = 0
    for name, (fn, space_dict) in PROBLEMS.items():
        space = SearchSpace.from_dict(space_dict)
        minimum = MINIMA[name]
        ind = statistics.mean(independent(fn, space, args.algorithm, args.jobs, args.per_job, s) - minimum
                              for s in range(args.seeds))
        cen = statistics.mean(central(fn, space, args.algorithm, args.jobs, args.per_job, s) - minimum
                              for s in range(args.seeds))
        ratio = cen / ind if ind > 0 else float("nan")
        wins += cen < ind
        print(f"{name:28s} {ind:12.4g} {cen:12.4g} {ratio:14.2f}", flush=True)
    print(f"central better on {wins} of {len(PROBLEMS)} functions (target: all)")


if __name__ == "__main__":
    main()
