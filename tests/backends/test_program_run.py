"""``local_run`` with a black-box program, nested substitution and max_failures (real Ray)."""
import json
import sys

import pytest

from hpogrid import paths
from hpogrid.backends import RunOptions, run_local
from hpogrid.project import load_project
from hpogrid.study import load

pytestmark = pytest.mark.slow

TRAIN = """
import argparse, json, os
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
p.add_argument("--layers", type=int)
p.add_argument("--tag")
a = p.parse_args()
print("RESULT: 0.0")
print(f"RESULT: {a.lr * a.layers}")
print("RESULT tag_len:", len(a.tag))
json.dump({"argv_tag": a.tag}, open("seen.json", "w"))
"""
SPACE = {"lr": {"method": "loguniform", "dimension": {"low": 1e-3, "high": 1}},
         "layers": {"method": "uniformint", "dimension": {"low": 1, "high": 4}},
         "tag": {"method": "categorical", "dimension": {"categories": ["a b", "x;rm -rf /", "$(id)"]}}}


def _setup(run_cli, tmp_path, command, script=TRAIN, space=SPACE, hpo=()):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(script)
    assert run_cli("model_config", "create", "sim", "--command", command, "--timeout", "60").exit_code == 0
    run_cli("search_space", "create", "sp", json.dumps(space))
    r = run_cli("hpo_config", "create", "h", "--metric", "loss", "--mode", "min", "--scheduler", "fifo", *hpo)
    assert r.exit_code == 0, r.output
    r = run_cli("project", "create", "prog", "--scripts_path", tmp_path / "src", "--model_config", "sim",
                "--search_space", "sp", "--hpo_config", "h")
    assert r.exit_code == 0, r.output


def test_program_objective_end_to_end(run_cli, tmp_path):
    _setup(run_cli, tmp_path, f"{sys.executable} train.py --lr {{lr}} --layers {{layers}} --tag {{tag}}")
    r = run_cli("local_run", "prog", "--trials", "6", "--seed", "3")
    assert r.exit_code == 0, r.output
    trials = load("prog").trials
    assert [t.state for t in trials] == ["COMPLETED"] * 6
    for t in trials:
        assert t.value == pytest.approx(t.params["lr"] * t.params["layers"])  # the LAST plain RESULT wins
        assert t.metrics["tag_len"] == len(t.params["tag"])
        trial_dir = paths.project_dir("prog") / "trials" / "prog" / t.uid
        assert json.loads((trial_dir / "seen.json").read_text())["argv_tag"] == t.params["tag"]
        assert (trial_dir / "stdout.log").is_file() and (trial_dir / "stderr.log").is_file()




NESTED = """
def custom_updates(trial_config, base_config):
    trial_config["model"]["hidden"] = [64] * trial_config["model"]["layers"]
    return trial_config

def objective(config):
    assert config["optimizer"]["type"] == "adam"
    return {"loss": config["optimizer"]["learning_rate"], "n_hidden": len(config["model"]["hidden"]),
            "layers": config["model"]["layers"]}
"""


def test_nested_substitution_and_custom_updates(run_cli, tmp_path):
    from tests.backends.helpers import make_project

    space = {"optimizer:learning_rate": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
             "model:layers": {"method": "uniformint", "dimension": {"low": 1, "high": 3}}}
    param = {"optimizer": {"learning_rate": 5.0, "type": "adam"}, "model": {"layers": 9, "hidden": []}}
    name = make_project(tmp_path, NESTED, space, param=param, trials=4, scheduler="fifo")
    run_local(load_project(name), RunOptions(progress=False))
    for t in load(name).trials:
        assert t.state == "COMPLETED", t.error
        assert t.value == pytest.approx(t.params["optimizer:learning_rate"])
        assert t.metrics["layers"] == t.params["model:layers"] == t.metrics["n_hidden"]


def test_missing_nested_path_fails_before_any_trial(run_cli, tmp_path):
    from tests.backends.helpers import make_project

    space = {"optimizer:lr": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}
    name = make_project(tmp_path, NESTED, space, param={"optimizer": {"learning_rate": 1}}, trials=2)
    r = run_cli("local_run", name)
    assert r.exit_code == 1 and "search_space.optimizer:lr: model_config param has no key 'lr'" in r.output
    assert not paths.study_db(name).exists()


def test_a_program_flooding_stdout_keeps_the_head_and_tail_of_its_log(run_cli, tmp_path):
    """5 MB on stdout: the trial's log keeps its first and last MB and says what was cut."""
    flood = ("import sys\nsys.stdout.write('first line\\n')\n"
             "for i in range(50000): sys.stdout.write(f'{i:08d} ' + 'x' * 91 + '\\n')\n"
             "print('RESULT: 1.5')\n")
    _setup(run_cli, tmp_path, f"{sys.executable} flood.py", script="", space={"x": SPACE["lr"]})
    (paths.project_dir("prog") / "scripts" / "flood.py").write_text(flood)
    r = run_cli("local_run", "prog", "--trials", "1")
    assert r.exit_code == 0, r.output
    [t] = load("prog").trials
    assert t.state == "COMPLETED" and t.value == 1.5  # parsed from the whole output, before the cut
    log = paths.project_dir("prog") / "trials" / "prog" / t.uid / "stdout.log"
    text = log.read_text()
    assert 2 * 2 ** 20 - 400 <= len(text) < 2 * 2 ** 20 + 400  # 5 MB -> 2 MB (whole lines) and one line
    assert text.startswith("first line\n") and text.endswith("RESULT: 1.5\n")
    assert "MB (" in text and "bytes) cut from the middle of this log" in text
