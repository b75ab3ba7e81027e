"""``hpogrid study ...`` as a user types it: list, show, copy, rename, delete, merge, export, import.

Studies live in a project's SQLite store, in PostgreSQL and MariaDB (``--study-url``, skipped
with the reason when the server is unreachable). Every refusal is one line, exit 1, and
leaves the stores as they were.
"""
import json
import sys
import types
import uuid

import pytest

from hpogrid import paths
from hpogrid.study import StudyStore, sqlite_url
from hpogrid.study.transfer import read_study
from tests.study.conftest import server_url
from tests.study.test_transfer import fill, same


@pytest.fixture
def project(hpogrid_home):
    """Project ``p`` with study ``p`` (5 trials) in its own study.db; returns its store."""
    paths.project_dir("p").mkdir(parents=True)
    store = StudyStore(sqlite_url(paths.study_db("p")))
    fill(store, "p")
    yield store
    store.close()


def one_line_error(result):
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_list_and_show(run_cli, project):
    fill(project, "second", n=2)
    out = run_cli("study", "list", "p")
    assert out.exit_code == 0, out.output
    head, _, *rows = out.output.splitlines()
    assert head.split()[:8] == ["study", "trials", "completed", "running", "failed", "interrupted", "best",
                                "objectives"]
    row = next(r.split() for r in rows if r.startswith("p "))
    assert row[1:6] == ["5", "2", "1", "1", "1"] and row[6] == "0.5" and row[7:9] == ["loss", "(min)"]
    assert any(r.startswith("second ") for r in rows)
    shown = run_cli("study", "show", "p")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["counts"]["COMPLETED"] == 2 and data["best"]["uid"] == "t-0000" and data["metric"] == "loss"


def test_copy_rename_and_collisions(run_cli, project):
    before = read_study(project, "p")
    assert run_cli("study", "copy", "p", "backup").exit_code == 0
    same(before, read_study(project, "backup"), name="backup")
    line = one_line_error(run_cli("study", "copy", "p", "backup"))
    assert "'backup' already exists" in line
    line = one_line_error(run_cli("study", "rename", "p", "backup"))
    assert "'backup' already exists" in line
    same(before, read_study(project, "p"))
    assert run_cli("study", "rename", "p", "renamed", "--study", "backup").exit_code == 0
    assert [s.name for s in project.list_studies()] == ["p", "renamed"]


def test_delete_asks_only_at_a_terminal(run_cli, project, monkeypatch):
    from hpogrid.cli import _base

    project.create_study("keep", "loss", "min")

    class Terminal:  # sys, with a person at the keyboard
        stdin = types.SimpleNamespace(isatty=lambda: True)

        def __getattr__(self, name):
            return getattr(sys, name)

    with monkeypatch.context() as m:
        m.setattr(_base, "sys", Terminal())
        answered_no = run_cli("study", "delete", "p", "--study", "keep", input="n\n")
        assert answered_no.exit_code == 1 and "Delete study 'keep'" in answered_no.output
        assert project.get_study("keep")
        assert run_cli("study", "delete", "p", "--study", "keep", input="y\n").exit_code == 0
    assert [s.name for s in project.list_studies()] == ["p"]
    assert run_cli("study", "delete", "p", "--yes").exit_code == 0  # a script: never blocked
    assert project.list_studies() == []
    assert "not found" in one_line_error(run_cli("study", "delete", "p", "--yes"))


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_copy_to_a_server_and_merge_back(run_cli, project, kind):
    url, name = server_url(kind), f"c_{uuid.uuid4().hex[:12]}"
    server = StudyStore(url)
    try:
        out = run_cli("study", "copy", "p", name, "--to-url", url)
        assert out.exit_code == 0, out.output
        same(read_study(project, "p"), read_study(server, name), name=name)
        server.upsert_trial(name, "remote-1", state="COMPLETED", params={"lr": 0.5}, metrics={"loss": 0.01})
        listed = run_cli("study", "list", "--study-url", url)
        assert any(r.startswith(name + " ") and r.split()[1] == "6" for r in listed.output.splitlines())
        merged = run_cli("study", "merge", "p", name, "--from-url", url)
        assert merged.exit_code == 0 and "Merged 1 trial(s)" in merged.output and "5 already there" in merged.output
        assert project.best_trial("p").uid == "remote-1"
    finally:
        server.delete_study(name)
        server.close()


