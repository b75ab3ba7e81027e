"""Fixtures of the report tests: the known study (see helpers.py) and the CLI runner."""
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from tests.report.helpers import Known, make_project, write_trials


@pytest.fixture
def known(tmp_path):
    """Project ``rp`` (loss, min) with :data:`TRIALS` in its default study."""
    from hpogrid import paths
    from hpogrid.study import sqlite_url

    name = make_project(tmp_path)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    url = sqlite_url(paths.study_db(name))
    write_trials(url, name, now)
    return Known(name, now, url)


@pytest.fixture
def report_cli():
    """Invoke ``hpogrid report ...`` through the real root group (with the command added)."""
    from hpogrid.cli import cli
    from hpogrid.cli.report import report

    runner = CliRunner()

    def run(*args):
        had = "report" in cli.commands
        cli.add_command(report, "report")
        try:
            return runner.invoke(cli, ["report", *map(str, args)], prog_name="hpogrid")
        finally:
            if not had:
                cli.commands.pop("report", None)
    return run
