"""Issue #34, third hostile pass: each class of input that crashed hpogrid, probed through the
CLI with several generated inputs, not only the one example. Every refusal is one line
``Error: ...`` naming what is wrong, a non-zero exit, no traceback, and an unchanged store."""
import json
import re

import pytest

from tests.conftest import tree_snapshot

SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}


def refused(result, home_before, home, pattern):
    """One line ``Error: ...`` matching ``pattern``, exit != 0, nothing in the store changed."""
    lines = result.output.strip().splitlines()
    assert result.exit_code not in (0, None), result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    assert re.search(pattern, lines[0]), lines[0]
    if home_before is not None:
        assert tree_snapshot(home) == home_before


# --- #2: a small YAML file must not expand to a huge config -------------------------------------

def _alias_bomb(string_len: int, levels: int, fan_out: int, as_key: bool = False) -> str:
    """An anchor holding a long string (or a mapping with a long key), then ``levels`` lists
    that each alias the previous one ``fan_out`` times: tiny text, huge expansion."""
    if as_key:
        lines = [f"l0: &l0\n  ? {'k' * string_len}\n  : 1"]  # an explicit key: no 1024-character limit
    else:
        lines = [f"l0: &l0 {'s' * string_len}"]
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fan_out)}]")
    return "\n".join(lines) + "\n"


BOMBS = [  # (string length, levels, fan-out): each expands far beyond 4 MB with < 1 million values
    (100_000, 5, 9),   # the issue's example: ~6 GB
    (1_000, 4, 9),     # ~1 KB of YAML, 6.5 MB of text
    (50, 4, 40),       # short string, wide fan-out: 128 MB
    (200_000, 1, 30),  # one level, a long string repeated
    (4_000, 2, 40),
]


@pytest.mark.parametrize("string_len, levels, fan_out", BOMBS)
@pytest.mark.parametrize("as_key", [False, True], ids=["string", "key"])
def test_yaml_alias_expansion_is_bounded_by_size_naming_the_file(run_cli, hpogrid_home, tmp_path, string_len,
                                                                levels, fan_out, as_key):
    path = tmp_path / "params.yaml"
    path.write_text(_alias_bomb(string_len, levels, fan_out, as_key))
    before = tree_snapshot(hpogrid_home)
    r = run_cli("model_config", "create", "m", "--script", "m.py", "--model", "f", "--param-file", path)
    refused(r, before, hpogrid_home, rf"invalid YAML in {re.escape(str(path))}: expands to more than 4 MB of text")


@pytest.mark.parametrize("command", [
    ["hpo_config", "create", "h", "--file"],
    ["search_space", "create", "s", "--file"],
])
def test_every_yaml_reader_bounds_expansion(run_cli, hpogrid_home, tmp_path, command):
    path = tmp_path / "bomb.yml"
    path.write_text(_alias_bomb(10_000, 3, 20))
    before = tree_snapshot(hpogrid_home)
    refused(run_cli(*command, path), before, hpogrid_home, rf"in {re.escape(str(path))}: expands to more than 4 MB")


def test_enqueue_yaml_file_bounds_expansion(run_cli, hpogrid_home, tmp_path, project):
    path = tmp_path / "points.yaml"
    path.write_text(_alias_bomb(10_000, 3, 20))
    before = tree_snapshot(hpogrid_home)
    refused(run_cli("enqueue", "p", "--file", path), before, hpogrid_home,
            rf"in {re.escape(str(path))}: expands to more than 4 MB")