def test_export_import_file_round_trip(run_cli, project, tmp_path):
    f = tmp_path / "p.jsonl"
    assert run_cli("study", "export", "p", f).exit_code == 0
    out = run_cli("study", "import", "p", f, "--study", "again")
    assert out.exit_code == 0 and "5 trials" in out.output, out.output
    same(read_study(project, "p"), read_study(project, "again"), name="again")
    assert "already exists" in one_line_error(run_cli("study", "import", "p", f, "--study", "again"))
    merged = run_cli("study", "import", "p", f, "--study", "again", "--merge")
    assert merged.exit_code == 0 and "5 already there" in merged.output


def test_malformed_import_names_line_and_field_and_writes_nothing(run_cli, project, tmp_path):
    f = tmp_path / "p.jsonl"
    run_cli("study", "export", "p", f)
    lines = f.read_text().splitlines()
    third = json.loads(lines[3])
    third["metrics"] = "fast"
    f.write_text("\n".join([*lines[:3], json.dumps(third), *lines[4:]]) + "\n")
    line = one_line_error(run_cli("study", "import", "p", f, "--study", "bad"))
    assert "line 4: metrics" in line and "expected a dict" in line
    assert [s.name for s in project.list_studies()] == ["p"]


def test_unreachable_store_is_one_line_without_the_password(run_cli, project):
    url = "postgresql+psycopg2://me:s3cret@127.0.0.1:9/db?connect_timeout=2"
    for args in (("list", "--study-url", url), ("show", "p", "--study-url", url),
                 ("copy", "p", "x", "--to-url", url)):
        line = one_line_error(run_cli("study", *args))
        assert "s3cret" not in line and "***" in line, line
    assert "has no study yet" in one_line_error(run_cli("study", "show", "nope"))
    assert "project 'nope' not found" in one_line_error(run_cli("study", "list", "nope"))
    assert "no SQLite study store" in one_line_error(run_cli("study", "list", "--study-url", "sqlite:////no/such.db"))
    assert not (paths.projects_dir() / "nope").exists()


def test_optuna_both_ways(run_cli, project, tmp_path):
    optuna = pytest.importorskip("optuna")
    ourl = sqlite_url(tmp_path / "optuna.db")
    out = run_cli("study", "export", "p", "--to-optuna", ourl)
    assert out.exit_code == 0, out.output
    assert optuna.load_study(study_name="p", storage=ourl).best_value == project.best_trial("p").value
    back = run_cli("study", "import", "p", "--from-optuna", ourl, "--study", "p", "--study-url",
                   sqlite_url(tmp_path / "other.db"))
    assert back.exit_code == 0, back.output
    with StudyStore(sqlite_url(tmp_path / "other.db")) as other:
        same(read_study(project, "p"), read_study(other, "p"))
    assert "already exists" in one_line_error(run_cli("study", "export", "p", "--to-optuna", ourl))
    bad = "postgresql+psycopg2://me:s3cret@127.0.0.1:9/db?connect_timeout=2"
    for args in (("export", "p", "--to-optuna", bad), ("import", "p", "--from-optuna", bad, "--study", "p")):
        line = one_line_error(run_cli("study", *args))
        assert "s3cret" not in line and "***" in line, line
    assert "not found" in one_line_error(run_cli("study", "import", "p", "--from-optuna", ourl, "--study", "zz"))


ADD_SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
             "act": {"method": "categorical", "dimension": {"categories": ["relu", "tanh"]}}}


def _project_store(name):
    return StudyStore(sqlite_url(paths.study_db(name)))


def test_add_results_from_csv_and_json(run_cli, project_factory, tmp_path):
    name = project_factory(space=ADD_SPACE)
    csv_file = tmp_path / "results.csv"
    csv_file.write_text("param.x,param.act,metric.loss,state\n0.1,relu,0.5,\n0.2,tanh,0.25,COMPLETED\n"
                        "0.3,relu,,FAILED\n")
    out = run_cli("study", "add", name, "--file", csv_file)
    assert out.exit_code == 0 and "Added 3 trial(s)" in out.output, out.output
    json_file = tmp_path / "more.json"
    json_file.write_text(json.dumps([{"params": {"x": 0.9, "act": "tanh"}, "metrics": {"loss": 0.125}}]))
    assert run_cli("study", "add", name, "--file", json_file).exit_code == 0
    again = run_cli("study", "add", name, "--file", csv_file)  # the same rows: nothing new
    assert again.exit_code == 0 and "Added 0 trial(s)" in again.output and "3 already there" in again.output
    with _project_store(name) as store:
        trials = store.trials(name)
        assert [t.state for t in trials] == ["COMPLETED", "COMPLETED", "FAILED", "COMPLETED"]
        assert trials[0].params == {"x": 0.1, "act": "relu"} and trials[0].metrics == {"loss": 0.5}
        assert {t.annotations["imported"] for t in trials} == {"results.csv", "more.json"}
        assert store.best_trial(name).params == {"x": 0.9, "act": "tanh"}
        assert store.get_study(name).attrs["search_space"] == ADD_SPACE


