"""hpogrid: hyperparameter optimisation on a laptop, a Ray cluster, Slurm and the ATLAS grid.

Importing the package is cheap on purpose: heavy libraries (ray, torch, ax, hyperopt,
skopt) are imported lazily by the parts that need them.
"""
__version__ = "2.0.0.dev0"


#: attributes loaded on first use (``import hpogrid`` stays cheap): the notebook API and two packages
_LAZY = {"optimize": "hpogrid.quickstart:optimize", "space": "hpogrid.space:", "study": "hpogrid.study:"}


def __getattr__(name: str):
    """``hpogrid.optimize(func, space)`` (README "In a notebook"), ``hpogrid.space``, ``hpogrid.study``."""
    if name not in _LAZY:
        raise AttributeError(f"module 'hpogrid' has no attribute {name!r}")
    import importlib

    module, _, attr = _LAZY[name].partition(":")
    found = importlib.import_module(module)
    return getattr(found, attr) if attr else found
