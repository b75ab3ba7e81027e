"""Names of the search algorithms and trial schedulers hpogrid accepts.

Kept import-free so config validation and ``--help`` never load Ray. The algorithms' lists
are derived from :data:`hpogrid.search.catalogue.CATALOGUE`, where each one is written once.
"""
from hpogrid.search.catalogue import CATALOGUE

#: hpo_config ``algorithm`` values ("auto" picks one from the search space)
ALGORITHMS = tuple(a.name for a in CATALOGUE)

#: hpo_config ``scheduler`` values ("fifo" runs every trial to its stop criterion)
SCHEDULERS = ("asynchyperband", "hyperband", "bohbhyperband", "pbt", "median", "fifo")

#: the algorithms that enumerate ``grid_search`` categoricals
GRID_ALGORITHMS = tuple(a.name for a in CATALOGUE if a.honours_grid)
#: algorithms that optimise several objectives at once (hpo_config --metric a,b)
MULTI_OBJECTIVE_ALGORITHMS = tuple(a.name for a in CATALOGUE if a.multi_objective)
#: optuna samplers that optimise several objectives
OPTUNA_MULTI_OBJECTIVE = ("nsga2", "tpe", "gp", "qmc", "random")

#: ``algorithm_param`` keys each algorithm takes (JSON-valued options of the library; hpogrid
#: sets the space, metric, mode and seed itself). Checked when an hpo_config is written and
#: again when a run builds the searcher; a test checks each against the libraries' signatures.
ALGORITHM_PARAMS = {a.name: a.params for a in CATALOGUE}

#: optuna's samplers by ``algorithm_param`` ``sampler`` name, and the keys each takes (TPE's
#: are ALGORITHM_PARAMS["optuna"]); a test checks them against optuna's signatures
OPTUNA_SAMPLER_PARAMS = {
    "tpe": ALGORITHM_PARAMS["optuna"][1:],
    "gp": ("n_startup_trials", "deterministic_objective", "warn_independent_sampling"),
    "cmaes": ("x0", "sigma0", "n_startup_trials", "warn_independent_sampling", "consider_pruned_trials",
              "restart_strategy", "popsize", "inc_popsize", "use_separable_cma", "with_margin", "lr_adapt"),
    "qmc": ("qmc_type", "scramble", "warn_asynchronous_seeding", "warn_independent_sampling"),
    "nsga2": ("population_size", "mutation_prob", "crossover_prob", "swapping_prob"),
    "random": (),
    "gp-tpe": ("patience", "n_startup_trials", "deterministic_objective", "warn_independent_sampling"),
}


def algorithm_param_problem(algorithm: str, params, several: bool = False):
    """(key, predicate) for the first ``algorithm_param`` key ``algorithm`` does not take (optuna:
    the chosen ``sampler``'s keys; its default is nsga2 with ``several`` objectives); None when
    all are known."""
    if algorithm == "optuna":
        sampler = params.get("sampler", "nsga2" if several else "tpe")
        if sampler not in OPTUNA_SAMPLER_PARAMS:
            return "sampler", f"is {sampler!r}; choose one of: {', '.join(OPTUNA_SAMPLER_PARAMS)}"
        rest = {k: v for k, v in params.items() if k != "sampler"}
        return unknown_key(rest, OPTUNA_SAMPLER_PARAMS[sampler], f"optuna sampler {sampler}")
    return unknown_key(params, ALGORITHM_PARAMS.get(algorithm, ()), algorithm)


#: ``scheduler_param`` keys each scheduler takes (``max_concurrent`` is hpogrid's own)
SCHEDULER_PARAMS = {
    "asynchyperband": ("max_concurrent", "metric", "time_attr", "max_t", "grace_period", "reduction_factor", "brackets",
                       "stop_last_trials"),
    "hyperband": ("max_concurrent", "metric", "time_attr", "max_t", "reduction_factor", "stop_last_trials"),
    "bohbhyperband": ("max_concurrent", "metric", "time_attr", "max_t", "reduction_factor", "stop_last_trials"),
    "pbt": ("max_concurrent", "metric", "time_attr", "perturbation_interval", "burn_in_period", "quantile_fraction",
            "resample_probability", "perturbation_factors", "log_config", "require_attrs", "synch"),
    "median": ("max_concurrent", "metric", "time_attr", "grace_period", "min_samples_required", "min_time_slice",
               "hard_stop"),
    "fifo": ("max_concurrent",),
}

#: the algorithms each scheduler runs with (the others run with any)
SCHEDULER_ALGORITHMS = {
    "bohbhyperband": ("bohb", "auto"),
    "pbt": ("random", "tune", "auto"),
}

#: hpo_config ``resource`` keys: CPUs and GPUs per trial; a custom Ray resource is written
#: ``custom:NAME`` (the Ray cluster must declare NAME)
RESOURCE_KEYS = ("cpu", "gpu")
CUSTOM_RESOURCE_PREFIX = "custom:"


#: library arguments hpogrid sets from the hpo_config and the run options
SET_BY_HPOGRID = ("space", "metric", "mode", "seed", "random_state", "random_state_seed", "random_seed")


def unknown_key(given, allowed, owner: str):
    """(key, predicate) for the first key of ``given`` not in ``allowed`` ("is unknown for ...");
    None when all are known."""
    for key in given:
        if key in SET_BY_HPOGRID and key not in allowed:
            return key, f"is set by hpogrid for '{owner}' and cannot be given (see --seed, --metric, --mode)"
        if key not in allowed:
            return key, (f"is unknown for '{owner}'; allowed: {', '.join(allowed)}" if allowed
                         else f"is not taken by '{owner}' (it takes no parameters here)")
    return None
