"""``hpogrid optimize --on slurm`` on a REAL single-node Slurm: the one command runs each trial
as a Slurm job, with a stored slurm_config attached."""
import sys

import pytest

from hpogrid.study import load

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("slurm_cluster")]

TRAIN = '''
import sys
x, n = float(sys.argv[1]), int(sys.argv[2])
print("RESULT:", (x - 0.3) ** 2 + n)
'''


def test_optimize_a_program_on_slurm(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(TRAIN)
    assert run_cli("slurm_config", "create", "fast", "--mem", "200M", "--time", "5", "--poll_interval",
                   "0.2").exit_code == 0
    r = run_cli("optimize", f"{sys.executable} train.py ($x) ($n)", "-p", "x=uniform:0:1", "-p", "n=int:1:3",
                "--trials", 2, "--n_jobs", 2, "--on", "slurm", "--slurm_config", "fast")
    assert r.exit_code == 0, r.output
    assert "This run (random, fifo): 2 completed, 0 failed" in r.output
    with load("train") as study:
        trials = study.trials
    assert {t.backend for t in trials} == {"slurm"} and len(trials) == 2
    for t in trials:
        assert t.value == pytest.approx((t.params["x"] - 0.3) ** 2 + t.params["n"], rel=1e-5)


OBJECTIVE = '''
def objective(config):
    return {"loss": (config["x"] - 0.3) ** 2}
'''


def test_optimize_a_python_function_on_slurm(run_cli, tmp_path, monkeypatch):
    """A Python target (``train.py:objective``) goes to Slurm packed as the project's script."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text(OBJECTIVE)
    assert run_cli("slurm_config", "create", "fast1", "--mem", "200M", "--time", "5", "--poll_interval",
                   "0.2").exit_code == 0
    r = run_cli("optimize", "model.py:objective", "-p", "x=uniform:0:1", "--trials", 2, "--n_jobs", 2,
                "--on", "slurm", "--slurm_config", "fast1")
    assert r.exit_code == 0, r.output
    assert "2 completed, 0 failed" in r.output
    with load("model_objective") as study:
        trials = study.trials
    assert {t.backend for t in trials} == {"slurm"} and len(trials) == 2
    for t in trials:
        assert t.value == pytest.approx((t.params["x"] - 0.3) ** 2, rel=1e-5)


def test_the_notebook_api_runs_a_closure_on_slurm():
    """``hpogrid.optimize(func, space, backend="slurm")`` with a function that has no module to
    pack (a closure, as a notebook's function is): README "In a notebook" promises it is pickled
    by value and runs in Slurm jobs too."""
    import hpogrid

    centre = 0.3

    def bowl(config):
        return {"loss": (config["x"] - centre) ** 2}

    study = hpogrid.optimize(bowl, {"x": hpogrid.space.uniform(0, 1)}, trials=2, algorithm="random",
                             backend="slurm", n_jobs=2, project="nb_slurm")
    trials = study.trials
    assert len(trials) == 2 and {t.state for t in trials} == {"COMPLETED"}
    assert {t.backend for t in trials} == {"slurm"}
    for t in trials:
        assert t.value == pytest.approx((t.params["x"] - 0.3) ** 2, rel=1e-5)
    assert study.best_trial.value == min(t.value for t in trials)
    assert study.best_trial.uid in {t.uid for t in load("nb_slurm").trials}  # the stored study
