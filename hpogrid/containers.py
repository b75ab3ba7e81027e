"""Trials inside a container image: the command line of each container runtime.

One image serves the grid (PanDA starts every job in it), Slurm and a laptop. A trial's payload
(``python3 -m hpogrid.objective.standalone TRIAL_DIR``, or a Slurm pool worker) runs in it
through the runtime of the node: apptainer or singularity (HPC sites) or podman. Each runtime
class builds the argv that runs the payload with the folders it needs (the project, the trial
folders, the study store's folder) bind-mounted at their own paths, so every absolute path the
driver wrote (trial.json, pool.json) means the same inside; the working directory set; hpogrid's
variables passed; GPUs made visible when the job asks for them. :func:`check` is what can be
checked on the submitting host before any trial starts (a runtime not installed, an image
missing, a bind of a path that does not exist), each a one-line :class:`ValidationError`.
A run that names its container (:func:`container_name`) can remove it when it kills the
runtime's process (:meth:`Runtime.remove`): podman's container outlives its ``podman run``.
Nothing here runs a shell: the argv is executed as is.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Dict, List, Optional, Sequence, Tuple, Type

from hpogrid.errors import ValidationError

#: the runtimes, in the order the default (whichever is on the node) is looked for
RUNTIMES = ("apptainer", "singularity", "podman")
#: variables the payload reads from its environment, passed into the container by name
#: (apptainer and singularity pass the host's environment anyway)
PASSED_ENV = ("HPOGRID_*", "SLURM_*", "RAY_*", "CUDA_VISIBLE_DEVICES")
#: image references a runtime pulls from somewhere: nothing on this host to check
_REMOTE = ("docker://", "oras://", "library://", "shub://", "docker-daemon://", "http://", "https://")
#: seconds a removal of killed containers may take (podman waits for its storage lock)
REMOVE_TIMEOUT_S = 120
#: the characters a container name may hold after its first ([a-zA-Z0-9], podman's rule)
_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_.-]")


@dataclass(frozen=True)
class Payload:
    """What runs in the container: ``argv`` in ``workdir`` with ``binds`` mounted at their own
    paths, ``env`` set (besides :data:`PASSED_ENV`), all GPUs visible when ``gpu``."""

    argv: Sequence[str]
    workdir: Path
    binds: Sequence[Path] = ()
    env: Dict[str, str] = field(default_factory=dict)
    gpu: bool = False


class Runtime:
    """A container runtime: its argv for a payload, and the image checks it can do up front."""

    name: ClassVar[str]
    #: flags of ``args`` that take a bind ``SRC[:DST[:OPTS]]`` (a comma-separated list for apptainer)
    bind_flags: ClassVar[Tuple[str, ...]]

    def command(self, image: str, payload: Payload, args: Sequence[str] = (), name: Optional[str] = None) -> List[str]:
        """The argv that runs ``payload`` in ``image`` with the user's ``args``; ``name``: the
        container's (:func:`container_name`), for :meth:`remove` (ignored where a container has none)."""
        raise NotImplementedError

    def cleanup_argv(self, names: Sequence[str]) -> Optional[List[str]]:
        """The argv that removes the containers ``names``, running or not, and ignores those that
        are gone (None: nothing of a container outlives the runtime's process)."""
        return None

    def remove(self, names: Sequence[str]) -> None:
        """Remove the containers ``names`` whose runtime process was killed (:meth:`cleanup_argv`);
        best effort: a runtime that fails or hangs is given up on (the run is ending)."""
        argv = self.cleanup_argv(names) if names else None
        if argv is None:
            return
        try:
            subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, timeout=REMOVE_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            pass

    def check_image(self, image: str, field_name: str) -> None:
        raise NotImplementedError

    def locate(self, image: str) -> str:
        """The image as the node must name it (a relative path made absolute: jobs start elsewhere)."""
        return image

    def bind_sources(self, args: Sequence[str]) -> List[str]:
        """The host paths the binds among ``args`` mount."""
        found: List[str] = []
        items = list(args)
        for i, arg in enumerate(items):
            flag, eq, value = arg.partition("=")
            if flag in self.bind_flags and eq:
                found += self._split(value)
            elif arg in self.bind_flags and i + 1 < len(items):
                found += self._split(items[i + 1])
        return [source for source in found if source]

    def _split(self, value: str) -> List[str]:
        return [value.split(":", 1)[0]]


