"""Configs from files (issue 17): every config type from JSON or YAML, JSON-valued options from
a file (model_config --param-file), the same stored config whichever language was used, and
one-line errors that change nothing on disk."""
import json

import pytest

from tests.conftest import SPACE_EX1, tree_snapshot

HPO = {"algorithm": "optuna", "metric": "loss", "mode": "min", "trials": 12,
       "algorithm_param": {"sampler": "tpe", "n_startup_trials": 3},
       "scheduler": "fifo", "scheduler_param": {"max_concurrent": 2}, "stop": {"training_iteration": 5}}
HPO_YAML = """\
# the same hpo_config as HPO, as an optuna user writes it
algorithm: optuna
metric: loss
mode: min
trials: 12
algorithm_param:
  sampler: tpe
  n_startup_trials: 3
scheduler: fifo
scheduler_param: {max_concurrent: 2}
stop:
  training_iteration: 5
"""
SPACE_YAML = """\
height:
  method: uniform
  dimension: {low: -100, high: 100}
width:
  method: uniform
  dimension:
    low: 0
    high: 20
"""
# an o2tuner/echo-opt model config, kept as the user wrote it (anchors, dates, numeric keys)
PARAM_YAML = """\
defaults: &defaults
  learning_rate: 0.1
  type: adam
optimizer:
  <<: *defaults
  type: sgd
layers: {1: 64, 2: 32}
dataset: /data/run3
taken: 2024-05-01
flags: [true, null, 1.5e-3]
"""
PARAM = {"defaults": {"learning_rate": 0.1, "type": "adam"},
         "optimizer": {"learning_rate": 0.1, "type": "sgd"},
         "layers": {"1": 64, "2": 32}, "dataset": "/data/run3", "taken": "2024-05-01", "flags": [True, None, 0.0015]}


def _show(run_cli, kind, name):
    r = run_cli(kind, "show", name)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_hpo_config_from_yaml_and_json_files_is_stored_identically(run_cli, tmp_path, hpogrid_home):
    (tmp_path / "hpo.yaml").write_text(HPO_YAML)
    (tmp_path / "hpo.json").write_text(json.dumps(HPO))
    assert run_cli("hpo_config", "create", "from_yaml", "--file", tmp_path / "hpo.yaml").exit_code == 0
    assert run_cli("hpo_config", "create", "from_json", "--file", tmp_path / "hpo.json").exit_code == 0
    stored = {p.name: p.read_bytes() for p in (hpogrid_home / "hpo").iterdir()}
    assert stored["from_yaml.json"] == stored["from_json.json"]
    shown = _show(run_cli, "hpo_config", "from_yaml")
    assert {k: shown[k] for k in HPO} == HPO


def test_every_config_type_takes_a_yaml_file(run_cli, tmp_path):
    files = {"grid_config": "site: [A, B]\nretry: true\n", "slurm_config": "cpus: 2\nmem: 4G\ntime: '30'\n",
             "model_config": "script: train.py\nmodel: train\nparam: {epochs: 3}\n"}
    for kind, text in files.items():
        (tmp_path / f"{kind}.yml").write_text(text)
        r = run_cli(kind, "create", "c", "--file", tmp_path / f"{kind}.yml")
        assert r.exit_code == 0, r.output
    assert _show(run_cli, "grid_config", "c")["site"] == ["A", "B"]
    assert _show(run_cli, "slurm_config", "c")["time"] == "30"
    assert _show(run_cli, "model_config", "c")["param"] == {"epochs": 3}
    (tmp_path / "space.yaml").write_text(SPACE_YAML)
    assert run_cli("search_space", "create", "s", "--file", tmp_path / "space.yaml").exit_code == 0
    assert _show(run_cli, "search_space", "s") == SPACE_EX1