def test_aliases_that_stay_small_are_still_expanded(run_cli, tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(_alias_bomb(1_000, 2, 10) + "defaults: &d {lr: 0.1, depth: 3}\nmine:\n  <<: *d\n  depth: 4\n")
    r = run_cli("model_config", "create", "m", "--script", "m.py", "--model", "f", "--param-file", path)
    assert r.exit_code == 0, r.output
    shown = json.loads(run_cli("model_config", "show", "m").output)
    assert shown["param"]["mine"] == {"lr": 0.1, "depth": 4}
    assert shown["param"]["l2"][3][7] == "s" * 1_000


def test_json_file_of_the_same_size_limit_reads(run_cli, tmp_path):
    """JSON has no aliases: what it expands to is its text, bounded by the file size limit."""
    path = tmp_path / "params.json"
    path.write_text(json.dumps({"s": "x" * 3_000_000}))
    r = run_cli("model_config", "create", "m", "--script", "m.py", "--model", "f", "--param-file", path)
    assert r.exit_code == 0, r.output


HUGE_INTEGERS = [
    ("v.yaml", "a: " + "9" * 5000 + "\n", "invalid YAML in {path}: the integer on line 1 has more than 4300 digits"),
    ("k.yaml", "x: 1\n? " + "7" * 4400 + "\n: 1\n", "invalid YAML in {path}: the integer on line 2 has more than 4300"),
    ("h.yaml", "a: 0x" + "f" * 5000 + "\n", "invalid YAML in {path}: the integer on line 1 has more than 4300"),
    ("l.yaml", "a: [1, -" + "1" * 4500 + "]\n", "invalid YAML in {path}: the integer on line 1 has more than 4300"),
    ("v.json", '{"a": ' + "9" * 5000 + "}", "invalid JSON in {path}: an integer has more than 4300 digits"),
]


@pytest.mark.parametrize("name, text, message", HUGE_INTEGERS, ids=[c[0] for c in HUGE_INTEGERS])
def test_an_integer_too_long_to_convert_is_one_line_naming_the_file(run_cli, hpogrid_home, tmp_path, name, text,
                                                                    message):
    path = tmp_path / name
    path.write_text(text)
    before = tree_snapshot(hpogrid_home)
    r = run_cli("model_config", "create", "m", "--script", "m.py", "--model", "f", "--param-file", path)
    refused(r, before, hpogrid_home, re.escape(message.format(path=path)))


# --- fixtures --------------------------------------------------------------------------------------

@pytest.fixture
def scripts(tmp_path):
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "m.py").write_text("def model(config):\n    return {'loss': config['x'] ** 2}\n")
    return folder


@pytest.fixture
def configs(run_cli):
    assert run_cli("model_config", "create", "m", "--script", "m.py", "--model", "model").exit_code == 0
    assert run_cli("search_space", "create", "sp", json.dumps(SPACE)).exit_code == 0
    assert run_cli("hpo_config", "create", "h", "--metric", "loss", "--mode", "min", "--trials", "2",
                   "--algorithm", "random").exit_code == 0


@pytest.fixture
def project(run_cli, scripts, configs):
    r = run_cli("project", "create", "p", "--scripts_path", scripts, "--model_config", "m",
                "--search_space", "sp", "--hpo_config", "h")
    assert r.exit_code == 0, r.output


# --- #6, #7, #15: scripts folders that cannot be copied -------------------------------------------

def _create(run_cli, scripts_path):
    return run_cli("project", "create", "p", "--scripts_path", scripts_path, "--model_config", "m",
                   "--search_space", "sp", "--hpo_config", "h")


@pytest.mark.parametrize("inside", ["projects", "model_config", ".", "projects/deep/er", "x"])
def test_a_scripts_folder_inside_the_hpogrid_home_is_refused(run_cli, hpogrid_home, scripts, configs, inside):
    folder = hpogrid_home / inside
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "m.py").write_text((scripts / "m.py").read_text())
    before = tree_snapshot(hpogrid_home)
    pattern = r"project\.scripts_path: .* (is inside|contains) the hpogrid home"
    refused(_create(run_cli, folder), before, hpogrid_home, pattern)
    refused(_create(run_cli, folder / "m.py"), before, hpogrid_home, pattern)  # one file of it, too


def test_a_scripts_folder_holding_the_hpogrid_home_deeper_down_is_refused(run_cli, tmp_path, monkeypatch, configs):
    """The home may be anywhere under the folder, and reached through a link to it."""
    import shutil

    outer = tmp_path / "work"
    shutil.copytree(tmp_path / "hpogrid-home", outer / "a" / "b" / "home")
    (outer / "m.py").write_text("def model(config):\n    return {'loss': 0}\n")
    (tmp_path / "via").symlink_to(outer / "a")
    for home in (outer / "a" / "b" / "home", tmp_path / "via" / "b" / "home"):
        monkeypatch.setenv("HPOGRID_HOME", str(home))
        before = tree_snapshot(outer)
        refused(_create(run_cli, outer), None, None, r"contains the hpogrid home")
        assert tree_snapshot(outer) == before


