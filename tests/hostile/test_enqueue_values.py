"""Issue #34 items 5 and 12: enqueue takes what JSON and CSV users naturally write when the value is
in the space; a malformed CSV is one line naming the row or the column; --list --clear is refused."""
import json

import pytest

from tests.conftest import tree_snapshot
from tests.hostile._helpers import refused


NUMERIC_SPACE = {
    "u": {"method": "uniform", "dimension": {"low": -5, "high": 5}},
    "lu": {"method": "loguniform", "dimension": {"low": 0.5, "high": 100}},
    "n": {"method": "normal", "dimension": {"mu": 0, "sigma": 1}},
    "ln": {"method": "lognormal", "dimension": {"mu": 0, "sigma": 1}},
    "i": {"method": "uniformint", "dimension": {"low": 1, "high": 10}},
    "qi": {"method": "quniform", "dimension": {"low": 0, "high": 10, "q": 2}},
    "qf": {"method": "quniform", "dimension": {"low": 0, "high": 10, "q": 0.5}},
    "qlu": {"method": "qloguniform", "dimension": {"low": 1, "high": 100, "q": 1}},
    "c": {"method": "categorical", "dimension": {"categories": [1.5, True, "a", 2]}},
}
#: what a user writes -> what the model receives (the parameter's own type)
NATURAL = [
    {"u": 1, "lu": 1, "n": 0, "ln": 3, "i": 3.0, "qi": 4.0, "qf": 2, "qlu": 7.0, "c": 2},
    {"u": -5, "lu": 100, "n": -2, "ln": 1, "i": 10.0, "qi": 0, "qf": 0.5, "qlu": 1, "c": True},
    {"u": 5.0, "lu": 0.5, "n": 7, "ln": 0.25, "i": 1, "qi": 10.0, "qf": 10, "qlu": 100.0, "c": "a"},
]
EXPECTED_TYPES = {"u": float, "lu": float, "n": float, "ln": float, "i": int, "qi": int, "qf": float, "qlu": int}


@pytest.fixture
def numeric_project(run_cli, scripts):
    assert run_cli("model_config", "create", "m", "--script", "m.py", "--model", "model").exit_code == 0
    assert run_cli("search_space", "create", "sp", json.dumps(NUMERIC_SPACE)).exit_code == 0
    assert run_cli("hpo_config", "create", "h", "--metric", "loss", "--mode", "min", "--trials", "2",
                   "--algorithm", "random").exit_code == 0
    r = run_cli("project", "create", "p", "--scripts_path", scripts, "--model_config", "m", "--search_space", "sp",
                "--hpo_config", "h")
    assert r.exit_code == 0, r.output


def _waiting(run_cli):
    r = run_cli("enqueue", "p", "--list")
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


@pytest.mark.parametrize("point", NATURAL, ids=range(len(NATURAL)))
def test_enqueue_takes_integers_for_reals_and_integral_floats_for_integers(run_cli, numeric_project, point):
    r = run_cli("enqueue", "p", json.dumps(point))
    assert r.exit_code == 0, r.output
    (stored,) = _waiting(run_cli)
    for name, kind in EXPECTED_TYPES.items():
        assert type(stored[name]) is kind and stored[name] == point[name], (name, stored[name])
    assert stored["c"] == point["c"] and type(stored["c"]) is type(point["c"])


def test_enqueue_csv_cells_are_taken_the_same_way(run_cli, numeric_project, tmp_path):
    path = tmp_path / "points.csv"
    names = list(NUMERIC_SPACE)
    path.write_text(",".join(names) + "\n" + "".join(
        ",".join(json.dumps(p[n]) if not isinstance(p[n], str) else p[n] for n in names) + "\n" for p in NATURAL))
    r = run_cli("enqueue", "p", "--file", path)
    assert r.exit_code == 0, r.output
    stored = _waiting(run_cli)
    assert len(stored) == 3
    for got, want in zip(stored, NATURAL):
        assert all(type(got[n]) is k and got[n] == want[n] for n, k in EXPECTED_TYPES.items()), got


OUTSIDE = [  # still refused: a value outside the space, whatever its spelling
    ({"u": 6}, "u", r"6\.0 is not a value of uniform"),
    ({"lu": 0}, "lu", r"0\.0 is not a value of loguniform"),
    ({"i": 3.5}, "i", r"3\.5 is not a value of uniformint"),
    ({"i": 11.0}, "i", r"11 is not a value of uniformint"),
    ({"qi": 3.0}, "qi", r"3 is not a value of quniform"),
    ({"qi": 3}, "qi", r"3 is not a value of quniform"),
    ({"qf": 0.3}, "qf", r"0\.3 is not a value of quniform"),
    ({"c": 1}, "c", r"1 is not a value of categorical"),
    ({"c": 1.0}, "c", r"1\.0 is not a value of categorical"),
    ({"c": 2.0}, "c", r"2\.0 is not a value of categorical"),
    ({"u": True}, "u", r"True is not a value of uniform"),
    ({"i": "3"}, "i", r"'3' is not a value of uniformint"),
    ({"u": 10 ** 400}, "u", r"1000000.*\.\.\. is not a value of uniform"),
]


@pytest.mark.parametrize("change, name, message", OUTSIDE, ids=[str(c[0]) for c in OUTSIDE])
def test_enqueue_still_refuses_values_outside_the_space(run_cli, hpogrid_home, numeric_project, change, name,
                                                         message):
    before = tree_snapshot(hpogrid_home)
    refused(run_cli("enqueue", "p", json.dumps({**NATURAL[0], **change})), before, hpogrid_home,
            rf"points\[0\]\.{name}: {message}")


