"""What the search benchmarks share: their command line, and running every (problem, searcher,
seed) in a pool of processes, kept in a JSON file so an interrupted or extended benchmark
re-runs nothing it already has."""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
from typing import Any, Callable, Dict, Iterable, List, Tuple


def parser(description: str, algorithms: Iterable[str], problems: Iterable[str]) -> argparse.ArgumentParser:
    out = argparse.ArgumentParser(description=description)
    out.add_argument("--evals", type=int, default=50)
    out.add_argument("--seeds", type=int, default=3)
    out.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 1)))
    out.add_argument("--algorithms", default=",".join(algorithms))
    out.add_argument("--problems", default=",".join(problems))
    out.add_argument("--save", help="write every run's result to this JSON file")
    out.add_argument("--load", help="add the results of earlier --save files (comma-separated) instead of "
                                    "running them again")
    return out


def run_all(run_one: Callable, args: Any, measured: List[str], problems: List[str], slow: Tuple[str, ...],
            keep: Callable[[list], Any]) -> Dict[str, Any]:
    """``"problem|algorithm|seed|evals"`` -> ``keep(rest)`` of what ``run_one((problem, algorithm,
    seed, evals))`` returned, ``(problem, algorithm, seed, *rest)`` with ``rest`` = (score, ...,
    seconds), for every combination (those in ``--load`` files are not run again; ``slow``
    algorithms run last, so partial output is useful)."""
    runs: Dict[str, Any] = {}
    for path in (args.load.split(",") if args.load else []):
        with open(path) as fh:
            runs.update(json.load(fh))
    jobs = [(p, a, s, args.evals) for a in measured for p in problems for s in range(args.seeds)
            if f"{p}|{a}|{s}|{args.evals}" not in runs]
    jobs.sort(key=lambda j: j[1] in slow)
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for p, a, s, *result in pool.imap_unordered(run_one, jobs):
            runs[f"{p}|{a}|{s}|{args.evals}"] = keep(result)
            print(f"  {p:18s} {a:14s} seed {s}: {result[0]:10.4f}  ({result[-1]:.1f} s)", flush=True)
            if args.save:
                with open(args.save, "w") as fh:
                    json.dump(runs, fh, indent=0)
    return runs


def label(choice: Any) -> str:
    """An ``AutoChoice`` as the benchmarks name searchers (``optuna+gp``)."""
    return choice.adapter.name + (f"+{choice.params['sampler']}" if choice.params.get("sampler") else "")


def add_auto(results: Dict[Tuple[str, str], Any], algorithms: List[str], problems: List[str],
             chosen: Dict[str, str]) -> None:
    """``auto``'s row: on each problem, the result of the searcher it chooses there."""
    if "auto" not in algorithms:
        return
    for p in problems:
        if (p, chosen[p]) not in results:
            raise SystemExit(f"auto chose {chosen[p]} on {p}: include it in --algorithms")
        results[p, "auto"] = results[p, chosen[p]]
    print("\nauto chose: " + ", ".join(f"{p} -> {c}" for p, c in chosen.items()))
