"""Shared fixtures: every test gets its own empty store root ($HPOGRID_HOME)."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_SCRIPTS = REPO / "example" / "scripts"


@pytest.fixture(autouse=True)
def hpogrid_home(tmp_path, monkeypatch):
    home = tmp_path / "hpogrid-home"
    monkeypatch.setenv("HPOGRID_HOME", str(home))
    monkeypatch.delenv("HPOGRID_DEBUG", raising=False)
    return home


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
