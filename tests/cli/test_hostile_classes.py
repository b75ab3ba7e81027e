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
