"""Shared fixtures: every test gets its own empty store root ($HPOGRID_HOME); a real Slurm.

``slurm_cluster`` (session scope) runs ``tests/backends/slurm/start-slurm.sh``: it installs Debian's
slurmctld, slurmd, slurm-client and munge when missing, writes a one-node config (8 CPUs
advertised, 2 fake GPUs, KillWait=2 s) and waits until the node is idle; the session ends
with ``stop-slurm.sh``. Without root, apt-get or a working Slurm the tests that need it skip
with the reason (see ``pytest -rs``); they never fail for that.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

#: the Rucio test server's fixtures, registered once for the whole session: imported into two
#: test modules they were two session fixtures, so two servers whose RSE had the same name, and
#: rucio-clients' in-process RSE cache sent the second server's uploads to the first one's folder
pytest_plugins = ["tests.grid.rucio_server"]

REPO = Path(__file__).resolve().parents[1]
SLURM_SCRIPTS = REPO / "tests" / "backends" / "slurm"
EXAMPLE_SCRIPTS = REPO / "example" / "scripts"


@pytest.fixture(autouse=True)
def hpogrid_home(tmp_path, monkeypatch):
    home = tmp_path / "hpogrid-home"
    monkeypatch.setenv("HPOGRID_HOME", str(home))
    monkeypatch.delenv("HPOGRID_DEBUG", raising=False)
    return home


@pytest.fixture(autouse=True)
def forget_user_scripts(tmp_path):
    """A user's script is imported once per process (``sys.modules`` under its file stem, its
    folder on ``sys.path``): after each test, forget the ones from its tmp_path, so a later
    test's ``train.py`` or helper module of the same name is never the earlier test's.
    Only the entries that are new or replaced since the test started are looked at: a module
    of this test's tmp_path cannot be older than the test, and reading ``__file__`` of all of
    the thousands of modules Ray, torch and Ax load took ~8 ms per test."""
    before = sys.modules.copy()
    yield
    root = str(tmp_path)
    sys.path[:] = [p for p in sys.path if not p.startswith(root)]
    # (a copy taken in one step: background threads of Ray or a searcher may import meanwhile)
    for name, module in sys.modules.copy().items():
        if before.get(name) is not module and (getattr(module, "__file__", None) or "").startswith(root):
            sys.modules.pop(name, None)


@pytest.fixture
def project_factory(tmp_path, hpogrid_home):
    """:func:`tests.projects.make_project` with this test's folder: ``project_factory(script, space, **hpo)``."""
    from tests.projects import make_project

    def make(*args, **kwargs):
        return make_project(tmp_path, *args, **kwargs)
    return make


@pytest.fixture
def run_cli():
    """Invoke the real CLI in-process; returns click's Result (exit_code, output)."""
    from hpogrid.cli import cli

    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(cli, [str(a) for a in args], input=input, prog_name="hpogrid")
    return run


def tree_snapshot(root: Path) -> dict:
    """Every file under root with its bytes: used to prove 'nothing on disk changed'."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


SPACE_EX1 = {"height": {"method": "uniform", "dimension": {"low": -100, "high": 100}},
             "width": {"method": "uniform", "dimension": {"low": 0, "high": 20}}}


def dumps(obj) -> str:
    return json.dumps(obj)


def _tail(text: str, n: int = 15) -> str:
    return "\n".join((text or "").strip().splitlines()[-n:])


@pytest.fixture(scope="session")
def slurm_cluster():
    """The node name of a running single-node Slurm; skips when none can be started."""
    if os.geteuid() != 0:
        pytest.skip("real Slurm tests need root (they start slurmctld/slurmd/munged)")
    if shutil.which("sbatch") is None and shutil.which("apt-get") is None:
        pytest.skip("Slurm is not installed and apt-get is not available to install it")
    try:
        proc = subprocess.run(["bash", str(SLURM_SCRIPTS / "start-slurm.sh")], capture_output=True, text=True,
                              timeout=600)
    except subprocess.TimeoutExpired:
        pytest.skip("start-slurm.sh did not finish within 600 s")
    if proc.returncode != 0:
        pytest.skip(f"could not start Slurm (start-slurm.sh exit {proc.returncode}):\n"
                    f"{_tail(proc.stdout)}\n{_tail(proc.stderr)}")
    node = subprocess.run(["sinfo", "-h", "-N", "-o", "%N"], capture_output=True, text=True).stdout.split()
    try:
        yield node[0] if node else None
    finally:
        subprocess.run(["bash", str(SLURM_SCRIPTS / "stop-slurm.sh")], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def core_image():
    """The image docker/build.sh builds (PROFILE=core, podman; cached by a hash of its inputs: only
    the first run after a change of the Dockerfile, setup.cfg or the package builds, a few minutes)."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (bash setupenv.sh test installs podman, runc and debootstrap)")
    out = subprocess.run([str(REPO / "docker" / "build.sh")], capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr[-4000:]
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture
def panda_server(tmp_path, monkeypatch):
    """A PanDA REST test server on 127.0.0.1 that executes the jobs it receives."""
    import sys

    from tests.grid.panda_server.server import PandaTestServer

    server = PandaTestServer(tmp_path / "panda-server").start()
    for var in ("PANDA_URL", "PANDA_URL_SSL", "PANDACACHE_URL"):
        monkeypatch.setenv(var, server.url)
    # no DNS look-ups of the server's host name by panda-client; plain http needs no proxy/token
    monkeypatch.setenv("PANDA_BEHIND_REAL_LB", "1")
    for var in ("PANDA_AUTH", "X509_USER_PROXY"):
        monkeypatch.delenv(var, raising=False)
    # the jobs' "hpogrid" (argv[0]) must resolve to this venv's entry point
    server.job_env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    try:
        yield server
    finally:
        server.stop()
