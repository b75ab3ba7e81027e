"""Run a PanDA test server job's payload in the task's container image with podman, as a pilot
runs it in the image named by the task (prun's ``--containerImage``) instead of a bare process.

``PandaTestServer.job_container = PodmanJobs()`` switches it on. The job's run directory is
bind-mounted at the image's working directory (/hpogrid/project, hpogrid's TaskSpec.workdir)
and made readable and writable by any user (the server unpacked it as itself; the image runs
as an unprivileged user, as a pilot's payload runs as the user who unpacked it);
only the PanDA variables go in (not the test process's PATH). ``docker://`` is stripped from the
image name: a local podman image is named as it is.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Sequence

#: what podman needs on the test machine (crun fails on its hybrid cgroups; explicit limits)
PODMAN_RUN_FLAGS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network", "host")
WORKDIR = "/hpogrid/project"


def podman_command() -> List[str]:
    """podman, with ``--runtime runc`` where runc is installed."""
    return ["podman", *(["--runtime", "runc"] if shutil.which("runc") else [])]


class PodmanJobs:
    def __init__(self, extra_args: Sequence[str] = ()):
        self.extra_args = list(extra_args)

    def name(self, panda_id: int) -> str:
        return f"panda-test-job-{panda_id}-{os.getpid()}"

    def argv(self, image: str, payload: Sequence[str], cwd: Path, env: Dict[str, str], panda_id: int) -> List[str]:
        """The podman command that runs ``payload`` in ``image`` with ``cwd`` as its working directory."""
        for path in [Path(cwd), *Path(cwd).rglob("*")]:
            path.chmod(0o1777 if path.is_dir() else 0o666)
        image = image[len("docker://"):] if image.startswith("docker://") else image
        envs = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        return [*podman_command(), "run", "--rm", "--name", self.name(panda_id), *PODMAN_RUN_FLAGS,
                "-v", f"{cwd}:{WORKDIR}", "-w", WORKDIR, *envs, *self.extra_args,
                "--entrypoint", payload[0], image, *payload[1:]]

    def kill(self, panda_id: int) -> None:
        subprocess.run([*podman_command(), "rm", "-f", self.name(panda_id)], capture_output=True, timeout=60)
