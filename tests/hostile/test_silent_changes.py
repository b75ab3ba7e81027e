"""Issue #34, silent data changes: an empty entry in a comma-separated option (``--metric
a,,b``) was dropped without a word, and ``--outname x.html`` wrote ``x.html.html``. Both are
one line naming the option now, exit != 0, nothing written; generated over every list option."""
import pytest

from tests.conftest import tree_snapshot
from tests.hostile._helpers import commands, refused

EMPTY_ENTRIES = ["a,,b", ",a", "a,", ",", "a, ,b"]


def _list_options():
    """(argv before the option, option) of every config option taking A[,B...]."""
    for path, command in commands():
        if path[-1] not in ("create", "update", "recreate"):
            continue
        for param in command.params:
            if getattr(param, "metavar", None) == "A[,B...]":
                yield [*path, "x" if path[-1] == "create" else "h"], param.opts[0]


CONFIG_LISTS = list(_list_options())
OTHER_LISTS = [(["report", "p"], "--columns"), (["report", "p"], "--extra"),
               (["local_run", "p", "--resume"], "--rerun"), (["tasks", "show"], "--outcol")]


def test_the_walk_finds_the_list_options():
    found = {(argv[0], option) for argv, option in CONFIG_LISTS}
    assert {("hpo_config", "--metric"), ("hpo_config", "--mode"), ("hpo_config", "--extra_metrics")} <= found


@pytest.mark.parametrize("argv, option", CONFIG_LISTS + OTHER_LISTS,
                         ids=[" ".join(a[:2]) + " " + o for a, o in CONFIG_LISTS + OTHER_LISTS])
def test_an_empty_entry_in_a_list_is_one_line(run_cli, hpogrid_home, project, monkeypatch, argv, option):
    for var in ("PANDA_URL", "PANDA_URL_SSL"):  # never reached: the option is refused first
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    if argv[0] in ("report", "local_run"):  # a study to read (a config command needs none: no run)
        assert run_cli("local_run", "p").exit_code == 0
    before = tree_snapshot(hpogrid_home)
    for text in EMPTY_ENTRIES:
        field = option.lstrip("-")
        refused(run_cli(*argv, option, text), before, hpogrid_home,
                rf"^Error: (\w+\.|--)?{field}: .*(non-empty|empty entry|name states)")


def test_an_outname_with_the_extension_is_one_line(run_cli, hpogrid_home, project, tmp_path):
    assert run_cli("local_run", "p").exit_code == 0  # (one run: each refusal leaves everything as it was)
    out = tmp_path / "out"
    out.mkdir()
    before = tree_snapshot(hpogrid_home)
    for outname in ["x.html", "x.JSON", "r.csv", "p.png", "a.b.html"]:
        refused(run_cli("report", "p", "--to_html", "--to_csv", "--outname", outname, "--outdir", out), before,
                hpogrid_home, r"^Error: --outname: .* ends in \.\w+: give the name without extension")
        assert list(out.iterdir()) == [], outname
    r = run_cli("report", "p", "--to_html", "--outname", "run.v2", "--outdir", out)
    assert r.exit_code == 0 and (out / "run.v2.html").is_file(), r.output