def test_options_override_the_file_and_update_reads_a_file(run_cli, tmp_path):
    (tmp_path / "hpo.yaml").write_text(HPO_YAML)
    assert run_cli("hpo_config", "create", "h", "--file", tmp_path / "hpo.yaml", "--trials", "40").exit_code == 0
    assert _show(run_cli, "hpo_config", "h")["trials"] == 40
    (tmp_path / "more.yaml").write_text("metric: auc\nmode: max\n")
    assert run_cli("hpo_config", "update", "h", "--file", tmp_path / "more.yaml").exit_code == 0
    cfg = _show(run_cli, "hpo_config", "h")
    assert (cfg["metric"], cfg["mode"], cfg["trials"]) == ("auc", "max", 40)


@pytest.mark.parametrize("suffix", ["yaml", "json"])
def test_param_file_is_the_users_model_config_unchanged(run_cli, tmp_path, suffix):
    path = tmp_path / f"model.{suffix}"
    path.write_text(PARAM_YAML if suffix == "yaml" else json.dumps(PARAM))
    r = run_cli("model_config", "create", "m", "--script", "train.py", "--model", "train", "--param-file", path)
    assert r.exit_code == 0, r.output
    assert _show(run_cli, "model_config", "m")["param"] == PARAM
    # the underscore spelling, and update with a file
    (tmp_path / "p2.yaml").write_text("epochs: 4\n")
    assert run_cli("model_config", "update", "m", "--param_file", tmp_path / "p2.yaml").exit_code == 0
    assert _show(run_cli, "model_config", "m")["param"] == {"epochs": 4}


def test_yaml_numbers_and_words_mean_what_they_mean_in_json(run_cli, tmp_path):
    """PyYAML reads YAML 1.1, where 1e-3 is text, 012 is octal and on/no are booleans: a
    physicist's learning rate must arrive as the number they wrote."""
    (tmp_path / "p.yaml").write_text("lr: 1e-3\nwd: 5E-5\nbatch: 064\nmode: on\nuse_gpu: no\nrates: [1e-4, .5, -2]\n")
    r = run_cli("model_config", "create", "m", "--script", "train.py", "--model", "train",
                "--param-file", tmp_path / "p.yaml")
    assert r.exit_code == 0, r.output
    assert _show(run_cli, "model_config", "m")["param"] == {
        "lr": 0.001, "wd": 5e-5, "batch": 64, "mode": "on", "use_gpu": "no", "rates": [0.0001, 0.5, -2]}
    (tmp_path / "s.yaml").write_text("lr:\n  method: loguniform\n  dimension: {low: 1e-5, high: 1e-1}\n")
    r = run_cli("search_space", "create", "s", "--file", tmp_path / "s.yaml")
    assert r.exit_code == 0, r.output
    assert _show(run_cli, "search_space", "s")["lr"]["dimension"] == {"low": 1e-5, "high": 0.1}


def test_json_options_of_hpo_config_from_files(run_cli, tmp_path):
    (tmp_path / "algo.yaml").write_text("sampler: tpe\nn_startup_trials: 4\n")
    (tmp_path / "sched.json").write_text('{"max_concurrent": 3}')
    r = run_cli("hpo_config", "create", "h", "--algorithm", "optuna", "--algorithm-param-file", tmp_path / "algo.yaml",
                "--scheduler_param_file", tmp_path / "sched.json")
    assert r.exit_code == 0, r.output
    cfg = _show(run_cli, "hpo_config", "h")
    assert cfg["algorithm_param"] == {"sampler": "tpe", "n_startup_trials": 4}
    assert cfg["scheduler_param"] == {"max_concurrent": 3}
    help_text = run_cli("hpo_config", "create", "--help").output
    assert "--algorithm_param_file" in help_text and "--stop-file" in help_text