class Apptainer(Runtime):
    """``apptainer exec``: the image is a ``.sif`` file, a sandbox folder or a ``docker://`` reference;
    the host's environment is passed (PYTHONPATH is set to the payload's own). Its containers have
    no name and nothing to remove: ``exec`` runs the payload as a child of its own process, in the
    process group of whoever started it (no daemon, no instance), so it dies with that group."""

    name: ClassVar[str] = "apptainer"
    bind_flags: ClassVar[Tuple[str, ...]] = ("--bind", "-B", "--mount")

    def command(self, image: str, payload: Payload, args: Sequence[str] = (), name: Optional[str] = None) -> List[str]:
        argv = [self.name, "exec", "--pwd", str(payload.workdir)]
        for path in payload.binds:
            argv += ["--bind", str(path)]
        for key, value in payload.env.items():
            argv += ["--env", f"{key}={value}"]
        if payload.gpu:
            argv.append("--nv")
        return [*argv, *args, image, *payload.argv]

    def check_image(self, image: str, field_name: str) -> None:
        if image.startswith(_REMOTE):
            return
        if not Path(image).exists():
            raise ValidationError(field_name, f"no image file or sandbox folder {image!r} (a .sif path, a folder "
                                  f"or a docker:// reference for {self.name})")

    def locate(self, image: str) -> str:
        return image if image.startswith(_REMOTE) else os.path.abspath(image)

    def _split(self, value: str) -> List[str]:
        return [item.split(":", 1)[0] for item in value.split(",")]


class Singularity(Apptainer):
    """``singularity exec``: the same command line as apptainer (its former name)."""

    name: ClassVar[str] = "singularity"


class Podman(Runtime):
    """``podman run --rm``: the image is a local or registry reference (``docker://`` is stripped). The
    container runs as the submitting user (root: ``--user 0:0``; else ``--userns keep-id``), so the
    files it writes in the bound folders are that user's; ``--network host`` as on a batch node.
    Hosts that need more (``--runtime runc``, ``--ulimit``...) add them to ``container_args``.
    The container is not a child of ``podman run``: conmon, started apart, keeps it running after
    the client is killed. So a named one (``--name``) is removed by :meth:`remove` when its client
    was killed; ``--replace``: a rerun of the same trial replaces what an earlier attempt left."""

    name: ClassVar[str] = "podman"
    bind_flags: ClassVar[Tuple[str, ...]] = ("-v", "--volume", "--mount")

    @staticmethod
    def reference(image: str) -> str:
        return image[len("docker://"):] if image.startswith("docker://") else image

    def command(self, image: str, payload: Payload, args: Sequence[str] = (), name: Optional[str] = None) -> List[str]:
        user = ["--user", "0:0"] if os.getuid() == 0 else ["--userns", "keep-id"]
        argv = [self.name, "run", "--rm", "--network", "host", *user, "-w", str(payload.workdir)]
        for path in payload.binds:
            argv += ["-v", f"{path}:{path}"]
        for variable in PASSED_ENV:
            argv += ["--env", variable]
        for key, value in payload.env.items():
            argv += ["--env", f"{key}={value}"]
        if payload.gpu:
            argv += ["--device", "nvidia.com/gpu=all"]
        if name is not None:
            argv += ["--name", name, "--replace"]
        return [*argv, *args, "--entrypoint", payload.argv[0], self.reference(image), *payload.argv[1:]]

    def check_image(self, image: str, field_name: str) -> None:
        ref = self.reference(image)
        if ref.endswith(".sif"):
            raise ValidationError(field_name, f"podman cannot run the .sif image {ref!r}: choose apptainer or "
                                  f"singularity as the container runtime")
        try:
            found = subprocess.run([self.name, "image", "exists", ref], capture_output=True, timeout=60,
                                   stdin=subprocess.DEVNULL).returncode == 0
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ValidationError(field_name, f"podman could not say whether image {ref!r} exists: {exc}") from None
        if not found:
            raise ValidationError(field_name, f"podman has no image {ref!r} (podman pull or build it first; "
                                  f"'podman images' lists those there are)")

    def cleanup_argv(self, names: Sequence[str]) -> Optional[List[str]]:
        return [self.name, "rm", "--force", "--ignore", "--time", "0", *names]

    def _split(self, value: str) -> List[str]:
        if value.startswith(("type=", "src=", "source=")) or ",src=" in value or ",source=" in value:  # --mount
            parts = dict(p.split("=", 1) for p in value.split(",") if "=" in p)
            return [parts.get("src") or parts.get("source") or ""]
        return [value.split(":", 1)[0]]


