"""The model is decided once: its kind from the object (a run) or from the source (a project)."""
import textwrap
from types import SimpleNamespace

import pytest

from hpogrid.errors import ValidationError
from hpogrid.objective import Model, ModelKind

SCRIPT = """
from ray import tune

def by_trial(trial):
    return 1

def with_config(trial, config):
    return 1

def plain(config):
    return 1

class Net(tune.Trainable):
    def step(self):
        return {"loss": 1}

class NotTrainable:
    def __init__(self, trial):
        pass
"""


@pytest.fixture()
def scripts(tmp_path):
    (tmp_path / "models.py").write_text(textwrap.dedent(SCRIPT))
    return tmp_path


def _model(scripts, entry, imports=True):
    return Model.from_config({"script": "models.py", "model": entry, "param": {"a": 1}}, scripts, imports=imports)


@pytest.mark.parametrize("entry, kind", [("by_trial", ModelKind.DEFINE_BY_RUN), ("with_config", ModelKind.DEFINE_BY_RUN),
                                         ("plain", ModelKind.FUNCTION), ("Net", ModelKind.TRAINABLE)])
def test_the_kind_is_the_same_from_the_object_and_from_the_source(scripts, entry, kind):
    assert _model(scripts, entry).kind is kind
    assert _model(scripts, entry, imports=False).kind is kind


def test_a_class_that_is_not_a_trainable_is_refused_when_the_run_is_planned(scripts):
    with pytest.raises(ValidationError, match="not a ray.tune.Trainable"):
        _model(scripts, "NotTrainable")


def test_a_program_is_a_command_and_its_placeholders_are_checked_against_the_space(tmp_path):
    project = SimpleNamespace(model_config={"command": "python train.py --lr {lr}", "timeout": 5.0,
                                            "result_prefix": "SCORE", "param": {}}, scripts_dir=tmp_path)
    model = Model.of(project)
    assert (model.kind, model.timeout, model.result_prefix, model.name) == (ModelKind.PROGRAM, 5.0, "SCORE", "python")
    model.check({"lr": None})
    with pytest.raises(ValidationError, match="placeholder {lr} is not a search-space parameter"):
        model.check({"momentum": None})


def test_check_imports_the_script_and_follows_nested_param_names(scripts):
    model = _model(scripts, "plain")
    model.check({"a": None})
    with pytest.raises(ValidationError, match="no key 'b'"):
        model.check({"b:c": None})
    missing = Model.from_config({"script": "gone.py", "model": "f"}, scripts, kind=ModelKind.FUNCTION)
    with pytest.raises(ValidationError, match="model_config.script"):
        missing.check(None)
