"""Where trials run: this machine or a Ray cluster (``local``), Slurm (``slurm``); PanDA comes later."""
from hpogrid.backends.local import RunOptions, RunSummary, run_local

__all__ = ["RunOptions", "RunSummary", "run_local"]
