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
from hpogrid.containers import RUNTIMES
from hpogrid.errors import ValidationError
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
    #: each trial one container run of this image (:mod:`hpogrid.backends.container_local`)
    container: Optional[str] = option(None, "--container", metavar="IMAGE", help=(
        "Run each trial inside this image, one container run per trial, as slurm_config container runs it on "
        "Slurm: a .sif path or folder (apptainer, singularity) or an image reference (podman)."))
    container_runtime: Optional[str] = option(None, "--container_runtime", "--container-runtime", kind="choice",
                                              choices=RUNTIMES, help="Container runtime for --container (default: "
                                              "the first of apptainer, singularity, podman installed here).")
    container_args: Optional[str] = option(None, "--container_args", "--container-args", metavar="ARGS", help=(
        "Extra arguments of the container runtime, split as a shell would, e.g. '--bind /data' or "
        "'-v /data:/data --runtime runc'."))
    setup: Optional[str] = option(None, "--setup", metavar="LINE", help=(
        "Shell line run before each container run, e.g. 'module load apptainer'."))


class LocalBackend:
    name = "local"
    summary = "this machine: worker processes, or Ray Tune when the run needs Ray"

    def choose(self, project: Project, options: RunOptions) -> Tuple[Backend, Optional[str]]:
        from hpogrid.backends.pool import PoolBackend, needs_ray
        from hpogrid.backends.raytune import RayTuneBackend

        if isinstance(options, LocalOptions) and options.container:  # a container run per trial
            from hpogrid.backends.container_local import ContainerBackend

            if options.ray:
                raise ValidationError("--ray", "Ray Tune cannot run trials in --container; leave one of them out")
            return ContainerBackend(), None
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
