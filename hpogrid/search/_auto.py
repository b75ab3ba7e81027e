"""``auto``: the searcher chosen from what is known before the first trial.

The rule reads the space's kinds of parameters, the budget (``trials``), the trials running at
once and the scheduler. It is measured, not a matter of taste: ``benchmarks/search_quality.py``
runs every searcher on problems chosen to generalise (continuous with inactive dimensions,
Rosenbrock, 20-D, mixed categorical/integer/log "training", quantised, noisy, batch), and
``--timing`` measures each searcher's seconds per suggestion as trials accumulate.
``benchmarks/search_robustness.py`` checks the choice on many more families, with the optimum
drawn afresh per seed, scored by rank per seed-run, worst seed-run and held-out halves: the GP
alone stalled on some seeds of multimodal problems, so ``auto`` runs optuna's ``gp-tpe``
(:mod:`hpogrid.search._stall`). The README shows the rule as a table with the figures behind it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict

from hpogrid.search._adapters import BohbAdapter, OptunaAdapter, RandomSearch, TuneSearch
from hpogrid.search._base import SearcherAdapter
from hpogrid.space import LatentChoice

#: fewer trials than this: random search (a model has nothing to learn from)
MIN_MODEL_TRIALS = 10
#: optuna's GP sampler up to this many trials: its suggestion took 1 s after 200 trials and
#: 8 s after 1000 (``benchmarks/search_quality.py --timing``, loaded 2-core machine)
GP_MAX_TRIALS = 200
#: ... and up to this many trials at once: each running trial is one more term of its batch
#: acquisition (qLogEI), seconds per suggestion with categories at 4 already
GP_MAX_PARALLEL = 4


@dataclass(frozen=True)
class SpaceTraits:
    """The kinds of a space's searched parameters (a one-value parameter is not searched)."""

    numeric: int
    categorical: int

    @classmethod
    def of(cls, space) -> "SpaceTraits":
        numeric = categorical = 0
        for param in space.values():
            latent = param.latent()
            if isinstance(latent, LatentChoice):
                categorical += len(latent.categories) > 1
            else:
                numeric += 1
        return cls(numeric, categorical)


@dataclass(frozen=True)
class AutoChoice:
    """What ``auto`` runs: an adapter, the ``algorithm_param`` it gets, and why (shown to the user)."""

    adapter: SearcherAdapter
    params: Dict[str, Any]
    why: str

    @property
    def label(self) -> str:
        sampler = self.params.get("sampler")
        return self.adapter.name + (f" (sampler {sampler})" if sampler else "")


class AutoAdapter(SearcherAdapter):
    """Picks an algorithm from what is known before the first trial: see :meth:`choose`."""

    name = "auto"

    @staticmethod
    def choose(space, trials: int, scheduler: str = "fifo", parallel: int = 1, objectives: Any = None) -> AutoChoice:
        """The rule (README "hpo_config", table "auto"; figures in benchmarks/search_quality.py
        and, for several objectives, benchmarks/multi_objective.py)."""
        if space.grid_params or scheduler == "pbt":
            # PBT explores by itself; Ray allows no other searcher with it
            return AutoChoice(TuneSearch(), {}, "grid_search or scheduler pbt")
        if scheduler == "bohbhyperband":
            return AutoChoice(BohbAdapter(), {}, "scheduler bohbhyperband")
        if trials < MIN_MODEL_TRIALS:
            return AutoChoice(RandomSearch(), {}, f"under {MIN_MODEL_TRIALS} trials: too few for a model")
        if objectives is not None and objectives.is_multi:
            return _several_objectives()
        if space.conditional:
            return AutoChoice(OptunaAdapter(), {}, "conditional parameters: TPE, which models them natively")
        small = trials <= GP_MAX_TRIALS
        if small and parallel <= GP_MAX_PARALLEL:
            return AutoChoice(OptunaAdapter(), {"sampler": "gp-tpe"},
                              f"up to {GP_MAX_TRIALS} trials, at most {GP_MAX_PARALLEL} at once: a Gaussian process, "
                              "and TPE while its best value is stuck")
        if small:
            return AutoChoice(OptunaAdapter(), {}, f"over {GP_MAX_PARALLEL} trials at once: TPE with the constant liar")
        if objectives is not None and objectives.constraints:
            return AutoChoice(OptunaAdapter(), {}, f"over {GP_MAX_TRIALS} trials with outcome constraints: TPE, "
                              "which learns them (CMA-ES does not)")
        if SpaceTraits.of(space).categorical == 0:
            return AutoChoice(OptunaAdapter(), {"sampler": "cmaes"},
                              f"over {GP_MAX_TRIALS} trials, numeric parameters only: CMA-ES")
        return AutoChoice(OptunaAdapter(), {}, f"over {GP_MAX_TRIALS} trials with categorical parameters: TPE")

    def make(self, codec, metric, mode, seed, params, shape=None):  # pragma: no cover - resolved earlier
        raise NotImplementedError("'auto' is resolved to a concrete algorithm before building")


def _several_objectives() -> AutoChoice:
    """Several objectives: optuna's TPE (MOTPE). ``benchmarks/multi_objective.py`` (ZDT1, ZDT2,
    DTLZ2 with 3 objectives, a mixed constrained trade-off; 3 seeds): best mean rank at 50
    evaluations (1.75, tied with the GP sampler, which spends 2-4 s per suggestion there) and
    first on every problem at 300 (NSGA-II second); it models conditional spaces too."""
    return AutoChoice(OptunaAdapter(), {"sampler": "tpe"}, "several objectives: TPE (MOTPE), best at 50 and "
                      "300 evaluations of benchmarks/multi_objective.py")
