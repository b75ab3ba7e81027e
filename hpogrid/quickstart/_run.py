"""The run options of one ``optimize`` call, for the backend it names (``--on``/``backend``).

The options classes are those of ``local_run``, ``slurm_run`` and ``run --search central``, so a
run here is the same run those commands make (engine, progress, summary, study).
"""
from typing import Any, Dict, Optional, Tuple

from hpogrid.errors import ValidationError
from hpogrid.quickstart._setup import Prepared

#: where ``optimize`` runs: this machine (pool, or Ray Tune when needed), Slurm, the grid (central search)
ON = ("local", "slurm", "grid")


def run_options(on: str, prepared: Prepared, n_jobs: Optional[int] = None,
                seed: Optional[int] = None) -> Tuple[str, str, Any]:
    """(backend name, the run command it equals, its RunOptions) for ``prepared``."""
    common: Dict[str, Any] = dict(trials=prepared.trials, seed=seed, resume=prepared.resume, backup=prepared.backup,
                  study=prepared.study if prepared.study != prepared.project else None)
    if on == "local":
        from hpogrid.backends.local import LocalOptions

        return "local", "local_run", LocalOptions(n_jobs=n_jobs, **common)
    if on == "slurm":
        from hpogrid.backends.slurm.options import SlurmOptions

        return "slurm", "slurm_run", SlurmOptions(workers=n_jobs, **common)
    if on == "grid":
        from hpogrid.backends.panda.options import GridCommandOptions

        return "grid", "run --search central", GridCommandOptions(search="central", n_jobs=n_jobs or 1,
                                                                   **common).central()
    raise ValidationError("--on", f"{on!r} is not a backend of optimize; choose one of: {', '.join(ON)}")
