"""Fixtures of the slurm_run tests; the real Slurm itself is ``slurm_cluster`` (tests/conftest.py)."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.backends.slurm.helpers import SLURM_CMD

HERE = Path(__file__).resolve().parent


def _tail(text: str, n: int = 15) -> str:
    return "\n".join((text or "").strip().splitlines()[-n:])


@pytest.fixture(scope="session")
def timeout_run(slurm_cluster, tmp_path_factory):
    """A driver process whose first trial overruns its 1-minute limit, started early.

    Slurm's smallest time limit is a minute and slurmctld enforces limits every 30 s, so this
    takes 60-90 s: it runs while the other tests do. Yields (process, project name, home).
    """
    from tests.backends.slurm.helpers import CLI_CODE, KINDS_SCRIPT, grid_of_kinds, make_slurm_project

    root = tmp_path_factory.mktemp("timeout")
    home = root / "hpogrid-home"  # (the scripts, in root, may not be inside it)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HPOGRID_HOME", str(home))
        name = make_slurm_project(root, KINDS_SCRIPT, grid_of_kinds("sleep", "ok"), algorithm="tune",
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
    """The time-limit test goes last in the session: every test after the first of this folder
    (its driver starts there) runs during its 60-90 s, not only the Slurm ones."""
    slow = [i for i, item in enumerate(items)
            if Path(str(item.fspath)).resolve().parent == HERE and "time_limit" in item.name]
    if slow:
        moved = [items[i] for i in slow]
        items[:] = [item for i, item in enumerate(items) if i not in slow] + moved
