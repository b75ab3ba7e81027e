"""A run's progress: the rich bar at a terminal, the long-standing plain line in logs."""
import io
import re

from rich.console import Console

from hpogrid.engine.progress import Counts, ProgressLine
from tests.backends.helpers import make_project

SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
SCRIPT = "def objective(config):\n    return {'loss': config['x']}\n"


def test_plain_line_in_logs():
    stream = io.StringIO()
    line = ProgressLine("loss", 3, console=Console(file=io.StringIO()), stream=stream)
    line.show(Counts(done=1, running=2), 0.5)
    line.show(Counts(done=2, failed=1), 0.25, final=True)
    assert stream.getvalue().splitlines() == [
        "[hpogrid] 1/3 trials: 1 done, 0 failed, 2 running | best loss=0.5",
        "[hpogrid] 3/3 trials: 2 done, 1 failed, 0 running | best loss=0.25"]


def test_bar_at_a_terminal():
    buf = io.StringIO()
    line = ProgressLine("loss", 3, console=Console(file=buf, force_terminal=True, width=150))
    line.show(Counts(done=2, failed=1), 0.25, final=True)
    out = buf.getvalue()
    assert "━" in out and "3/3" in out and "best loss=0.25 | 2 done, 1 failed, 0 running" in out
    assert "[hpogrid] 3/3 trials:" not in out  # the bar, not the log line


def test_local_run_at_a_terminal_draws_the_bar(tmp_path, hpogrid_home):
    from click.testing import CliRunner

    from hpogrid.cli import cli

    name = make_project(tmp_path, SCRIPT, SPACE, algorithm="random")
    runner = CliRunner()
    r = runner.invoke(cli, ["local_run", name, "--trials", "3"], env={"TTY_COMPATIBLE": "1"})
    assert r.exit_code == 0, r.output
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", r.output)  # the text without colours
    # an 80-column terminal: the counts stay whole, the best value comes first in the status
    assert "━" in out and "3/3 trials" in out and "best loss=" in out
    assert "[hpogrid] 3/3 trials:" not in out
    r = runner.invoke(cli, ["local_run", name, "--trials", "2"], env={"TTY_COMPATIBLE": "0"})
    assert r.exit_code == 0, r.output
    assert "━" not in r.output and "[hpogrid] 2/2 trials: 2 done, 0 failed, 0 running | best loss=" in r.output
