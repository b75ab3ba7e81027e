"""One trial outside Ray Tune (the payload of Slurm jobs and the fake backend's trials)."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hpogrid.objective import standalone as _exec


def _run_payload(tmp_path: Path, script: str, model: str = "objective", stop=None, config=None):
    scripts = tmp_path / "scripts"
    scripts.mkdir(exist_ok=True)
    (scripts / "train.py").write_text(textwrap.dedent(script))
    trial = tmp_path / "trial"
    trial.mkdir()
    _exec.write_json(trial / _exec.TRIAL_FILE, {
        "uid": "u1", "study": "s", "scripts_dir": str(scripts), "script": "train.py", "model": model,
        "metric": "loss", "mode": "min", "stop": stop or {"training_iteration": 1}, "config": config or {"x": 2}})
    proc = subprocess.run([sys.executable, "-m", _exec.__name__, str(trial)], capture_output=True, text=True,
                          cwd=trial, timeout=120)
    return proc.returncode, _exec.read_result(trial), proc


def test_payload_function_returning_a_number(tmp_path):
    rc, result, _ = _run_payload(tmp_path, "def objective(config):\n    return config['x'] * 3\n")
    assert rc == 0 and result["status"] == "completed" and result["metrics"]["loss"] == 6
    assert result["history"][0]["training_iteration"] == 1 and result["error"] is None


def test_payload_tune_report_outside_tune_is_recorded_until_stop(tmp_path):
    script = """
    import warnings
    warnings.simplefilter("error")  # Ray's "report outside a session" warning would fail the trial

    def objective(config):
        from ray import tune  # imported inside the function: the session is put in place anyway
        for i in range(1, 6):
            tune.report({"loss": 1.0 / i, "trial": tune.get_context().get_trial_id()})
    """
    rc, result, proc = _run_payload(tmp_path, script, stop={"training_iteration": 3})
    assert rc == 0, proc.stderr
    assert [h["loss"] for h in result["history"]] == [1.0, 0.5, pytest.approx(1 / 3)]
    assert result["history"][0]["trial"] == "u1"


def test_payload_errors_keep_the_traceback_and_exit_1(tmp_path):
    rc, result, _ = _run_payload(tmp_path, "def objective(config):\n    raise KeyError('nope')\n")
    assert rc == 1 and result["status"] == "failed" and result["error"].endswith("KeyError: 'nope'")
    (tmp_path / "nan").mkdir()
    rc, result, _ = _run_payload(tmp_path / "nan", "def objective(config):\n    return float('nan')\n")
    assert rc == 1 and "returned NaN for metric 'loss'" in result["error"]


def test_payload_trainable_class_stops_on_criteria_and_keeps_its_logdir_in_the_trial(tmp_path):
    script = """
    from ray import tune

    class Model(tune.Trainable):
        def setup(self, config):
            self.x = config["x"]

        def step(self):
            return {"loss": self.x / (self.iteration + 1), "logdir": self.logdir}
    """
    rc, result, proc = _run_payload(tmp_path, script, model="Model", stop={"training_iteration": 4})
    assert rc == 0, proc.stderr
    assert [h["training_iteration"] for h in result["history"]] == [1, 2, 3, 4]
    assert result["metrics"]["loss"] == pytest.approx(0.5)
    assert result["metrics"]["logdir"] == str(tmp_path / "trial" / "trainable")
