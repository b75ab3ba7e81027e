"""The one trial runner: every kind reports through the reporter seam and obeys its decision."""
import textwrap
from pathlib import Path
from typing import List

import pytest

from hpogrid.objective import Decision, Model, ModelKind, Reporter, Step, TrialRunner, TrialSpec


class StopAt(Reporter):
    """Says STOP at iteration ``at`` (as an early-stopping scheduler would)."""

    def __init__(self, at: int):
        self.at = at
        self.steps: List[Step] = []

    def report(self, step: Step) -> Decision:
        self.steps.append(step)
        return Decision.STOP if step.iteration >= self.at else Decision.CONTINUE


def _spec(tmp_path: Path, script: str, kind: ModelKind, entry="objective", **fields) -> TrialSpec:
    (tmp_path / "m.py").write_text(textwrap.dedent(script))
    if kind is ModelKind.PROGRAM:
        model = Model(kind, tmp_path, command=script.strip())
    else:
        model = Model(kind, tmp_path, script="m.py", entry=entry)
    return TrialSpec(uid="u1", folder=tmp_path / "trial", model=model, config={"x": 2}, metric="loss", **fields)


def test_a_define_by_run_model_is_stopped_by_the_reporters_decision(tmp_path):
    script = """
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        for i in range(10):
            trial.report(x + i)
            if trial.should_prune():
                raise AssertionError("report() ends the model when the trial stops")
        return 99
    """
    spec = _spec(tmp_path, script, ModelKind.DEFINE_BY_RUN, values={"x": 0.5}, seed=1,
                 distributions={"x": {"type": "float", "low": 0.0, "high": 1.0, "log": False, "step": None}})
    reporter = StopAt(3)
    runner = TrialRunner(spec, reporter)
    assert runner.run() is None
    assert [s.metrics for s in reporter.steps] == [{"loss": 0.5}, {"loss": 1.5}, {"loss": 2.5}]
    assert [h["training_iteration"] for h in runner.history] == [1, 2, 3]
    assert runner.decision is Decision.STOP and runner.trial.params == {"x": 0.5}


def test_a_trainable_class_ends_its_train_loop_on_stop(tmp_path):
    script = """
    from ray import tune

    class Net(tune.Trainable):
        def step(self):
            return {"loss": 1.0 / (self.iteration + 1)}
    """
    spec = _spec(tmp_path, script, ModelKind.TRAINABLE, entry="Net")
    runner = TrialRunner(spec, StopAt(2))
    runner.run()
    assert [h["training_iteration"] for h in runner.history] == [1, 2]


def test_stop_criteria_stop_a_trial_whatever_the_reporter_says(tmp_path):
    script = """
    from ray import tune

    def objective(config):
        for i in range(10):
            tune.report({"loss": float(i)})
    """
    spec = _spec(tmp_path, script, ModelKind.FUNCTION, stop={"loss": 4})
    runner = TrialRunner(spec, StopAt(100))
    from hpogrid.objective._session import serve

    serve(runner)
    runner.run()
    assert [h["loss"] for h in runner.history] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_a_returned_result_is_the_last_iteration_or_the_reporters_final(tmp_path):
    spec = _spec(tmp_path, "def objective(config):\n    return config['x'] * 3\n", ModelKind.FUNCTION)
    reporter = StopAt(100)
    runner = TrialRunner(spec, reporter)
    assert runner.run() is None and runner.history[-1]["loss"] == 6 and len(reporter.steps) == 1

    class Returning(StopAt):
        returns_final = True

        def final(self, runner, metrics):
            return {**metrics, "final": True}

    assert TrialRunner(spec, Returning(100)).run() == {"loss": 6.0, "final": True}


def test_a_program_reports_its_result_lines(tmp_path):
    import sys

    (tmp_path / "p.py").write_text("print('RESULT: 1.5')\n")
    spec = _spec(tmp_path, f"{sys.executable} p.py", ModelKind.PROGRAM)
    runner = TrialRunner(spec, StopAt(100))
    runner.run()
    assert runner.history[-1]["loss"] == 1.5 and (spec.folder / "stdout.log").is_file()


def test_under_ray_the_final_result_carries_what_the_model_used_and_its_annotations(tmp_path):
    import json

    from hpogrid.objective import ANNOTATIONS_KEY
    from hpogrid.objective._tune import TuneReporter
    from hpogrid.search.define_by_run import USED_KEY

    script = """
    from hpogrid.trial import annotate

    def objective(trial):
        annotate("n_params", 7)
        return {"loss": trial.suggest_int("n", 1, 3)}
    """
    spec = _spec(tmp_path, script, ModelKind.DEFINE_BY_RUN, values={"n": 2}, seed=3)
    final = TrialRunner(spec, TuneReporter(send=False)).run()
    assert final["loss"] == 2 and json.loads(final[ANNOTATIONS_KEY]) == {"n_params": 7}
    assert json.loads(final[USED_KEY])["params"] == {"n": 2}


def test_a_python_program_reports_with_hpogrid_trial_and_is_stopped(tmp_path):
    import sys

    (tmp_path / "prog.py").write_text(textwrap.dedent("""
        import time
        from hpogrid.trial import report
        for epoch in range(1, 100):
            assert report(epoch, loss=1.0 / epoch, note="not a number") is False
        time.sleep(60)  # (stopped at its third step: SIGTERM ends it)
    """))
    spec = _spec(tmp_path, f"{sys.executable} {tmp_path / 'prog.py'}", ModelKind.PROGRAM)
    reporter = StopAt(3)
    runner = TrialRunner(spec, reporter)
    assert runner.run() is None
    assert [s.metrics for s in reporter.steps] == [{"loss": 1.0 / n, "step": n} for n in (1, 2, 3)]
    assert runner.decision is Decision.STOP and runner.history[-1]["loss"] == pytest.approx(1 / 3)