def _loop_self(d):
    (d / "loop").symlink_to(".")


def _loop_parent(d):
    (d / "sub").mkdir()
    (d / "sub" / "up").symlink_to("..")


def _loop_grandparent(d):
    (d / "a" / "b").mkdir(parents=True)
    (d / "a" / "b" / "top").symlink_to("../..")


def _loop_pair(d):
    (d / "a").mkdir()
    (d / "b").mkdir()
    (d / "a" / "to_b").symlink_to("../b")
    (d / "b" / "to_a").symlink_to("../a")


def _loop_absolute(d):
    (d / "deep" / "er").mkdir(parents=True)
    (d / "deep" / "er" / "root").symlink_to(d.resolve())


@pytest.mark.parametrize("make", [_loop_self, _loop_parent, _loop_grandparent, _loop_pair, _loop_absolute])
def test_a_symlink_loop_in_the_scripts_folder_is_one_line(run_cli, hpogrid_home, scripts, configs, make):
    make(scripts)
    before = tree_snapshot(hpogrid_home)
    refused(_create(run_cli, scripts), before, hpogrid_home,
            r"project\.scripts_path: link '[^']+' points at a folder that contains it .*never end; remove the link")


@pytest.mark.parametrize("links", [[("me", "me")], [("a", "b"), ("b", "a")], [("sub/x", "../y"), ("y", "sub/x")]])
def test_a_link_that_points_at_itself_is_one_line(run_cli, hpogrid_home, scripts, configs, links):
    (scripts / "sub").mkdir()
    for link, target in links:
        (scripts / link).symlink_to(target)
    before = tree_snapshot(hpogrid_home)
    refused(_create(run_cli, scripts), before, hpogrid_home, r"project\.scripts_path: link '[^']+' points at")


def test_project_update_refuses_a_loop_too(run_cli, hpogrid_home, project, scripts):
    _loop_parent(scripts)
    before = tree_snapshot(hpogrid_home)
    refused(run_cli("project", "update", "p", "--scripts_path", scripts), None, hpogrid_home,
            r"link 'sub/up' points at a folder that contains it")
    after = tree_snapshot(hpogrid_home)
    after.pop("projects/p/.lock", None)  # update takes the project's lock (an empty file) before it checks
    assert after == before


def test_a_link_to_a_sibling_folder_is_not_a_loop(run_cli, hpogrid_home, scripts, configs):
    (scripts / "lib").mkdir()
    (scripts / "lib" / "util.py").write_text("X = 1\n")
    (scripts / "also").symlink_to("lib")
    r = _create(run_cli, scripts)
    assert r.exit_code == 0, r.output
    assert (hpogrid_home / "projects" / "p" / "scripts" / "also" / "util.py").read_text() == "X = 1\n"


@pytest.mark.parametrize("name", [b"caf\xe9.py", b"\xff", b"sub/\xc3(.txt", b"ok\x80\x80name"])
def test_a_file_name_that_is_not_utf8_is_one_line_naming_it(run_cli, hpogrid_home, scripts, configs, name):
    import os

    parts = name.split(b"/")
    folder = os.fsencode(str(scripts))
    for part in parts[:-1]:
        folder = os.path.join(folder, part)
        os.mkdir(folder)
    with open(os.path.join(folder, parts[-1]), "wb") as fh:
        fh.write(b"data\n")
    shown = name.decode("utf-8", "backslashreplace")
    before = tree_snapshot(hpogrid_home)
    refused(_create(run_cli, scripts), before, hpogrid_home,
            rf"project\.scripts_path: the file name '{re.escape(shown)}' is not UTF-8")


# --- #10: deep input must not overflow Python's stack ---------------------------------------------

XY = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
      "y": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}

