"""The algorithm_param / scheduler_param keys hpogrid documents (and checks when an hpo_config
is written) are accepted by the libraries on every path that runs them."""
import inspect

import pytest

from hpogrid.search import SCHEDULER_ADAPTERS, get_adapter
from hpogrid.search.names import ALGORITHM_PARAMS, SCHEDULER_PARAMS


def _accepts(cls, key) -> bool:
    params = inspect.signature(cls).parameters
    return key in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _ray_class(name):
    import optuna
    from ray.tune.search.hyperopt import HyperOptSearch

    from hpogrid.search._bohb import BohbSearcher
    from hpogrid.search._hebo import HeboAskTell
    from hpogrid.search._nevergrad import NevergradAskTell
    from hpogrid.search._ray_searchers import BayesOptSearcher, SeededSampler, SkoptSearcher

    # hebo and nevergrad run their native core under Ray Tune too (NativeSearcher), as hyperopt does
    # for a conditional space (checked natively below)
    return {"random": SeededSampler, "tune": SeededSampler, "hyperopt": HyperOptSearch, "skopt": SkoptSearcher,
            "bohb": BohbSearcher, "bayesian": BayesOptSearcher, "optuna": optuna.samplers.TPESampler,
            "hebo": HeboAskTell, "nevergrad": NevergradAskTell}.get(name)


@pytest.mark.parametrize("algorithm", [a for a in ALGORITHM_PARAMS if a != "auto"])
def test_every_documented_algorithm_param_is_accepted_under_ray_and_natively(algorithm):
    keys = [k for k in ALGORITHM_PARAMS[algorithm] if k != "sampler"]  # optuna's sampler: hpogrid picks the class
    ray_cls = _ray_class(algorithm)
    if ray_cls is None:  # ax: Ray's AxSearch takes **ax_kwargs; name the three explicitly
        from ray.tune.search.ax import AxSearch

        ray_cls = AxSearch
        assert {"points_to_evaluate", "parameter_constraints", "outcome_constraints"} <= set(
            inspect.signature(AxSearch).parameters)
    assert [k for k in keys if not _accepts(ray_cls, k)] == []
    from hpogrid.search._adapters import (AxAdapter, BayesOptAdapter, HeboAdapter, HyperOptAdapter,
                                          NevergradAdapter, OptunaAdapter, SkoptAdapter)
    from hpogrid.search._ax import AxAskTell
    from hpogrid.search._bayesopt import BayesOptAskTell
    from hpogrid.search._hyperopt import HyperoptAskTell
    from hpogrid.search._hebo import HeboAskTell
    from hpogrid.search._nevergrad import NevergradAskTell
    from hpogrid.search._skopt import SkoptAskTell

    native = {HyperOptAdapter: HyperoptAskTell, SkoptAdapter: SkoptAskTell, BayesOptAdapter: BayesOptAskTell,
              AxAdapter: AxAskTell, OptunaAdapter: None, HeboAdapter: HeboAskTell,
              NevergradAdapter: NevergradAskTell}.get(type(get_adapter(algorithm)))
    if native is not None:  # the random start takes points_to_evaluate (bayesian: random_search_steps)
        own = {"points_to_evaluate", "random_search_steps"}
        assert [k for k in keys if k not in own and not _accepts(native, k)] == []


@pytest.mark.parametrize("scheduler", [s.name for s in SCHEDULER_ADAPTERS])
def test_every_documented_scheduler_param_is_accepted_by_ray(scheduler):
    from ray.tune.schedulers import (ASHAScheduler, HyperBandForBOHB, HyperBandScheduler, MedianStoppingRule,
                                     PopulationBasedTraining)

    cls = {"asynchyperband": ASHAScheduler, "hyperband": HyperBandScheduler, "bohbhyperband": HyperBandForBOHB,
           "pbt": PopulationBasedTraining, "median": MedianStoppingRule, "fifo": None}[scheduler]
    keys = [k for k in SCHEDULER_PARAMS[scheduler] if k != "max_concurrent"]
    assert cls is not None or keys == []
    assert [k for k in keys if not _accepts(cls, k)] == []


@pytest.mark.parametrize("sampler", ["tpe", "gp", "cmaes", "qmc", "nsga2", "random", "gp-tpe"])
def test_every_documented_optuna_sampler_param_is_accepted_by_that_sampler(sampler):
    import optuna

    from hpogrid.search._stall import GpThenTpeSampler
    from hpogrid.search.names import OPTUNA_SAMPLER_PARAMS

    cls = {"gp-tpe": GpThenTpeSampler,
           "tpe": optuna.samplers.TPESampler, "gp": optuna.samplers.GPSampler, "cmaes": optuna.samplers.CmaEsSampler,
           "qmc": optuna.samplers.QMCSampler, "nsga2": optuna.samplers.NSGAIISampler,
           "random": optuna.samplers.RandomSampler}[sampler]
    assert [k for k in OPTUNA_SAMPLER_PARAMS[sampler] if not _accepts(cls, k)] == []
    searcher, _ = get_adapter("optuna").build(_space(), "loss", "min", 1, {"sampler": sampler}, native=True)
    assert type(searcher.study.sampler) is cls


def _space():
    from hpogrid.space import SearchSpace

    return SearchSpace.from_dict({"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}})
