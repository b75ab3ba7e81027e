"""``local``: this machine, through whichever backend the run needs.

Ray Tune (:mod:`hpogrid.backends.raytune`) when the run needs something of Ray's (a cluster
address, PBT/BOHB, GPUs or custom resources Ray hands out), otherwise the pool of worker
processes (:mod:`hpogrid.backends.pool`), which starts in a fraction of the time; there the
engine applies ASHA, Hyperband and median stopping itself (:mod:`hpogrid.engine.early_stop`).
The run's notes say which ran and why.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Optional, Tuple

from hpogrid.backends.declared import RunCommand, option
from hpogrid.engine.options import RunOptions, RunSummary

if TYPE_CHECKING:
    from hpogrid.engine import Backend
    from hpogrid.project import Project


@dataclass
class LocalOptions(RunOptions, RunCommand):
    """``local_run``'s options: ``RunOptions`` plus ``--ray`` (declared for the command line)."""

    backend: ClassVar[str] = "local"
    command: ClassVar[str] = "local_run"
    n_jobs_help: ClassVar[str] = "Trials run at once (overrides scheduler_param max_concurrent)."
    help: ClassVar[str] = """Run the HPO of PROJECT on this machine and record every trial in its study.

    Trials run in --n_jobs worker processes; Ray Tune runs them instead when the run needs
    it (PBT, BOHB, GPUs, --address for an existing Ray cluster, or --ray); asynchyperband
    and median stopping run on the workers. {signals} Trials left RUNNING by a run that was killed are marked
    interrupted once they miss heartbeats for $HPOGRID_STALE_AFTER_S seconds (default 120)."""

    address: Optional[str] = option(None, "--address", metavar="RAY_ADDRESS", help=(
        "Run on an existing Ray cluster, e.g. ray://host:10001 (default: $RAY_ADDRESS, else a local Ray on this "
        "machine)."))
    #: run the trials with Ray Tune even when nothing needs it
    ray: bool = option(False, "--ray", kind="flag", help="Run the trials with Ray Tune even when nothing needs it.")


class LocalBackend:
    name = "local"
    summary = "this machine: worker processes, or Ray Tune when the run needs Ray"

    def choose(self, project: Project, options: RunOptions) -> Tuple[Backend, Optional[str]]:
        from hpogrid.backends.pool import PoolBackend, needs_ray
        from hpogrid.backends.raytune import RayTuneBackend

        if isinstance(options, LocalOptions) and options.ray:  # --ray: asked for, no note needed
            return RayTuneBackend(), None
        why = needs_ray(project, options)
        backend: Backend = RayTuneBackend() if why else PoolBackend()
        return backend, why

    def run(self, project: Project, options: Optional[RunOptions] = None) -> RunSummary:
        options = options or RunOptions()
        backend, why = self.choose(project, options)
        summary = backend.run(project, options)
        if why:
            summary.notes.insert(0, f"running on Ray Tune ({why} needs it)")
        return summary
