"""Names of the search algorithms and trial schedulers hpogrid accepts.

Kept import-free so config validation and ``--help`` never load Ray. Each adapter class in
:mod:`hpogrid.search` declares one of these names; a test keeps the two in step.
"""

#: hpo_config ``algorithm`` values ("auto" picks one from the search space)
ALGORITHMS = ("random", "tune", "hyperopt", "skopt", "bohb", "ax", "bayesian", "optuna", "auto")

#: hpo_config ``scheduler`` values ("fifo" runs every trial to its stop criterion)
SCHEDULERS = ("asynchyperband", "bohbhyperband", "pbt", "median", "fifo")

#: the algorithms that enumerate ``grid_search`` categoricals (a test keeps it in step with
#: the adapters' ``honours_grid``)
GRID_ALGORITHMS = ("random", "tune", "auto")
