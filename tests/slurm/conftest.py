"""A REAL single-node Slurm (slurmctld + slurmd + munge) for the slurm_run tests.

``slurm_cluster`` (session scope) runs ``start-slurm.sh`` next to this file: it installs
Debian's slurmctld, slurmd, slurm-client and munge when missing, writes a one-node config
(8 CPUs advertised, 2 fake GPUs, KillWait=2 s) and waits until the node is idle; the session
ends with ``stop-slurm.sh``. Without root, apt-get or a working Slurm the tests that need it
skip with the reason (see ``pytest -rs``); they never fail for that.
"""
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.slurm.helpers import SLURM_CMD

HERE = Path(__file__).resolve().parent


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
        proc = subprocess.run(["bash", str(HERE / "start-slurm.sh")], capture_output=True, text=True,
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
        subprocess.run(["bash", str(HERE / "stop-slurm.sh")], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def timeout_run(slurm_cluster, tmp_path_factory):
    """A driver process whose first trial overruns its 1-minute limit, started early.

    Slurm's smallest time limit is a minute and slurmctld enforces limits every 30 s, so this
    takes 60-90 s: it runs while the other tests do. Yields (process, project name, home).
    """
    from tests.slurm.helpers import CLI_CODE, KINDS_SCRIPT, grid_of_kinds, make_slurm_project

    home = tmp_path_factory.mktemp("timeout-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HPOGRID_HOME", str(home))
        name = make_slurm_project(home, KINDS_SCRIPT, grid_of_kinds("sleep", "ok"), algorithm="tune",
                                  trials=2, stop={"training_iteration": 5}, slurm={"time": "1"})
    env = {**os.environ, "HPOGRID_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-c", CLI_CODE, "slurm_run", name], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield proc, name, home
    finally:
        if proc.poll() is None:  # the test did not wait for it: stop it the way a user would
            proc.send_signal(signal.SIGINT)
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def slurm_cli():
    """Invoke ``hpogrid`` in-process with slurm_run registered; returns click's Result."""
    from hpogrid.cli import cli

    cli.lazy.setdefault("slurm_run", SLURM_CMD)  # a no-op once hpogrid/cli/__init__.py lists it
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, [str(a) for a in args], prog_name="hpogrid")
    return run


def pytest_collection_modifyitems(session, config, items):
    """The time-limit test goes after every other Slurm test: they run during its 60-90 s."""
    mine = [i for i, item in enumerate(items) if Path(str(item.fspath)).resolve().parent == HERE]
    slow = [i for i in mine if "time_limit" in items[i].name]
    if mine and slow:
        moved = [items[i] for i in slow]
        rest = [item for i, item in enumerate(items) if i not in slow]
        last = max(k for k, item in enumerate(rest) if Path(str(item.fspath)).resolve().parent == HERE)
        items[:] = rest[:last + 1] + moved + rest[last + 1:]
