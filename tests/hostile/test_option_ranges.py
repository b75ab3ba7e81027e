"""Issue #34 item 13: numeric options out of range (huge, infinite, not a number) are one usage
line, never an internal OverflowError."""
import pytest

from tests.conftest import tree_snapshot
from tests.hostile._helpers import refused


BAD_DAYS = ["1000000", "1e6", "inf", "-inf", "nan", "NaN", "1e10", "1e400", "36500.5", "0", "-1"]


def test_report_days_out_of_range_is_one_line(run_cli, hpogrid_home, project, tmp_path):
    r = run_cli("local_run", "p")
    assert r.exit_code == 0, r.output
    before = tree_snapshot(hpogrid_home)
    out = tmp_path / "out"
    out.mkdir()
    for days in BAD_DAYS:
        for extra in ([], ["--to_json"], ["--to_html"]):
            r = run_cli("report", "p", "--days", days, "--outdir", out, *extra)
            assert r.exit_code == 2, (days, r.output)
            refused(r, before, hpogrid_home, r"Invalid value for '--days': .*(not in the range 0<x<=36500|"
                                             r"is not a finite number)")
    assert list(out.iterdir()) == []
    r = run_cli("report", "p", "--days", "36500")
    assert r.exit_code == 0 and "2 trials: 2 completed" in r.output, r.output


@pytest.mark.parametrize("days", BAD_DAYS)
def test_tasks_show_days_out_of_range_is_one_line(run_cli, hpogrid_home, monkeypatch, days):
    for var in ("PANDA_URL", "PANDA_URL_SSL"):  # never reached: the option is refused first
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    r = run_cli("tasks", "show", "--days", days)
    assert r.exit_code == 2, r.output
    refused(r, None, None, r"Invalid value for '--days'")
