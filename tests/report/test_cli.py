"""``hpogrid report`` through the real root group: output, files, one-line errors."""
import json
import os
import stat

import pytest


def one_error(result, message):
    assert result.exit_code == 1, result.output
    assert result.output == f"Error: {message}\n"


def test_terminal_output(known, report_cli):
    r = report_cli(known.name, "--extra", "site,taskid", "--top", "3")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split() == ["trial", "state", "loss", "lr", "layers", "act", "site", "taskid"]
    assert lines[2].split() == ["5", "COMPLETED", "0.1", "0.003", "2", "tanh", "BNL", "10000002"]
    assert lines[3].split() == ["1", "COMPLETED", "0.2", "0.001", "3", "tanh"]
    assert lines[5] == "... 5 more trials (--top N to show more, --to_csv for all)"
    assert lines[6].startswith("Study 'rp': 8 trials: 6 completed, 1 failed, 1 running; best loss (min) 0.1")
    assert len(lines) == 7


def test_wide_cells_are_cut(known, report_cli):
    r = report_cli(known.name, "--top", "4")
    row = r.output.splitlines()[5]
    assert row.split()[0] == "7" and row.rstrip().endswith("<script>alert(1)</scrip…")


def test_top_zero_and_max_mode(known, report_cli):
    r = report_cli(known.name, "--top", "0", "--mode", "max")
    assert r.exit_code == 0 and r.output.splitlines() == [
        "Study 'rp': 8 trials: 6 completed, 1 failed, 1 running; best loss (max) 0.9 in trial 4: "
        "lr=0.05, layers=1, act=relu"]


def test_files_and_dashed_aliases(known, report_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = report_cli(known.name, "--to-csv", "--to_json", "--top", "0")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-2:] == ["Wrote hpo_result.csv", "Wrote hpo_result.json"]
    data = json.loads((tmp_path / "hpo_result.json").read_text())
    assert [d["number"] for d in data] == [5, 1, 3, 7, 0, 4, 6, 2]
    mode = stat.S_IMODE(os.stat(tmp_path / "hpo_result.csv").st_mode)
    assert mode == 0o666 & ~_umask()
    (tmp_path / "out").mkdir()
    r = report_cli(known.name, "--to_html", "--to-pcp", "--outname", "run.v2", "--outdir", "out", "--top", "0")
    assert r.exit_code == 0, r.output
    assert "Wrote out/run.v2.html" in r.output and "Wrote out/run.v2_pcp.html" in r.output
    assert (tmp_path / "out" / "run.v2.html").stat().st_size > 1_000_000
    try:
        import kaleido  # noqa: F401
    except ImportError:
        assert "Note: no PNG: the optional package kaleido is not installed (pip install kaleido)" in r.output


def _umask():
    old = os.umask(0)
    os.umask(old)
    return old


@pytest.mark.parametrize("args, message", [
    (("nope",), "project 'nope' does not exist (existing: rp)"),
    (("rp", "--metric", "acc"), "--metric: 'acc' not recorded; recorded metrics: loss, accuracy"),
    (("rp", "--extra", "site,foo"), "--extra: unknown column 'foo'; allowed: site, task_time_s, time_s, taskid, jobid"),
    (("rp", "--range", "9-1"), "--range: expected A-B with task ids 0 <= A <= B, got '9-1'"),
    (("rp", "--taskname", "nomatch*"), "no trial of study 'rp' matches --taskname 'nomatch*' (the study has 8 trials)"),
    (("rp", "--to_csv", "--outdir", "no/such/dir"), "--outdir: 'no/such/dir' does not exist (create it first)"),
    (("rp", "--to_csv", "--outname", "a\x00b"), "--outname: invalid name 'a\\x00b': use 1-128 letters, digits, "
                                                "'_', '.' or '-', not starting with '.' or '-'"),
    (("rp", "--columns", "zzz"), "--columns: unknown column 'zzz'; allowed: lr, layers, act, loss, accuracy, "
                                 "site, task_time_s, time_s, taskid, jobid"),
])
def test_one_line_errors(known, report_cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    one_error(report_cli(*args), message)
    assert not list(tmp_path.glob("hpo_result*")) and not list(tmp_path.glob("x*"))


def test_usage_errors_exit_2(known, report_cli):
    r = report_cli(known.name, "--mode", "sideways")
    assert r.exit_code == 2 and r.output.startswith("Error: Invalid value for '--mode'")
    assert report_cli(known.name, "--days", "0").exit_code == 2


def test_empty_study_is_one_line(report_cli, tmp_path):
    from tests.report.helpers import make_project

    from hpogrid import paths
    from hpogrid.study import StudyStore, sqlite_url

    name = make_project(tmp_path, name="empty")
    StudyStore(sqlite_url(paths.study_db(name))).create_study(name, "loss", "min")
    r = report_cli(name)
    assert r.exit_code == 1 and len(r.output.splitlines()) == 1
    assert r.output.startswith("Error: study 'empty' in sqlite:///") and r.output.endswith(" has no trials yet\n")


def test_help_lists_every_option(report_cli):
    r = report_cli("--help")
    for opt in ("--limit", "--days", "--taskname", "--range", "--extra", "--outname", "--to_json", "--to-json",
                "--to_html", "--to_csv", "--to_pcp", "--metric", "--mode", "--top", "--columns", "--study",
                "--study-url"):
        assert opt in r.output, opt


def test_help_stays_light_with_the_lazy_registration():
    """``"report": "hpogrid.cli.report:report"`` in ``_COMMANDS`` keeps --help free of heavy imports."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from hpogrid.cli import cli\n"
            "cli.lazy['report'] = 'hpogrid.cli.report:report'\n"
            "for args in (['--help'], ['report', '--help']):\n"
            "    try:\n"
            "        cli.main(args, prog_name='hpogrid')\n"
            "    except SystemExit:\n"
            "        pass\n"
            "import hpogrid.report\n"
            "print('HEAVY:' + ','.join(m for m in ('pandas', 'plotly', 'sklearn', 'numpy', 'scipy', 'ray')"
            " if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "report" in out.stdout and "--to_html" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:", out.stdout[-300:]


@pytest.mark.parametrize("args, expected", [
    (("--days", "1.5"), [7, 0, 6]),  # by loss; the running trial last
    (("--taskname", "*alpha"), [3, 4]),
    (("--range", "10000001-10000002", "--limit", "1"), [5]),
    (("--limit", "2"), [0, 6]),
])
def test_filter_options_are_wired(known, report_cli, args, expected):
    r = report_cli(known.name, *args)
    assert r.exit_code == 0, r.output
    rows = [ln.split()[0] for ln in r.output.splitlines()[2:] if ln.split() and ln.split()[0].isdigit()]
    assert [int(n) for n in rows] == expected


def test_a_terminal_sees_a_progress_bar_and_logs_stay_plain(known, report_cli, tmp_path, monkeypatch):
    """At a terminal the read and the files are under a rich bar (gone before the table); in a
    log a report that takes seconds prints no progress line at all."""
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    r = report_cli(known.name, "--no-sync", "--to_html", "--to_csv", "--outdir", tmp_path, "--top", "2")
    assert r.exit_code == 0, r.output
    assert "[hpogrid] report" in r.output and "━" in r.output
    assert r.output.index("[hpogrid] report") < r.output.index("trial")  # the bar before the table
    assert f"Wrote {tmp_path / 'hpo_result.html'}" in r.output
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    r = report_cli(known.name, "--no-sync", "--to_csv", "--outdir", tmp_path, "--top", "2")
    assert r.exit_code == 0 and "[hpogrid]" not in r.output and "━" not in r.output, r.output