DEEP_CONSTRAINTS = [
    "-" * 990 + "x <= 1",                     # the issue's example
    "-" * 201 + "x <= 1",                     # just past the bound
    "-+" * 490 + "x <= 1",
    "x" + " + x" * 240 + " <= 1",              # a left-nested chain of sums
    "x" + "-y*" * 300 + "2 <= 1",
    "1 <= " + "- " * 480 + "y",                # on the right-hand side
    "~" * 900 + "x <= 1",                     # refused by the whitelist, after the depth check
    "not " * 240 + "x <= 1",
]


@pytest.mark.parametrize("text", DEEP_CONSTRAINTS, ids=range(len(DEEP_CONSTRAINTS)))
def test_a_deeply_nested_constraint_is_one_line(run_cli, hpogrid_home, text):
    assert len(text) <= 1000
    before = tree_snapshot(hpogrid_home)
    r = run_cli("search_space", "create", "s", json.dumps({**XY, "constraints": [text]}))
    refused(r, before, hpogrid_home, r"search_space\.constraints\[0\]: (is nested more than 200 levels deep|"
                                     r"is not an expression hpogrid can read|must compare)")


@pytest.mark.parametrize("text", ["-" * 150 + "x <= 1", "x" + " + x" * 150 + " <= 160", "- - - (x + y) <= 1"])
def test_constraints_nested_within_the_bound_still_read(run_cli, text):
    r = run_cli("search_space", "create", "s", json.dumps({**XY, "constraints": [text]}))
    assert r.exit_code == 0, r.output


def _chain(n: int, child_first: bool, cycle: bool = False) -> dict:
    """p0 exists when p1 is "on", p1 when p2 is "on", ...; the last closes a cycle if asked."""
    space = {}
    for i in range(n):
        spec = {"method": "categorical", "dimension": {"categories": ["on", "off"]}}
        if i + 1 < n or cycle:
            spec["when"] = {f"p{(i + 1) % n}": ["on"]}
        space[f"p{i}"] = spec
    return space if child_first else dict(reversed(list(space.items())))


@pytest.mark.parametrize("n", [400, 999, 1000])
@pytest.mark.parametrize("child_first", [True, False], ids=["child-first", "parent-first"])
def test_a_long_chain_of_conditions_reads(run_cli, n, child_first):
    r = run_cli("search_space", "create", "s", json.dumps(_chain(n, child_first)))
    assert r.exit_code == 0, r.output
    shown = json.loads(run_cli("search_space", "show", "s").output)
    assert shown["p0"]["when"] == {"p1": ["on"]} and "when" not in shown[f"p{n - 1}"]


@pytest.mark.parametrize("n", [3, 400, 999, 1000])
@pytest.mark.parametrize("child_first", [True, False], ids=["child-first", "parent-first"])
def test_a_long_cycle_of_conditions_is_one_line(run_cli, hpogrid_home, n, child_first):
    before = tree_snapshot(hpogrid_home)
    r = run_cli("search_space", "create", "s", json.dumps(_chain(n, child_first, cycle=True)))
    refused(r, before, hpogrid_home, r"search_space\.p\d+\.when\.p\d+: conditions form a cycle: p\d+ -> p\d+ -> ")
    if n > 10:
        assert f"({n} parameters)" in r.output and len(r.output) < 300


def test_a_cycle_at_the_end_of_a_long_chain_is_one_line(run_cli, hpogrid_home):
    space = _chain(990, child_first=True)
    space["q0"] = {"method": "categorical", "dimension": {"categories": ["on"]}, "when": {"q1": ["on"]}}
    space["q1"] = {"method": "categorical", "dimension": {"categories": ["on"]}, "when": {"q0": ["on"]}}
    space["p989"]["when"] = {"q0": ["on"]}
    before = tree_snapshot(hpogrid_home)
    refused(run_cli("search_space", "create", "s", json.dumps(space)), before, hpogrid_home,
            r"conditions form a cycle: q0 -> q1 -> q0$")


# --- #5, #12: enqueue takes what JSON and CSV users write; a malformed CSV is one line -------------

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


# --- #13: numeric options out of range are one usage line -----------------------------------------

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


# --- #3: categories mixing JSON scalar types survive every report ---------------------------------

MIXES = [
    [1.5, True],                              # the issue's example
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
