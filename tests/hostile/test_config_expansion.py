"""Issue #34 item 2 (and its class): a small YAML or JSON config never expands to a huge one, and a
value Python cannot hold is one line naming the file, for every command that reads a config file."""
import json
import re

import pytest

from tests.conftest import tree_snapshot
from tests.hostile._helpers import refused


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
    (100_000, 5, 9),   # the example: ~6 GB
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
