"""Issue #34 item 3: a categorical mixing JSON scalar types round-trips through the study, the
terminal tables, CSV (read back by enqueue --file), JSON and HTML."""
import json

import pytest



MIXES = [
    [1.5, True],                              # the example
    [True, 0, "x", None, 2.5],
    [1, 1.0, False],
    [None, "null", "True", True, "false"],
    ["1.5", 1.5, 2, False, "", -0.5],
]


@pytest.mark.parametrize("categories", MIXES, ids=range(len(MIXES)))
def test_a_categorical_mixing_json_types_round_trips_through_every_report(run_cli, scripts, tmp_path, categories):
    import csv

    (scripts / "m.py").write_text("import json\n\ndef model(config):\n"
                                  "    return {'loss': float(len(json.dumps(config['a']))) + config['b']}\n")
    space = {"a": {"method": "categorical", "dimension": {"categories": categories, "grid_search": 1}},
             "b": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
    assert run_cli("model_config", "create", "m", "--script", "m.py", "--model", "model").exit_code == 0
    assert run_cli("search_space", "create", "sp", json.dumps(space)).exit_code == 0
    assert run_cli("hpo_config", "create", "h", "--metric", "loss", "--mode", "min", "--trials", "1",
                   "--algorithm", "random").exit_code == 0
    assert run_cli("project", "create", "p", "--scripts_path", scripts, "--model_config", "m", "--search_space",
                   "sp", "--hpo_config", "h").exit_code == 0
    r = run_cli("local_run", "p", "--top", "10")
    assert r.exit_code == 0 and "internal error" not in r.output, r.output
    r = run_cli("report", "p")
    assert r.exit_code == 0 and f"{len(categories)} trials: {len(categories)} completed" in r.output, r.output
    out = tmp_path / "out"
    out.mkdir()
    r = run_cli("report", "p", "--to_json", "--to_csv", "--to_html", "--outdir", out)
    assert r.exit_code == 0 and "internal error" not in r.output, r.output
    rows = json.loads((out / "hpo_result.json").read_text())
    want = sorted(json.dumps(c) for c in categories)
    assert sorted(json.dumps(row["param.a"]) for row in rows) == want  # 1, 1.0 and true stay apart
    assert (out / "hpo_result.html").stat().st_size > 0
    # the CSV reads back (enqueue --file) as the very values, types included (an empty cell: null)
    with open(out / "hpo_result.csv", newline="") as fh:
        cells = [(row["param.a"], row["param.b"]) for row in csv.DictReader(fh)]
    points = tmp_path / "points.csv"
    with open(points, "w", newline="") as fh:
        csv.writer(fh).writerows([("a", "b"), *[c for c in cells if c[0] != ""]])
    r = run_cli("enqueue", "p", "--file", points)
    assert r.exit_code == 0, r.output
    back = json.loads(run_cli("enqueue", "p", "--list").output)
    assert sorted(json.dumps(p["a"]) for p in back) == sorted(json.dumps(c) for c in categories if c is not None)