BAD = [
    ("bad.yaml", "a: 1\nb: [1, 2\n",
     "Error: hpo_config: invalid YAML in {path}: expected ',' or ']', but got '<stream end>' (line 3, column 1; "
     "a flow sequence began on line 2)"),
    ("bad.yaml", "metric: loss\n  mode: min\n", "Error: hpo_config: invalid YAML in {path}: mapping values are "
     "not allowed here (line 2, column 7)"),
    ("dup.yaml", "metric: loss\nmetric: auc\n", "Error: hpo_config: invalid YAML in {path}: duplicate key 'metric' "
     "(line 2)"),
    ("nan.yaml", "stop: {loss: .nan}\n", "Error: hpo_config: invalid YAML in {path}: nan is not a JSON value "
     "(use a number or null)"),
    ("list.yaml", "- a\n- b\n", "Error: hpo_config: {path} must hold a mapping of keys to values (it holds a list)"),
    ("empty.yaml", "", "Error: hpo_config: {path} must hold a mapping of keys to values (it holds nothing)"),
    ("bin.yaml", "x: !!binary aGk=\n", "Error: hpo_config: invalid YAML in {path}: binary values are not JSON "
     "(line 1)"),
    ("deep.yaml", "a: " + "[" * 70 + "]" * 70 + "\n", "Error: hpo_config: invalid YAML in {path}: nested more than "
     "64 levels deep"),
    ("bomb.yaml", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefg", "bcdefgh")),
     "Error: hpo_config: invalid YAML in {path}: expands to more than 1000000 values (aliases repeating aliases?)"),
    ("latin1.yaml", b"metric: \xe9\n", "Error: hpo_config: {path} is not UTF-8 (byte 0xe9 at offset 8); save it "
     "as UTF-8"),
    ("bad.json", '{"metric": "loss",}', "Error: hpo_config: invalid JSON in {path}: Expecting property name "
     "enclosed in double quotes (line 1, column 19)"),
    ("unknown.yaml", "metrik: loss\n", "Error: hpo_config.metrik: unknown option; allowed: algorithm, metric, mode, "
     "scheduler, trials, log_dir, verbose, stop, scheduler_param, algorithm_param, resource, extra_metrics, "
     "max_failures, max_retries, retry_on, failure_rules, constraints, timeout, timeout_action, max_cost, target, "
     "patience, min_delta"),
]


@pytest.mark.parametrize("name, content, message", BAD, ids=[b[0] + str(i) for i, b in enumerate(BAD)])
def test_bad_files_are_one_line_errors_and_nothing_is_written(run_cli, tmp_path, hpogrid_home, name, content,
                                                              message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = tree_snapshot(hpogrid_home)
    r = run_cli("hpo_config", "create", "h", "--file", path)
    assert r.exit_code == 1
    assert r.output.strip() == message.format(path=path)
    assert tree_snapshot(hpogrid_home) == before


def test_a_yaml_byte_order_mark_is_accepted(run_cli, tmp_path):
    (tmp_path / "bom.yaml").write_bytes("\ufeffmetric: loss\n".encode())
    assert run_cli("hpo_config", "create", "h", "--file", tmp_path / "bom.yaml").exit_code == 0
    assert _show(run_cli, "hpo_config", "h")["metric"] == "loss"


def test_option_and_its_file_twin_together_is_a_usage_error(run_cli, tmp_path, hpogrid_home):
    (tmp_path / "p.yaml").write_text("a: 1\n")
    r = run_cli("model_config", "create", "m", "--script", "t.py", "--model", "f", "--param", "{}",
                "--param-file", tmp_path / "p.yaml")
    assert r.exit_code == 2 and "give --param or --param-file, not both" in r.output
    assert not (hpogrid_home / "model").exists()
    r = run_cli("model_config", "create", "m", "--script", "t.py", "--model", "f", "--param-file",
                tmp_path / "missing.yaml")
    assert r.exit_code == 1
    missing = tmp_path / "missing.yaml"
    assert r.output.strip() == f"Error: model_config.param: cannot read {missing}: No such file or directory"
