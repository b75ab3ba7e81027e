"""``local``: this machine, through whichever backend the run needs.

Ray Tune (:mod:`hpogrid.backends.raytune`) when the run needs something of Ray's (a cluster
address, a scheduler acting on intermediate results, PBT/BOHB, GPUs or custom resources Ray
hands out), otherwise the pool of worker processes (:mod:`hpogrid.backends.pool`), which
starts in a fraction of the time. The run's notes say which ran and why.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Tuple

from hpogrid.engine import Backend, RunOptions, RunSummary

if TYPE_CHECKING:
    from hpogrid.project import Project


class LocalBackend:
    name = "local"
    summary = "this machine: worker processes, or Ray Tune when the run needs Ray"

    def choose(self, project: Project, options: RunOptions) -> Tuple[Backend, Optional[str]]:
        from hpogrid.backends.pool import PoolBackend, needs_ray
        from hpogrid.backends.raytune import RayTuneBackend

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
