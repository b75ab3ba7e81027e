"""What a hostile (or unlucky) user can hand hpogrid: each mistake gets one line naming the
field, exit code != 0, and nothing on disk changes; the things that are not mistakes work."""
import json
import os

import pytest

from tests.conftest import tree_snapshot

DEEP = "[" * 5000 + "]" * 5000
SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}


@pytest.fixture
def base(run_cli, hpogrid_home, tmp_path):
    """A model, a space and an hpo_config to build projects from; the scripts folder."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "m.py").write_text("def model(config):\n    return {'loss': config['x'] ** 2}\n")
    assert run_cli("model_config", "create", "m", "--script", "m.py", "--model", "model").exit_code == 0
    assert run_cli("search_space", "create", "sp", json.dumps(SPACE)).exit_code == 0
    assert run_cli("hpo_config", "create", "h", "--metric", "loss", "--mode", "min", "--trials", "2",
                   "--scheduler", "fifo").exit_code == 0
    return scripts


def _refused(result, before, home, pattern):
    lines = result.output.strip().splitlines()
    assert result.exit_code != 0, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    import re

    assert re.search(pattern, lines[0]), lines[0]
    assert tree_snapshot(home) == before


OPTION_CASES = [
    (["hpo_config", "create", "x", "--stop", DEEP], r"hpo_config\.stop: invalid JSON: nested more than 64"),
    (["model_config", "create", "x", "--script", "m.py", "--model", "f", "--param", DEEP],
     r"model_config\.param: invalid JSON: nested more than 64"),
    (["model_config", "create", "x", "--script", "m.py", "--model", "f", "--param", '{"a": NaN}'],
     r"model_config\.param: invalid JSON: NaN is not a JSON value"),
    (["hpo_config", "create", "x", "--resource", '{"tpu": 1}'],
     r"hpo_config\.resource: unknown resource 'tpu'; allowed: cpu, gpu, or custom:NAME"),
    (["hpo_config", "create", "x", "--resource", '{"cpu": -1}'], r"hpo_config\.resource: cpu must be a number >= 0"),
    (["hpo_config", "create", "x", "--algorithm", "hyperopt", "--algorithm_param", '{"n_startup": 1}'],
     r"hpo_config\.algorithm_param: key 'n_startup' is unknown for 'hyperopt'; allowed: .*n_initial_points"),
    (["hpo_config", "create", "x", "--algorithm", "optuna", "--algorithm_param", '{"sampler": "smac"}'],
     r"hpo_config\.algorithm_param: key 'sampler' is 'smac'; choose one of: tpe, gp, cmaes, qmc, nsga2, random"),
    (["hpo_config", "create", "x", "--algorithm", "optuna", "--algorithm_param", '{"sampler": "gp", "gamma": 1}'],
     r"key 'gamma' is unknown for 'optuna sampler gp'; allowed: n_startup_trials"),
    (["hpo_config", "create", "x", "--algorithm", "optuna", "--algorithm_param", '{"seed": 1}'],
     r"hpo_config\.algorithm_param: key 'seed' is set by hpogrid"),
    (["hpo_config", "create", "x", "--scheduler", "median", "--scheduler_param", '{"grace": 1}'],
     r"hpo_config\.scheduler_param: key 'grace' is unknown for 'median'; allowed: .*grace_period"),
    (["hpo_config", "create", "x", "--scheduler", "bohbhyperband", "--algorithm", "random"],
     r"hpo_config\.scheduler: scheduler 'bohbhyperband' runs only with algorithm 'bohb'"),
    (["hpo_config", "create", "x", "--scheduler", "pbt", "--algorithm", "optuna"],
     r"hpo_config\.scheduler: scheduler 'pbt' runs only with algorithm 'random' or 'tune' or 'auto'"),
    (["grid_config", "create", "x", "--extra", '{"bogus": 1}'],
     r"grid_config\.extra: 'bogus' is not a PanDA task parameter .*allowed: .*ramCount"),
    (["grid_config", "create", "x", "--extra", '{"taskName": "mine"}'], r"'taskName' .*\(hpogrid sets it\)"),
    (["search_space", "create", "x", json.dumps({f"p{i}": SPACE["x"] for i in range(1001)})],
     r"search_space: 1001 parameters; at most 1000"),
]


@pytest.mark.parametrize("argv, pattern", OPTION_CASES, ids=[" ".join(c[0][:2] + c[0][3:4]) for c in OPTION_CASES])
def test_a_bad_option_is_one_line_naming_the_field(run_cli, hpogrid_home, base, argv, pattern):
    before = tree_snapshot(hpogrid_home)
    _refused(run_cli(*argv), before, hpogrid_home, pattern)


def test_search_space_files_utf8_with_a_bom_yes_other_encodings_and_huge_files_no(run_cli, hpogrid_home, tmp_path):
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(SPACE).encode())
    assert run_cli("search_space", "create", "ok", "--file", bom).exit_code == 0
    before = tree_snapshot(hpogrid_home)
    latin = tmp_path / "latin1.json"
    latin.write_bytes('{"x": {"method": "categorical", "dimension": {"categories": ["caf\xe9"]}}}'.encode("latin-1"))
    _refused(run_cli("search_space", "create", "bad", "--file", latin), before, hpogrid_home,
             r"search_space: .*latin1\.json is not UTF-8 \(byte 0xe9 at offset \d+\)")
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps({"x": {"method": "categorical", "dimension": {"categories": ["a" * 100] * 50000}}}))
    _refused(run_cli("search_space", "create", "big", "--file", huge), before, hpogrid_home,
             r"search_space: .*huge\.json is \d+\.\d MB; at most 4 MB")


def _link_out(scripts, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    (scripts / "pw").symlink_to(secret)


def _fifo(scripts, tmp_path):
    os.mkfifo(scripts / "pipe")


def _dangling(scripts, tmp_path):
    (scripts / "gone").symlink_to(tmp_path / "nothing-here")


SCRIPT_CASES = [
    (_link_out, r"link 'pw' points outside the scripts folder \(to '.*secret\.txt'\)"),
    (_fifo, r"'pipe' is not a regular file \(a pipe, socket or device\)"),
    (_dangling, r"link 'gone' points at '.*nothing-here', which does not exist"),
]


@pytest.mark.parametrize("spoil, pattern", SCRIPT_CASES, ids=["link-outside", "fifo", "dangling-link"])
def test_a_scripts_folder_that_cannot_be_packed_is_refused_before_copying(run_cli, hpogrid_home, base, tmp_path,
                                                                            spoil, pattern):
    spoil(base, tmp_path)
    before = tree_snapshot(hpogrid_home)
    _refused(run_cli("project", "create", "p", "--scripts_path", base, "--model_config", "m", "--search_space",
                     "sp", "--hpo_config", "h"), before, hpogrid_home, r"project\.scripts_path: " + pattern)


def test_a_link_inside_the_scripts_folder_is_copied_as_its_file(run_cli, hpogrid_home, base):
    (base / "alias.py").symlink_to(base / "m.py")
    result = run_cli("project", "create", "p", "--scripts_path", base, "--model_config", "m", "--search_space", "sp",
                     "--hpo_config", "h")
    assert result.exit_code == 0, result.output
    copied = hpogrid_home / "projects" / "p" / "scripts" / "alias.py"
    assert not copied.is_symlink() and copied.read_text() == (base / "m.py").read_text()


def test_the_hpogrid_home_as_scripts_folder_is_refused(run_cli, hpogrid_home, base):
    before = tree_snapshot(hpogrid_home)
    _refused(run_cli("project", "create", "p", "--scripts_path", hpogrid_home, "--model_config", "m",
                     "--search_space", "sp", "--hpo_config", "h"), before, hpogrid_home,
             r"project\.scripts_path: .* contains the hpogrid home")


def test_scripts_larger_than_a_grid_sandbox_are_a_warning(run_cli, hpogrid_home, base):
    (base / "data.bin").write_bytes(os.urandom(11 * 2 ** 20))
    result = run_cli("project", "create", "p", "--scripts_path", base, "--model_config", "m", "--search_space", "sp",
                     "--hpo_config", "h")
    assert result.exit_code == 0
    assert "Warning: the scripts are 11.0 MB; a grid sandbox takes at most 10 MB" in result.output


def test_an_hpogrid_home_that_is_a_file_is_one_line(run_cli, tmp_path, monkeypatch):
    home = tmp_path / "home-file"
    home.write_text("not a folder")
    monkeypatch.setenv("HPOGRID_HOME", str(home))
    result = run_cli("hpo_config", "create", "h")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert result.output == f"Error: HPOGRID_HOME: {home} is not a folder; point HPOGRID_HOME at a folder (it is " \
                            "created if missing)\n"
    assert home.read_text() == "not a folder"


def test_a_project_with_a_corrupt_config_can_be_removed_and_says_why_it_cannot_be_used(run_cli, hpogrid_home, base):
    assert run_cli("project", "create", "p", "--scripts_path", base, "--model_config", "m", "--search_space", "sp",
                   "--hpo_config", "h").exit_code == 0
    (hpogrid_home / "projects" / "p" / "config" / "config.json").write_text("{broken")
    before = tree_snapshot(hpogrid_home)
    _refused(run_cli("project", "update", "p", "--hpo_config", "h"), before, hpogrid_home,
             r"project 'p': cannot read .*config\.json: .*'hpogrid project recreate p \.\.\.' rebuilds it")
    result = run_cli("project", "remove", "p", "--yes")
    assert result.exit_code == 0 and not (hpogrid_home / "projects" / "p").exists()
