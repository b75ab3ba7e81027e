"""Slurm backend: every trial is a Slurm job whose payload is hpogrid itself.

    SlurmBackend().run(load_project("p"), SlurmOptions(trials=20))

The run engine asks and tells the searcher; :mod:`._executor` submits jobs (:mod:`._sbatch`)
and reads their states from Slurm; each job runs :mod:`hpogrid.objective.standalone` on its
trial folder. Lazy (PEP 562): importing the package loads neither Ray nor the engine.
"""
from hpogrid.lazy import lazy_exports

_EXPORTS = {
    "SlurmOptions": "hpogrid.backends.slurm.options",
    "SlurmBackend": "hpogrid.backends.slurm._backend",
    "run_slurm": "hpogrid.backends.slurm._backend",
    "SlurmError": "hpogrid.backends.slurm._sbatch",
    "JobState": "hpogrid.backends.slurm._sbatch",
    "SlurmClient": "hpogrid.backends.slurm._sbatch",
    "submit": "hpogrid.backends.slurm._sbatch",
    "cancel": "hpogrid.backends.slurm._sbatch",
    "signal_batch": "hpogrid.backends.slurm._sbatch",
    "require": "hpogrid.backends.slurm._sbatch",
    "verdict": "hpogrid.backends.slurm._executor",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
