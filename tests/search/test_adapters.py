"""Adapters and schedulers: registry, pre-run checks, parameters, the skopt searcher."""
import pytest

from hpogrid.errors import UnsupportedSpaceError, ValidationError
from hpogrid.search import ADAPTERS, SCHEDULER_ADAPTERS, get_adapter, get_scheduler, scheduler_for
from hpogrid.search import AutoAdapter
from hpogrid.search.names import ALGORITHMS, SCHEDULERS
from hpogrid.space import SearchSpace
from tests.search.spaces import ALL_METHODS

GRID = {"b": {"method": "categorical", "dimension": {"categories": [1, 2], "grid_search": 1}}}


def test_config_choices_are_the_registered_adapters():
    assert ALGORITHMS == tuple(a.name for a in ADAPTERS)
    assert SCHEDULERS == tuple(s.name for s in SCHEDULER_ADAPTERS)


@pytest.mark.parametrize("name", [a.name for a in ADAPTERS if a.name != "auto"])
def test_every_algorithm_builds_for_every_method(name):
    space = SearchSpace.from_dict(ALL_METHODS)
    searcher, codec = get_adapter(name).build(space, "loss", "min", 1, {})
    assert set(codec.param_space()) == set(ALL_METHODS)
    assert searcher is not None


@pytest.mark.parametrize("name", ["hyperopt", "skopt", "bohb", "ax", "bayesian", "optuna"])
def test_grid_search_refused_before_any_trial_by_model_based_searchers(name):
    with pytest.raises(UnsupportedSpaceError) as err:
        get_adapter(name).build(SearchSpace.from_dict(GRID), "loss", "min", None, {})
    msg = str(err.value)
    assert msg.startswith("search_space.b: categorical with grid_search") and "random, tune, auto" in msg


def test_algorithm_param_reaches_the_library_and_unknown_keys_are_named():
    searcher, _ = get_adapter("hyperopt").build(SearchSpace.from_dict(ALL_METHODS), "loss", "min", 1,
                                                {"n_initial_points": 3})
    assert searcher.algo.keywords["n_startup_jobs"] == 3
    with pytest.raises(ValidationError, match=r"hpo_config.algorithm_param.n_init: unknown for 'hyperopt'; allowed: .*n_initial_points"):
        get_adapter("hyperopt").build(SearchSpace.from_dict(ALL_METHODS), "loss", "min", 1, {"n_init": 3})
    with pytest.raises(ValidationError, match="seed: set by hpogrid"):
        get_adapter("optuna").build(SearchSpace.from_dict(ALL_METHODS), "loss", "min", 1, {"seed": 3})
    sampler = get_adapter("optuna").build(SearchSpace.from_dict(ALL_METHODS), "loss", "min", 1,
                                          {"n_startup_trials": 4})[0]._sampler  # noqa: SLF001
    assert sampler._n_startup_trials == 4  # noqa: SLF001


def test_bohbhyperband_only_with_bohb():
    with pytest.raises(ValidationError, match="'bohbhyperband' works only with algorithm 'bohb' \\(got 'hyperopt'\\)"):
        scheduler_for("hyperopt", "bohbhyperband")
    sched, note = scheduler_for("bohb", "asynchyperband")
    assert sched.name == "bohbhyperband" and "bohbhyperband" in note
    assert scheduler_for("bohb", "fifo")[0].name == "fifo"


def test_pbt_only_with_random_or_tune():
    with pytest.raises(ValidationError, match="'pbt' explores by itself and works only with algorithm 'random' or 'tune' \\(got 'bayesian'\\)"):
        scheduler_for("bayesian", "pbt")
    assert scheduler_for("random", "pbt")[0].name == "pbt"


def test_scheduler_param_goes_to_the_scheduler_except_max_concurrent():
    from hpogrid.search._codec import Codec, NO_NORMAL

    codec = Codec.build(SearchSpace.from_dict(ALL_METHODS), NO_NORMAL)
    asha = get_scheduler("asynchyperband").build("loss", "min", {"max_concurrent": 2, "grace_period": 3}, codec)
    assert min(m for m, _ in asha._brackets[0]._rungs) == 3  # noqa: SLF001 - first rung = grace_period
    with pytest.raises(ValidationError, match="hpo_config.scheduler_param.bogus: unknown for 'median'"):
        get_scheduler("median").build("loss", "min", {"bogus": 1}, codec)
    pbt = get_scheduler("pbt").build("loss", "max", {"max_concurrent": 4}, codec)
    assert set(pbt._hyperparam_mutations) == set(ALL_METHODS)  # noqa: SLF001