@pytest.mark.parametrize("text, where, what", [
    ("param.x,param.act,metric.loss\n0.1,relu,0.5\n1.5,relu,0.2\n", "row 2: param.x", "outside the search space"),
    ("param.x,param.act,metric.loss\n0.1,gelu,0.5\n", "row 1: param.act", "outside the search space"),
    ("param.x,param.act,param.y,metric.loss\n0.1,relu,3,0.5\n", "row 1: param.y", "not a parameter"),
    ("param.x,metric.loss\n0.1,0.5\n", "row 1: param.act", "missing"),
    ("param.x,param.act,metric.loss\n0.1,relu,fast\n", "row 1: metric.loss", "expected a number"),
    ("param.x,param.act,metric.acc\n0.1,relu,0.5\n", "row 1: metric.loss", "needs every objective"),
    ("param.x,param.act,metric.loss,state\n0.1,relu,0.5,DONE\n", "row 1: state", "expected one of"),
])
def test_add_refuses_a_bad_row_and_writes_nothing(run_cli, project_factory, tmp_path, text, where, what):
    name = project_factory(space=ADD_SPACE)
    f = tmp_path / "results.csv"
    f.write_text(text)
    line = one_line_error(run_cli("study", "add", name, "--file", f))
    assert where in line and what in line, line
    assert not paths.study_db(name).exists() or _project_store(name).list_studies() == []


def test_added_results_are_told_to_the_searcher_on_resume(run_cli, project_factory, tmp_path):
    name = project_factory(space={"x": ADD_SPACE["x"]}, algorithm="optuna", trials=4, scheduler="fifo")
    f = tmp_path / "results.csv"
    f.write_text("x,loss\n0.1,0.1\n0.5,0.5\n")  # plain names: x is a parameter, loss a metric
    assert run_cli("study", "add", name, "--file", f).exit_code == 0
    r = run_cli("local_run", name, "--resume", "--n_jobs", "1", "--seed", "1")
    assert r.exit_code == 0, r.output
    with _project_store(name) as store:
        trials = store.trials(name)
    assert len(trials) == 4 and [t.backend for t in trials[:2]] == ["imported", "imported"]
    assert all(t.annotations.get("searcher_told", 0) >= 2 for t in trials[2:]), [t.annotations for t in trials]


def test_export_import_csv_round_trip(run_cli, project, tmp_path):
    project.upsert_trial("p", "evil", state="COMPLETED", params={"lr": 0.1, "layers": 2, "act": "=HYPERLINK(\"x\")"},
                         metrics={"loss": 0.01})
    f = tmp_path / "p.csv"
    out = run_cli("study", "export", "p", f)
    assert out.exit_code == 0 and "6 trials" in out.output, out.output
    assert "'=HYPERLINK" in f.read_text() and f.read_text().startswith('"# {')
    assert run_cli("study", "export", "p", tmp_path / "p.txt", "--format", "csv").exit_code == 0
    assert (tmp_path / "p.txt").read_bytes() == f.read_bytes()
    for i, name in enumerate(("again", "again2")):
        out = run_cli("study", "import", "p", [f, tmp_path / "p.txt"][i], "--study", name)
        assert out.exit_code == 0 and "6 trials" in out.output, out.output
        same(read_study(project, "p"), read_study(project, name), name=name)
    assert project.best_trial("again").params["act"] == "=HYPERLINK(\"x\")"


def test_malformed_csv_import_is_one_line_naming_line_and_column(run_cli, project, tmp_path):
    f = tmp_path / "p.csv"
    run_cli("study", "export", "p", f)
    lines = f.read_text().splitlines()
    lines[3] = lines[3].replace(",COMPLETED,", ",DONE,")
    f.write_text("\n".join(lines) + "\n")
    line = one_line_error(run_cli("study", "import", "p", f, "--study", "bad"))
    assert "line 4: state" in line and "expected one of" in line
    assert [s.name for s in project.list_studies()] == ["p"]
