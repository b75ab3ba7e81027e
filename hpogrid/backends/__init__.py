"""Where trials run: this machine / a Ray cluster (``local``); Slurm and PanDA come later."""
from hpogrid.backends.local import RunOptions, RunSummary, run_local

__all__ = ["RunOptions", "RunSummary", "run_local"]
