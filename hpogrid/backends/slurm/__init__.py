"""Slurm backend: every trial is a Slurm job whose payload is hpogrid itself.

    run_slurm(load_project("p"), SlurmOptions(trials=20))

The driver (:mod:`._driver`) keeps the searcher's ask/tell, submits jobs (:mod:`._sbatch`) and
reads their states from Slurm; each job runs :mod:`._exec` on its trial folder. Lazy (PEP 562):
a job importing ``_exec`` loads neither Ray nor the driver.
"""
import importlib

_EXPORTS = {
    "SlurmOptions": "hpogrid.backends.slurm._driver",
    "SlurmSummary": "hpogrid.backends.slurm._driver",
    "run_slurm": "hpogrid.backends.slurm._driver",
    "plan_slurm": "hpogrid.backends.slurm._driver",
    "SlurmError": "hpogrid.backends.slurm._sbatch",
    "JobState": "hpogrid.backends.slurm._sbatch",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hpogrid.backends.slurm' has no attribute {name!r}")
