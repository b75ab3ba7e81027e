"""A run's trials inside a container image (slurm_config ``container``, ``local_run --container``).

:class:`ContainerPlan` is what the run was given (image, runtime, extra arguments, setup lines),
checked once on the submitting host before any trial starts (:func:`hpogrid.containers.check`);
:meth:`ContainerPlan.wrap` turns a payload (the trial runtime, a pool worker) into the runtime's
command line with the project, the run's folder (trial folders) and the study store's folder
bind-mounted. :func:`job_script` is the script each job or container run starts: the setup
lines, then ``exec "$@"`` (a file, never ``sh -c``: the payload's arguments stay arguments).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from hpogrid.containers import Payload, Runtime, binds_for, check, get_runtime, store_folder

#: the Python of the image (its hpogrid first on PATH, as docker/Dockerfile makes it)
IMAGE_PYTHON = "python3"


@dataclass(frozen=True)
class ContainerPlan:
    runtime: Runtime
    image: str
    args: Sequence[str]
    binds: Sequence[Path]

    def wrap(self, argv: Sequence[str], workdir: Path, scripts_dir: Optional[Path] = None,
             gpu: bool = False, name: Optional[str] = None) -> List[str]:
        """The runtime's command that runs ``argv`` (its first item the image's Python) in ``workdir``
        (``name``: the container's, :func:`hpogrid.containers.container_name`)."""
        env = {"PYTHONPATH": str(scripts_dir)} if scripts_dir is not None else {}
        return self.runtime.command(self.image, Payload(list(argv), workdir, self.binds, env, gpu), self.args,
                                    name=name)


def payload(container: Optional[ContainerPlan], scripts_dir: Optional[Path], python_args: Sequence[str],
            workdir: Path, gpu: bool = False, name: Optional[str] = None) -> List[str]:
    """A job's payload: Python with ``python_args``, the driver's own or, with a container, the
    image's inside it (``gpu``: the host's GPUs visible there; ``name``: the container's, where
    the caller removes it after killing its runtime). Slurm jobs leave their containers unnamed:
    a job array's tasks share one command line, and Slurm, not hpogrid, ends a cancelled job."""
    if container is None:
        return [sys.executable, *python_args]
    return container.wrap([IMAGE_PYTHON, *python_args], workdir, scripts_dir, gpu=gpu, name=name)


def plan(settings: Dict[str, Any], project_dir: Path, run_dir: Path, store_url: str, prefix: str,
         installed: bool) -> Optional[ContainerPlan]:
    """The run's container (None: ``settings`` name none), checked: one line where it cannot work.
    ``installed``: the runtime must be installed on this host (False: setup lines may load it)."""
    image = settings.get("container")
    if not image:
        return None
    runtime = get_runtime(settings.get("container_runtime"), f"{prefix}container_runtime")
    args = list(settings.get("container_args") or [])
    binds = binds_for(project_dir, (project_dir / "scripts").resolve(), run_dir, store_folder(store_url))
    # (the run's folder and a new study store's are made later, before the first trial)
    check(runtime, image, args, [project_dir], installed=installed, prefix=prefix)
    return ContainerPlan(runtime, runtime.locate(image), args, binds)


def job_script(path: Path, setup: Sequence[str], what: str) -> Path:
    """Write the executable script that runs ``setup`` (stopping at the first that fails) then its
    arguments; ``what`` says who wrote it."""
    lines = ["#!/bin/sh", f"# written by hpogrid: {what}"]
    if setup:
        lines += ["set -e", *setup, "set +e"]
    path.write_text("\n".join([*lines, 'exec "$@"', ""]))
    path.chmod(0o755)
    return path