def test_a_condition_on_an_integer_parent_holds_for_its_float_spelling(run_cli, scripts):
    space = {"layers": {"method": "uniformint", "dimension": {"low": 1, "high": 3}},
             "extra": {"method": "uniform", "dimension": {"low": 0, "high": 1}, "when": {"layers": [3]}}}
    assert run_cli("model_config", "create", "m", "--script", "m.py", "--model", "model").exit_code == 0
    assert run_cli("search_space", "create", "sp", json.dumps(space)).exit_code == 0
    assert run_cli("hpo_config", "create", "h", "--metric", "loss", "--mode", "min").exit_code == 0
    assert run_cli("project", "create", "p", "--scripts_path", scripts, "--model_config", "m", "--search_space",
                   "sp", "--hpo_config", "h").exit_code == 0
    r = run_cli("enqueue", "p", json.dumps([{"layers": 3.0, "extra": 1}, {"layers": 2.0, "extra": 1}]))
    assert r.exit_code == 0, r.output
    assert _waiting(run_cli) == [{"layers": 3, "extra": 1.0}, {"layers": 2}]


def _csv_cases():
    """(CSV text, expected message): short rows at every position, long rows, bad headers."""
    header = "u,lu,n,ln,i,qi,qf,qlu,c"
    good = "1,1,0,3,3,4,2,7,a"
    cells = good.split(",")
    cases = []
    for cut in (1, 4, 8):  # a row missing its last cells
        cases.append((f"{header}\n{good}\n{','.join(cells[:cut])}\n",
                      rf"CSV row 2 \(line 3\) has no cell for column '{header.split(',')[cut]}' \({cut} of 9 cells\)"))
    cases.append((f"{header}\n\n{','.join(cells[:2])}\n", r"CSV row 1 \(line 3\) has no cell for column 'n'"))
    cases.append((f"{header}\n{good},5\n", r"CSV row 1 \(line 2\) has 10 cells; the header names 9 columns"))
    cases.append((f"{header},u\n{good},2\n", r"the CSV header names column 'u' twice \(columns 1 and 10\)"))
    cases.append((f"u,i,u\n1,2,3\n", r"the CSV header names column 'u' twice \(columns 1 and 3\)"))
    cases.append((f"{header},c\n{good},a\n", r"the CSV header names column 'c' twice"))
    cases.append((f"u,,i\n1,,2\n", r"column 2 of the CSV header has no name"))
    cases.append((f"{header}\n", r"the CSV has no rows"))
    cases.append((f"{header}\n" + '"' + "x" * 200_000 + '",1\n', r"invalid CSV \(line 2\): field larger than"))
    return cases


@pytest.mark.parametrize("text, message", _csv_cases(), ids=range(len(_csv_cases())))
def test_enqueue_a_malformed_csv_is_one_line_naming_the_row_or_column(run_cli, hpogrid_home, numeric_project,
                                                                      tmp_path, text, message):
    path = tmp_path / "points.csv"
    path.write_text(text)
    before = tree_snapshot(hpogrid_home)
    refused(run_cli("enqueue", "p", "--file", path), before, hpogrid_home, r"points: " + message)


def test_enqueue_a_deeply_nested_csv_cell_is_a_value_not_a_crash(run_cli, hpogrid_home, numeric_project, tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("u,lu,n,ln,i,qi,qf,qlu,c\n1,1,0,3,3,4,2,7," + '"' + "[" * 50_000 + '"\n')
    before = tree_snapshot(hpogrid_home)
    refused(run_cli("enqueue", "p", "--file", path), before, hpogrid_home,
            r"points\[0\]\.c: '\[\[\[.*\.\.\. is not a value of categorical")


def test_enqueue_list_and_clear_together_are_refused(run_cli, hpogrid_home, numeric_project):
    assert run_cli("enqueue", "p", json.dumps(NATURAL[0])).exit_code == 0
    before = tree_snapshot(hpogrid_home)
    for argv in (["--list", "--clear"], ["--clear", "--list"]):
        r = run_cli("enqueue", "p", *argv)
        assert r.exit_code == 2 and "give --list or --clear, not both" in r.output, r.output
        assert tree_snapshot(hpogrid_home) == before
    assert len(_waiting(run_cli)) == 1
    assert run_cli("enqueue", "p", "--clear").exit_code == 0 and _waiting(run_cli) == []


def test_the_model_receives_an_enqueued_integer_as_the_float_it_stands_for(run_cli, scripts, project, tmp_path):
    (scripts / "m.py").write_text("def model(config):\n    assert isinstance(config['x'], float), config\n"
                                  "    return {'loss': config['x']}\n")
    assert run_cli("project", "update", "p", "--scripts_path", scripts).exit_code == 0
    for point in ('{"x": 1}', '{"x": 0}'):
        r = run_cli("enqueue", "p", point)
        assert r.exit_code == 0, r.output
    r = run_cli("local_run", "p")
    assert r.exit_code == 0 and "2 completed, 0 failed" in r.output, r.output
    r = run_cli("report", "p", "--to_json", "--outdir", tmp_path)
    assert r.exit_code == 0, r.output
    xs = sorted(row["param.x"] for row in json.loads((tmp_path / "hpo_result.json").read_text()))
    assert xs == [0.0, 1.0] and all(isinstance(x, float) for x in xs)
