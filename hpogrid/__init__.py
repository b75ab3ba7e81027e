"""hpogrid: hyperparameter optimisation on a laptop, a Ray cluster, Slurm and the ATLAS grid.

Importing the package is cheap on purpose: heavy libraries (ray, torch, ax, hyperopt,
skopt) are imported lazily by the parts that need them.
"""
__version__ = "2.0.0.dev0"
