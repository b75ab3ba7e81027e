"""Issue #34 item 11 and "silent data changes": a metric that is no finite float (an integer
beyond a float's range, NaN, infinity) is stored empty with a note (the trial's
``metrics_not_stored`` annotation, a line in every report), and every output agrees: the
terminal, JSON, CSV, HTML and the dashboard's data; a study metric of that kind fails the
trial saying why; a study file holding such an integer is refused on import."""
import json

import pytest

from tests.conftest import tree_snapshot
from tests.hostile._helpers import refused

BAD = {"huge": "10**400", "tiny": "-10**400", "vast": "10**5000", "inf": "float('inf')",
       "ninf": "float('-inf')", "nan": "float('nan')"}


@pytest.fixture
def bad_metrics(run_cli, hpogrid_home, scripts, configs):
    body = ", ".join(f"{k!r}: {v}" for k, v in BAD.items())
    (scripts / "m.py").write_text(
        "from ray import tune\n\n"
        "def model(config):\n"
        f"    tune.report({{'loss': config['x'], {body}}})\n"
        f"    return {{'loss': config['x'], {body}}}\n")
    r = run_cli("project", "create", "p", "--scripts_path", scripts, "--model_config", "m",
                "--search_space", "sp", "--hpo_config", "h")
    assert r.exit_code == 0, r.output
    r = run_cli("local_run", "p")
    assert r.exit_code == 0 and "2 completed" in r.output, r.output


def test_a_metric_that_is_no_float_is_stored_empty_with_a_note(run_cli, hpogrid_home, bad_metrics, tmp_path):
    from hpogrid import paths
    from hpogrid.study.engine import sqlite_url
    from hpogrid.study.store import StudyStore

    with StudyStore(sqlite_url(paths.study_db("p")), access="read") as store:
        for trial in store.trials("p"):
            assert all(trial.metrics[k] is None for k in BAD), trial.metrics
            assert set(trial.annotations["metrics_not_stored"]) == set(BAD), trial.annotations
            assert "beyond the range of a float" in trial.annotations["metrics_not_stored"]["vast"]
            assert trial.annotations["metrics_not_stored"]["nan"] == "nan is not a finite number"
    r = run_cli("report", "p")
    assert r.exit_code == 0 and "internal error" not in r.output, r.output
    note = [ln for ln in r.output.splitlines() if "not finite numbers, stored empty" in ln]
    assert len(note) == 1 and all(f"{k}: " in note[0] for k in BAD), r.output
    r = run_cli("report", "p", "--to_json", "--to_csv", "--to_html", "--outdir", tmp_path)
    assert r.exit_code == 0 and "internal error" not in r.output, r.output
    rows = json.loads((tmp_path / "hpo_result.json").read_text())
    assert all(row[f"metric.{k}"] is None for row in rows for k in BAD)
    header, *lines = (tmp_path / "hpo_result.csv").read_text().splitlines()
    cols = header.split(",")
    assert all(line.split(",")[cols.index(f"metric.{k}")] == "" for line in lines for k in BAD)
    assert "not finite numbers, stored empty" in (tmp_path / "hpo_result.html").read_text()
    from hpogrid.dashboard._snapshot import Source, build

    data = json.dumps(build(Source("p")), allow_nan=False)  # the page's data: no Infinity, no NaN
    assert "not finite numbers, stored empty" in data


@pytest.mark.parametrize("name, value", sorted(BAD.items()))
def test_a_study_metric_that_is_no_float_fails_the_trial_saying_why(run_cli, hpogrid_home, scripts, configs,
                                                                     name, value):
    (scripts / "m.py").write_text(f"def model(config):\n    return {{'loss': {value}}}\n")
    r = run_cli("project", "create", "p", "--scripts_path", scripts, "--model_config", "m",
                "--search_space", "sp", "--hpo_config", "h")
    assert r.exit_code == 0, r.output
    r = run_cli("local_run", "p")
    assert "2 failed" in r.output and "internal error" not in r.output, r.output
    assert "for metric 'loss'" in r.output, r.output
    if "**" in value:
        assert "the trial reported an integer of" in r.output and "beyond the range of a float" in r.output


@pytest.mark.parametrize("number", ["1" + "0" * 400, "-" + "9" * 309])
def test_a_study_file_with_an_integer_beyond_a_float_is_refused(run_cli, hpogrid_home, project, tmp_path, number):
    assert run_cli("local_run", "p").exit_code == 0
    out = tmp_path / "p.jsonl"
    assert run_cli("study", "export", "p", out).exit_code == 0
    lines = out.read_text().splitlines()
    trial = json.loads(lines[1])
    lines[1] = json.dumps({**trial, "metrics": {**trial["metrics"], "big": 0}}).replace('"big": 0', f'"big": {number}')
    out.write_text("\n".join(lines) + "\n")
    before = tree_snapshot(hpogrid_home)
    refused(run_cli("study", "import", "p", out, "--study", "q"), before, hpogrid_home,
            r"line 2: metrics\.big: an integer of \d+ bits, beyond the range of a float")
