"""``hpogrid optimize``: one command from a script or a program to a study, on the pool; again
continues the study; a changed space is refused; a bad SPEC is one line."""
import signal
import subprocess
import sys
import time

import pytest

from hpogrid.study import load
from tests.conftest import tree_snapshot

TRAIN = '''
import argparse


def objective(config):
    return (config["lr"] - 0.01) ** 2 + config["layers"] + (0 if config["opt"] == "adam" else 1)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float)
    p.add_argument("--layers", type=int)
    p.add_argument("--opt")
    print("RESULT:", objective(vars(p.parse_args())))
'''
PARAMS = ("-p", "lr=loguniform:1e-5:1e-1", "--param", "layers=int:1:8", "--param", "opt=choice:adam,sgd")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "train.py").write_text(TRAIN)
    monkeypatch.chdir(folder)
    return folder


def _expected(params):
    return (params["lr"] - 0.01) ** 2 + params["layers"] + (0 if params["opt"] == "adam" else 1)


def test_python_target_twice_continues_the_study(run_cli, workdir):
    r = run_cli("optimize", "train.py:objective", *PARAMS, "--trials", 3, "--n_jobs", 2, "--seed", 1)
    assert r.exit_code == 0, r.output
    for line in ("model_config 'train_objective': created", "search_space 'train_objective': created",
                 "hpo_config 'train_objective': created", "project 'train_objective': created",
                 "study 'train_objective': new, 3 trials", "3 completed, 0 failed"):
        assert line in r.output
    r = run_cli("optimize", "train.py:objective", *PARAMS, "--trials", 2, "--n_jobs", 2, "--seed", 2)
    assert r.exit_code == 0, r.output
    assert "project 'train_objective': unchanged, reused" in r.output
    assert "continuing with 2 new trials after its 3" in r.output
    with load("train_objective") as study:
        trials = study.trials
        assert [t.state for t in trials] == ["COMPLETED"] * 5
        for t in trials:
            assert t.value == pytest.approx(_expected(t.params))
    # the derived names work with every other command
    assert run_cli("local_run", "train_objective", "--trials", 1).exit_code == 0


def test_program_target_gets_its_placeholders(run_cli, workdir):
    command = f"{sys.executable} train.py --lr ($lr) --layers=($layers) --opt ($opt)"
    r = run_cli("optimize", command, *PARAMS, "--trials", 3, "--n_jobs", 2, "--project", "prog")
    assert r.exit_code == 0, r.output
    with load("prog") as study:
        assert len(study.trials) == 3
        for t in study.trials:  # the program saw each trial's values: its result is computed from them
            assert t.state == "COMPLETED" and t.value == pytest.approx(_expected(t.params), rel=1e-5)


HELD = '''
import os, pathlib, time


def objective(config):
    here = pathlib.Path(os.environ["HELD_DIR"])
    (here / f"started-{os.getpid()}").touch()
    while not (here / "release").exists():  # held until the test releases it
        time.sleep(0.05)
    return config["x"]
'''


def test_an_interrupted_study_is_resumed(run_cli, workdir, monkeypatch):
    (workdir / "held.py").write_text(HELD)
    monkeypatch.setenv("HELD_DIR", str(workdir))
    command = ["held.py:objective", "--param", "x=uniform:0:1", "--trials", "2", "--n_jobs", "1"]
    proc = subprocess.Popen([sys.executable, "-m", "hpogrid", "optimize", *command], cwd=workdir,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not list(workdir.glob("started-*")):  # the first trial is running
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, output
    with load("held_objective") as study:
        (lost,) = study.trials
    assert lost.state == "INTERRUPTED"
    (workdir / "release").touch()
    r = run_cli(*["optimize", *command])
    assert r.exit_code == 0, r.output
    assert "its last run was interrupted (0 of 2 trials finished): resuming it (--resume)" in r.output
    with load("held_objective") as study:
        again = {t.uid: t for t in study.trials if not t.uid.startswith("enqueued")}
    assert len(again) == 2 and {t.state for t in again.values()} == {"COMPLETED"}
    assert again[lost.uid].params == lost.params  # the interrupted trial ran again with its values


def test_changed_params_are_refused_then_forced(run_cli, workdir, hpogrid_home):
    assert run_cli("optimize", "train.py:objective", *PARAMS, "--trials", 1).exit_code == 0
    before = tree_snapshot(hpogrid_home)
    changed = (*PARAMS[:-1], "opt=choice:adam,sgd,rmsprop")
    r = run_cli("optimize", "train.py:objective", *changed, "--trials", 1)
    assert r.exit_code == 1
    assert r.output.strip() == (
        "Error: project 'train_objective': exists with other settings (search_space: opt changed): give another "
        "--project NAME for a new study, or --force to replace it (the old project and its trials move to "
        "projects_backup)")
    assert tree_snapshot(hpogrid_home) == before
    r = run_cli("optimize", "train.py:objective", *changed, "--trials", 1, "--force")
    assert r.exit_code == 0, r.output
    assert "project 'train_objective': recreated" in r.output and "study 'train_objective': new, 1 trials" in r.output
    assert list((hpogrid_home / "projects_backup").iterdir())


@pytest.mark.parametrize("spec, message", [
    ("lr", "Error: --param: 'lr' is not NAME=SPEC"),
    ("lr=logunif:1e-5:1", "Error: --param lr: unknown method 'logunif'; accepted: NAME=uniform:LOW:HIGH |"),
    ("lr=uniform:1", "Error: --param lr: uniform takes uniform:LOW:HIGH (got 'uniform:1'); accepted:"),
    ("lr=uniform:a:1", "Error: --param lr: 'a' is not a number; accepted:"),
    ("lr=loguniform:1:2:3:4", "Error: --param lr: loguniform takes loguniform:LOW:HIGH[:BASE]"),
    ("lr=choice:", "Error: --param lr: choice needs values separated by commas"),
    ("lr=uniform:1:0", "Error: search_space.lr"),
])
def test_a_bad_spec_is_one_line(run_cli, workdir, hpogrid_home, spec, message):
    r = run_cli("optimize", "train.py:objective", "--param", spec)
    assert r.exit_code != 0
    assert len(r.output.strip().splitlines()) == 1 and r.output.startswith(message), r.output
    assert tree_snapshot(hpogrid_home) == {}


def test_the_omniopt_form_runs_as_written(run_cli, workdir):
    """README "OmniOpt and hpogrid side by side": positional ($x_N) placeholders follow the
    --param order, and the program's last RESULT line is the metric."""
    (workdir / "omni.py").write_text(
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('--out-layer1', type=int)\n"
        "p.add_argument('--batchsize', type=int)\na = p.parse_args()\n"
        "print('RESULT: 99')\nprint(f'RESULT: {a.out_layer1 * 1000 + a.batchsize}')\n")
    r = run_cli("optimize", f"{sys.executable} omni.py --out-layer1=($x_0) --batchsize=($x_1)",
                "--param", "out_layer1=choice:10,50,100", "--param", "batchsize=choice:8,16,32", "--trials", 3)
    assert r.exit_code == 0, r.output
    with load("omni") as study:
        for t in study.trials:
            assert t.value == t.params["out_layer1"] * 1000 + t.params["batchsize"]
