"""``hpogrid.optimize`` with a function of an importable module: the module's file is the
project's script (so it travels to Slurm and the grid), and calling again continues the study."""
import importlib
import sys

import hpogrid
from hpogrid.configs import NamedStore
from hpogrid.project import load_project


def test_a_module_function_is_packed_as_its_file(tmp_path, monkeypatch):
    (tmp_path / "mymodel.py").write_text("def fit(config):\n    return (config['x'] - 0.5) ** 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("mymodel")
    try:
        study = hpogrid.optimize(module.fit, {"x": hpogrid.space.uniform(0, 1)}, trials=2, algorithm="random")
        assert NamedStore("model_config").load("fit")["script"] == "mymodel.py"
        assert (load_project("fit").scripts_dir / "mymodel.py").read_text() == (tmp_path / "mymodel.py").read_text()
        assert "study 'fit': new, 2 trials" in study.notes
        again = hpogrid.optimize(module.fit, {"x": hpogrid.space.uniform(0, 1)}, trials=2, algorithm="random")
        assert "project 'fit': unchanged, reused" in again.notes
        assert any("continuing with 2 new trials after its 2" in n for n in again.notes)
        values = [t.value for t in again.trials]
        assert len(values) == 4 and again.best_trial.value == min(values)
        assert "study 'fit' of project 'fit': 4 completed; best loss=" in repr(again)
    finally:
        sys.modules.pop("mymodel", None)
