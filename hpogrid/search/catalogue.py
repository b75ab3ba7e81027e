"""The catalogue of search algorithms: every fact about each one, written once.

``hpogrid.search.names`` derives the lists config validation and ``--help`` use from it
(``ALGORITHMS``, ``GRID_ALGORITHMS``, ``MULTI_OBJECTIVE_ALGORITHMS``, ``ALGORITHM_PARAMS``), and
each :class:`~hpogrid.search.SearcherAdapter` takes its facts from its entry (found by its
``name``). The registry builds the adapters from the entries' ``adapter`` class names, in this
order (the order ``--help`` lists them).

It imports nothing: config commands and ``--help`` read it without loading any searcher
library. Every field is required, so an entry that forgets a capability is an error when the
module loads, not a silent default.

A new searcher touches: this catalogue (one entry), its adapter class (``make`` and, where it
has a native ask/tell, ``make_native``), and the module of its core (a
:class:`~hpogrid.search.SearchCore`).
"""
from dataclasses import dataclass, fields
from typing import Tuple


@dataclass(frozen=True)
class Algorithm:
    """One hpo_config ``algorithm``."""

    #: the hpo_config ``algorithm`` value
    name: str
    #: module that must be importable (a missing one is a clear error, not a vanished adapter)
    library: str
    #: one line for ``--help`` and the README
    summary: str
    #: ``grid_search`` categoricals are enumerated (only the basic variant generator's semantics)
    honours_grid: bool
    #: optimises several objectives at once (hpo_config --metric a,b)
    multi_objective: bool
    #: the adapter's ``make``/``make_native`` take ``objectives`` (several, or outcome
    #: constraints to learn)
    uses_objectives: bool
    #: the ``algorithm_param`` keys it takes (JSON-valued options of the library; hpogrid sets
    #: the space, metric, mode and seed itself); a test checks them against the libraries
    params: Tuple[str, ...]
    #: the name of its adapter class (a :class:`~hpogrid.search.SearcherAdapter` in
    #: ``hpogrid/search/_adapters.py``, or ``_auto.py``), built by the registry
    adapter: str

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            wanted = bool if f.type in (bool, "bool") else tuple if f.name == "params" else str
            if not isinstance(value, wanted):
                raise TypeError(f"algorithm {self.name!r}: {f.name} must be a {wanted.__name__}, got {value!r}")


_RANDOM_PARAMS = ("points_to_evaluate",)

#: every algorithm, in the order ``--help`` lists them
CATALOGUE: Tuple[Algorithm, ...] = (
    Algorithm("random", "ray.tune", "random sampling; grid_search categoricals are enumerated",
              honours_grid=True, multi_objective=True, uses_objectives=False,  # (it learns nothing)
              params=_RANDOM_PARAMS, adapter="RandomSearch"),
    Algorithm("tune", "ray.tune", "Ray Tune's basic variant generator (grid_search + random)",
              honours_grid=True, multi_objective=True, uses_objectives=False,
              params=_RANDOM_PARAMS, adapter="TuneSearch"),
    Algorithm("hyperopt", "hyperopt", "Tree-structured Parzen Estimator (HyperOpt)",
              honours_grid=False, multi_objective=False, uses_objectives=False,
              params=("points_to_evaluate", "n_initial_points", "gamma"), adapter="HyperOptAdapter"),
    Algorithm("skopt", "skopt", "Gaussian-process Bayesian optimisation (scikit-optimize)",
              honours_grid=False, multi_objective=False, uses_objectives=False,
              params=("points_to_evaluate", "base_estimator", "n_initial_points", "initial_point_generator",
                      "acq_func", "acq_optimizer", "acq_func_kwargs", "acq_optimizer_kwargs", "model_queue_size",
                      "avoid_duplicates"), adapter="SkoptAdapter"),
    Algorithm("bohb", "hpbandster", "Bayesian optimisation + HyperBand (needs scheduler bohbhyperband)",
              honours_grid=False, multi_objective=False, uses_objectives=False,
              params=("points_to_evaluate", "bohb_config", "max_concurrent"), adapter="BohbAdapter"),
    Algorithm("ax", "ax", "Bayesian optimisation with Ax/BoTorch",
              honours_grid=False, multi_objective=True, uses_objectives=True,
              params=("points_to_evaluate", "parameter_constraints", "outcome_constraints"),
              adapter="AxAdapter"),
    Algorithm("bayesian", "bayes_opt", "Gaussian-process Bayesian optimisation (bayesian-optimization)",
              honours_grid=False, multi_objective=False, uses_objectives=False,
              params=("points_to_evaluate", "utility_kwargs", "random_search_steps"),
              adapter="BayesOptAdapter"),
    Algorithm("optuna", "optuna", "Optuna: TPE, or by algorithm_param sampler gp, cmaes, qmc, nsga2, random, gp-tpe",
              honours_grid=False, multi_objective=True, uses_objectives=True,
              params=("sampler", "consider_prior", "prior_weight", "consider_magic_clip", "consider_endpoints",
                      "n_startup_trials", "n_ei_candidates", "multivariate", "group", "warn_independent_sampling",
                      "constant_liar"), adapter="OptunaAdapter"),
    Algorithm("hebo", "hebo", "HEBO: heteroscedastic evolutionary Bayesian optimisation (NeurIPS 2020 BBO winner)",
              honours_grid=False, multi_objective=False, uses_objectives=False,
              params=("points_to_evaluate", "model_name", "rand_sample", "es", "model_config"),
              adapter="HeboAdapter"),
    Algorithm("nevergrad", "nevergrad", "nevergrad: NGOpt (or algorithm_param optimizer: CMA, TwoPointsDE, PSO, ...)",
              honours_grid=False, multi_objective=False, uses_objectives=False,
              params=("points_to_evaluate", "optimizer"), adapter="NevergradAdapter"),
    Algorithm("auto", "ray.tune", "chosen by the space, the budget and the trials at once (see README 'auto')",
              honours_grid=True, multi_objective=True, uses_objectives=False,  # (it picks one that is)
              params=(),  # the algorithm is chosen at run time: name one to pass it parameters
              adapter="AutoAdapter"),
)


def entry(name: str) -> Algorithm:
    """The catalogue's entry for ``name`` (KeyError: there is none)."""
    for algorithm in CATALOGUE:
        if algorithm.name == name:
            return algorithm
    raise KeyError(f"no algorithm {name!r} in hpogrid.search.catalogue.CATALOGUE")