NUMERIC = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
           "n": {"method": "uniformint", "dimension": {"low": 1, "high": 9}},
           "one": {"method": "categorical", "dimension": {"categories": ["only"]}}}


def _auto(space, trials, scheduler="fifo", parallel=1):
    choice = AutoAdapter.choose(SearchSpace.from_dict(space), trials, scheduler, parallel)
    return choice.adapter.name, choice.params.get("sampler")


def test_auto_rule():
    """The README's table, row by row (the figures behind it: benchmarks/search_quality.py)."""
    assert _auto(GRID, 100) == ("tune", None)
    assert _auto(ALL_METHODS, 50, "pbt") == ("tune", None)
    assert _auto(ALL_METHODS, 50, "bohbhyperband") == ("bohb", None)
    assert _auto(ALL_METHODS, 5) == ("random", None)
    assert _auto(ALL_METHODS, 50) == ("optuna", "gp-tpe")  # GP, TPE while it is stuck
    assert _auto(NUMERIC, 200, parallel=4) == ("optuna", "gp-tpe")
    assert _auto(NUMERIC, 200, parallel=5) == ("optuna", None)   # many at once: TPE with the constant liar
    assert _auto(ALL_METHODS, 201) == ("optuna", None)           # categorical, many trials: TPE
    assert _auto(NUMERIC, 201) == ("optuna", "cmaes")            # numeric only (a one-value choice is no choice)
    assert _auto(NUMERIC, 1000, parallel=50) == ("optuna", "cmaes")
    conditional = {**NUMERIC, "opt": {"method": "categorical", "dimension": {"categories": ["sgd", "adam"]}},
                   "momentum": {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"opt": ["sgd"]}}}
    assert _auto(conditional, 50) == ("optuna", None)             # TPE models conditions natively


def test_skopt_searcher_suggests_distinct_valid_points_while_trials_run():
    space = SearchSpace.from_dict(ALL_METHODS)
    searcher, codec = get_adapter("skopt").build(space, "loss", "min", 3, {"n_initial_points": 3})
    for i in range(6):  # past the random initial points: the model proposes now
        cfg = searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"loss": float(i)})
    pending = [searcher.suggest(f"p{i}") for i in range(3)]
    assert len({tuple(sorted((k, repr(v)) for k, v in p.items())) for p in pending}) == 3
    for cfg in pending:
        values = codec.decode(cfg)
        assert all(space[n].contains(v) for n, v in values.items())


def test_grid_algorithms_name_exactly_the_adapters_that_enumerate_grids():
    from hpogrid.search.names import GRID_ALGORITHMS

    assert set(GRID_ALGORITHMS) == {a.name for a in ADAPTERS if a.honours_grid}


@pytest.mark.parametrize("native", [False, True], ids=["ray", "native"])
def test_hyperopt_draws_each_integer_equally_often_ends_included(native):
    """Statistical: HyperOpt's own draws of a uniformint (hp.uniformint rounds a uniform, which
    gives each end half the weight: hpogrid hands it the floor of a uniform instead)."""
    from collections import Counter

    from hpogrid.search import AskTell

    space = SearchSpace.from_dict({"n": {"method": "uniformint", "dimension": {"low": 1, "high": 3}}})
    searcher, codec = get_adapter("hyperopt").build(space, "loss", "min", 5, {"n_initial_points": 10 ** 6},
                                                    native=native)
    core = searcher._ready() if native else searcher  # noqa: SLF001 - HyperOpt itself, not the random start
    asker = AskTell(core, codec, "loss", "min")
    n = 600
    counts = Counter(codec.decode(asker.ask(f"t{i}").config)["n"] for i in range(n))  # HyperOpt's startup draws
    assert set(counts) == {1, 2, 3}
    assert all(abs(c / n - 1 / 3) < 0.06 for c in counts.values()), counts
