"""Issue #34: CSV exports never hand a spreadsheet program a formula. A cell starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return (OWASP "CSV injection") gets a leading
``'``; a parameter's string is written as JSON instead (quoted, so it reads back as the
string it was); plain numbers such as ``-1.5`` stay numbers."""
import csv
import json

import pytest

from hpogrid.csvtext import FORMULA_START, csv_safe

FORMULAS = ["=1+1", "=HYPERLINK(\"http://127.0.0.1/x\",\"x\")", "+x", "-cmd|' /C calc'!A0", "@SUM(A1:A2)",
            "\tTAB", "\rCR", "-", "+1_0", "-inf"]


def _dangerous(cell: str) -> bool:
    return cell.startswith(FORMULA_START) and csv_safe(cell) != cell


@pytest.mark.parametrize("text", FORMULAS)
def test_a_formula_gets_a_quote_a_number_stays_a_number(text):
    assert csv_safe(text) == "'" + text
    for number in ("-1.5", "+3", "-1e-05", "-.5", "1.5", -1.5, 7):
        assert csv_safe(number) == number


def test_report_csv_has_no_formula_cell(run_cli, hpogrid_home, scripts, configs, tmp_path):
    space = {"c": {"method": "categorical", "dimension": {"categories": FORMULAS + ["-1.5", "plain"],
                                                             "grid_search": 1}},
             "x": {"method": "uniform", "dimension": {"low": -2, "high": -1}}}
    assert run_cli("search_space", "recreate", "sp", json.dumps(space)).exit_code == 0
    (scripts / "m.py").write_text("def model(config):\n"
                                  "    return {'loss': config['x'], 'tag': config['c'], 'neg': -1.5}\n")
    r = run_cli("project", "create", "p", "--scripts_path", scripts, "--model_config", "m",
                "--search_space", "sp", "--hpo_config", "h")
    assert r.exit_code == 0, r.output
    trials = len(FORMULAS) + 2
    assert run_cli("local_run", "p", "--trials", trials, "--algorithm", "tune").exit_code == 0
    r = run_cli("report", "p", "--to_csv", "--outdir", tmp_path)
    assert r.exit_code == 0, r.output
    with open(tmp_path / "hpo_result.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == trials
    for row in rows:
        for column, cell in row.items():
            assert not _dangerous(cell), (column, cell)
        assert row["metric.neg"] == "-1.5" and float(row["param.x"]) < 0  # numbers stay numbers
    params = sorted(json.loads(r["param.c"]) if r["param.c"].startswith('"') else r["param.c"] for r in rows)
    assert params == sorted(FORMULAS + ["-1.5", "plain"])  # each reads back as the string it was
    tags = sorted(r["metric.tag"] for r in rows)
    assert tags == sorted(["'" + t if t != "-1.5" and t != "plain" else t for t in FORMULAS + ["-1.5", "plain"]])
