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


# -- every numeric option of every command (generated: a new option is covered at once) ------
BAD_NUMBERS = ["nan", "NaN", "inf", "-inf", "1e308", "1e400", "-1", "1" + "0" * 40]


def _numeric_params():
    import click

    from tests.hostile._helpers import commands

    for path, command in commands():
        for param in command.params:
            if isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType)):
                yield path, command, param


NUMERIC = [(path, param.name) for path, _, param in _numeric_params()]


def test_the_walk_finds_the_numeric_options():
    names = {(" ".join(path), name) for path, name in NUMERIC}
    for expected in [("dashboard", "interval"), ("slurm_run", "poll_interval"), ("local_run", "seed"),
                     ("hpo_config create", "trials"), ("slurm_config update", "workers"), ("tasks kill", "jeditaskid")]:
        assert expected in names, expected
    # every one is bounded on both sides (nothing unbounded reaches sizes, seeds or SQL)
    for path, _, param in _numeric_params():
        assert param.type.min is not None and param.type.max is not None, (path, param.name)


@pytest.mark.parametrize("path, name", NUMERIC, ids=[f"{' '.join(p)} {n}" for p, n in NUMERIC])
def test_every_numeric_option_refuses_what_is_not_a_finite_number_in_range(run_cli, hpogrid_home, project,
                                                                          monkeypatch, path, name):
    import click

    from tests.hostile._helpers import command_at

    for var in ("PANDA_URL", "PANDA_URL_SSL"):  # never reached: the option is refused first
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    command = command_at(path)
    param = next(p for p in command.params if p.name == name)
    before = tree_snapshot(hpogrid_home)
    for value in BAD_NUMBERS:
        args = [param.opts[0], value] if isinstance(param, click.Option) else []
        args.append("--")  # ("-1" as an argument is no option)
        for p in command.params:
            if isinstance(p, click.Argument) and p.required:
                args.append(value if p is param else "p")
        r = run_cli(*path, *args)
        assert r.exit_code == 2, (path, name, value, r.output)
        label = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
        refused(r, before, hpogrid_home, rf"Invalid value for '{label}'|Invalid value for '{label.upper()}'")
