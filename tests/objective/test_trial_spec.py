"""A trial spec survives its trip through trial.json, and one written before specs carried a kind still reads."""
import json
from pathlib import Path

from hpogrid.objective import Model, ModelKind, TrialSpec
from hpogrid.objective.trial_folder import TRIAL_FILE, read_spec, write_spec


def _spec(tmp_path: Path, kind: ModelKind, **fields) -> TrialSpec:
    if kind is ModelKind.PROGRAM:
        model = Model(kind, tmp_path, command="python t.py {x}", timeout=3.0, result_prefix="SCORE")
    else:
        model = Model(kind, tmp_path, script="m.py", entry="objective")
    return TrialSpec(uid="u7", folder=tmp_path / "u7", model=model, config={"x": 2, "nested": {"y": [1, 2]}},
                     values={"x": 2}, order=("x",), metric="loss", mode="max", stop={"training_iteration": 4},
                     study="s", **fields)


def test_every_kind_round_trips_through_trial_json(tmp_path):
    specs = [_spec(tmp_path, ModelKind.FUNCTION), _spec(tmp_path, ModelKind.TRAINABLE, metrics=("loss", "cost")),
             _spec(tmp_path, ModelKind.PROGRAM, program_subdir=True),
             _spec(tmp_path, ModelKind.DEFINE_BY_RUN, seed=11, distributions={"x": {"type": "int", "low": 0}})]
    for spec in specs:
        write_spec(spec)
        assert read_spec(spec.folder) == spec
        assert TrialSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


def test_a_spec_written_before_kinds_reads_as_it_ran(tmp_path):
    (tmp_path / "m.py").write_text("def objective(config):\n    return 1\n")
    old = {"uid": "u1", "study": "s", "scripts_dir": str(tmp_path), "script": "m.py", "model": "objective",
           "metric": "loss", "mode": "min", "stop": {}, "config": {"x": 2}}
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / TRIAL_FILE).write_text(json.dumps(old))
    spec = read_spec(tmp_path / "t")
    assert (spec.model.kind, spec.config, spec.folder) == (ModelKind.FUNCTION, {"x": 2}, tmp_path / "t")
    program = TrialSpec.from_json({"uid": "u2", "command": "run {x}", "timeout": None, "result_prefix": "RESULT",
                                   "program_config": {"x": 1}, "values": {"x": 1}, "order": ["x"], "metric": "loss"})
    assert program.model.kind is ModelKind.PROGRAM and program.config == {"x": 1}
    (tmp_path / "d.py").write_text("def objective(trial):\n    return 1\n")
    dbr = TrialSpec.from_json({"uid": "u3", "scripts_dir": str(tmp_path), "script": "d.py", "model": "objective",
                               "config": {}, "define_by_run": {"values": {"lr": 0.1}, "seed": 5, "distributions": {}}})
    assert (dbr.model.kind, dbr.values, dbr.seed) == (ModelKind.DEFINE_BY_RUN, {"lr": 0.1}, 5)