REGISTRY: Dict[str, Type[Runtime]] = {cls.name: cls for cls in (Apptainer, Singularity, Podman)}


def default_runtime() -> Optional[str]:
    """The first of :data:`RUNTIMES` installed here (None: none is)."""
    return next((name for name in RUNTIMES if shutil.which(name)), None)


def get_runtime(name: Optional[str], field_name: str = "container_runtime") -> Runtime:
    """The runtime ``name`` (None: :func:`default_runtime`)."""
    name = name or default_runtime()
    if name is None:
        raise ValidationError(field_name, f"no container runtime is installed here: install one of "
                              f"{', '.join(RUNTIMES)} (or name it, with setup lines that load it on the node)")
    if name not in REGISTRY:
        raise ValidationError(field_name, f"{name!r} is not allowed; choose one of: {', '.join(RUNTIMES)}")
    return REGISTRY[name]()


def check(runtime: Runtime, image: str, args: Sequence[str], binds: Sequence[Path], *, installed: bool = True,
          prefix: str = "") -> None:
    """One-line errors before any trial starts: ``runtime`` not installed here (``installed``:
    it must be; False where setup lines may load it on the node), its image missing, a bind
    (``binds`` and those in ``args``) of a path that does not exist. ``prefix``: the config the
    fields belong to (``slurm_config.``)."""
    if shutil.which(runtime.name) is None:
        if installed:
            raise ValidationError(f"{prefix}container_runtime", f"{runtime.name} is not installed here (not in PATH); "
                                  f"install it or choose another of: {', '.join(RUNTIMES)}")
    else:
        runtime.check_image(image, f"{prefix}container")
    for source in [*map(str, binds), *runtime.bind_sources(args)]:
        if not Path(source).exists():
            raise ValidationError(f"{prefix}container_args" if source not in map(str, binds) else f"{prefix}container",
                                  f"bind of {source!r}: no such file or folder on this host")


def container_name(*parts: str) -> str:
    """A recognisable name for one container run, ``hpogrid-PART-PART...`` (e.g. the study and the
    trial's uid: unique while the uid is), in the characters podman allows (others become ``_``)."""
    return _NAME_CHARS.sub("_", "-".join(("hpogrid", *parts)))


def binds_for(*paths: Optional[Path]) -> List[Path]:
    """The folders to mount, each once (one inside another is covered by it)."""
    unique = sorted({Path(os.path.abspath(p)) for p in paths if p is not None}, key=lambda p: (len(p.parts), str(p)))
    out: List[Path] = []
    for path in unique:
        if not any(path == kept or kept in path.parents for kept in out):
            out.append(path)
    return out


def store_folder(url: str) -> Optional[Path]:
    """The folder of a SQLite study store (None: a network database, reached as it is)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix):].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path).parent
