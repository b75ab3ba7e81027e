"""NamedStore: create/recreate/update/remove/list/show, atomicity, races, 1.3.3 files."""
import json
import multiprocessing as mp

import pytest

from hpogrid.configs import NamedStore
from hpogrid.errors import AlreadyExistsError, InvalidNameError, NotFoundError, ValidationError


def test_create_fills_readme_defaults(hpogrid_home):
    cfg = NamedStore("hpo_config").create("h", {"metric": "loss"})
    # 'auto' replaced the README's 'random' default: benchmarks/search_quality.py shows it better
    assert cfg["algorithm"] == "auto" and cfg["mode"] == "max" and cfg["trials"] == 100
    assert cfg["scheduler"] == "asynchyperband" and cfg["log_dir"] == "./log"
    assert cfg["stop"] == {"training_iteration": 1}
    assert cfg["scheduler_param"] == {"max_concurrent": 4} and cfg["algorithm_param"] == {}
    on_disk = json.loads((hpogrid_home / "hpo" / "h.json").read_text())
    assert on_disk == cfg


def test_grid_defaults_keep_outds_template():
    cfg = NamedStore("grid_config").create("g", {})
    assert cfg["site"] == "ANALY_MANC_GPU_TEST" and cfg["retry"] is False and cfg["inDS"] is None
    # resolved only at submit time
    assert cfg["outDS"] == "user.${{RUCIO_ACCOUNT}}.hpogrid.{HPO_PROJECT_NAME}.out.$(date +%Y%m%d%H%M%S)"
    assert cfg["container"].startswith("/cvmfs/unpacked.cern.ch/")


def test_create_refuses_existing_and_keeps_it():
    store = NamedStore("hpo_config")
    store.create("h", {"trials": 5})
    with pytest.raises(AlreadyExistsError, match="already exists; use 'hpogrid hpo_config recreate'"):
        store.create("h", {"trials": 7})
    assert store.load("h")["trials"] == 5


def test_recreate_overwrites_with_defaults_and_update_keeps_others():
    store = NamedStore("hpo_config")
    store.create("h", {"trials": 5, "metric": "loss"})
    assert store.update("h", {"mode": "min"}) == {**store.load("h"), "mode": "min"}
    assert store.load("h")["metric"] == "loss" and store.load("h")["trials"] == 5
    assert store.recreate("h", {"trials": 9})["metric"] == "accuracy"


def test_update_invalid_changes_nothing(hpogrid_home):
    store = NamedStore("hpo_config")
    store.create("h", {"trials": 5})
    before = (hpogrid_home / "hpo" / "h.json").read_bytes()
    with pytest.raises(ValidationError, match=r"hpo_config\.mode: 'sideways' is not allowed; choose one of: min, max"):
        store.update("h", {"mode": "sideways"})
    assert (hpogrid_home / "hpo" / "h.json").read_bytes() == before


def test_remove_and_missing_names_list_existing():
    store = NamedStore("model_config")
    store.create("a", {"script": "s.py", "model": "f"})
    store.create("b", {"script": "s.py", "model": "f"})
    store.remove("a")
    assert store.names() == ["b"]
    with pytest.raises(NotFoundError, match=r"model_config 'zzz' does not exist \(existing: b\)"):
        store.load("zzz")
    with pytest.raises(NotFoundError):
        store.remove("a")


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "-rf", "x\x00y", "a" * 200, "..", "/abs"])
def test_path_names_rejected(bad, hpogrid_home):
    with pytest.raises(InvalidNameError):
        NamedStore("hpo_config").create(bad, {})
    assert not hpogrid_home.exists() or not any(hpogrid_home.rglob("*.json"))


@pytest.mark.parametrize("data, field", [
    ({"trials": "many"}, "hpo_config.trials"),
    ({"trials": 0}, "hpo_config.trials"),
    ({"algorithm": "genetic"}, "hpo_config.algorithm"),
    ({"scheduler": "nope"}, "hpo_config.scheduler"),
    ({"bogus": 1}, "hpo_config.bogus"),
    ({"stop": [1]}, "hpo_config.stop"),
    ({"scheduler_param": {"max_concurrent": 0}}, "hpo_config.scheduler_param"),
    ({"metric": ""}, "hpo_config.metric"),
])
def test_bad_hpo_values_name_the_field(data, field):
    with pytest.raises(ValidationError) as err:
        NamedStore("hpo_config").create("h", data)
    assert str(err.value).startswith(field + ":") and "\n" not in str(err.value)


@pytest.mark.parametrize("data, field", [
    ({"model": "f"}, "model_config: script is required (or give command for a program)"),
    ({"script": "s.py"}, "model_config: model is required (or give command for a program)"),
    ({"script": "s.py", "model": "f", "command": "x"}, "model_config: give either command, or script"),
    ({"command": "python 'unbalanced"}, "model_config.command: cannot split into arguments"),
    ({"command": "run {x"}, "model_config.command: unbalanced brace"),
    ({"script": "../s.py", "model": "f"}, "model_config.script"),
    ({"script": "s.py", "model": "not valid"}, "model_config.model"),
    ({"script": "s.py", "model": "f", "param": {"x": float("nan")}}, "model_config.param"),
])
def test_bad_model_values_name_the_field(data, field):
    with pytest.raises(ValidationError) as err:
        NamedStore("model_config").create("m", data)
    assert str(err.value).startswith(field if " " in field else field + ":"), str(err.value)


def test_hpogrid_133_files_load_unchanged(hpogrid_home):
    """Files exactly as hpogrid 1.3.3 wrote them (its keys, its None defaults)."""
    (hpogrid_home / "hpo").mkdir(parents=True)
    (hpogrid_home / "hpo" / "old.json").write_text(json.dumps({
        "algorithm": "hyperopt", "scheduler": "asynchyperband", "metric": "loss",
        "extra_metrics": None, "mode": "min", "resource": {"cpu": 0, "gpu": 0},
        "num_trials": 50, "log_dir": None, "verbose": 0, "max_concurrent": 3,
        "stop": {"training_iteration": 1}, "scheduler_param": None, "algorithm_param": None}))
    (hpogrid_home / "grid").mkdir()
    (hpogrid_home / "grid" / "old.json").write_text(json.dumps({
        "site": None, "container": "/cvmfs/x:latest", "inDS": None,
        "outDS": "user.${{RUCIO_ACCOUNT}}.hpogrid.{HPO_PROJECT_NAME}.out.$(date +%Y%m%d%H%M%S)",
        "retry": 0, "extra": {}}))
    hpo = NamedStore("hpo_config").load("old")
    assert hpo["trials"] == 50 and hpo["algorithm"] == "hyperopt" and hpo["verbose"] is False
    assert hpo["scheduler_param"] == {"max_concurrent": 3} and hpo["algorithm_param"] == {}
    grid = NamedStore("grid_config").load("old")
    assert grid["site"] is None and grid["retry"] is False
    assert NamedStore("hpo_config").names() == ["old"]


def _race(args):
    home, i = args
    import os
    os.environ["HPOGRID_HOME"] = home
    from hpogrid.configs import NamedStore
    from hpogrid.errors import AlreadyExistsError
    try:
        NamedStore("hpo_config").create("same", {"trials": i + 1})
        return "won"
    except AlreadyExistsError:
        return "lost"


def test_concurrent_create_exactly_one_wins(hpogrid_home):
    with mp.get_context("fork").Pool(8) as pool:
        results = pool.map(_race, [(str(hpogrid_home), i) for i in range(16)])
    assert results.count("won") == 1 and results.count("lost") == 15
    folder = hpogrid_home / "hpo"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".lock")) == ["same.json"]
    assert 1 <= NamedStore("hpo_config").load("same")["trials"] <= 16


def test_failed_update_and_remove_write_nothing(hpogrid_home):
    from tests.conftest import tree_snapshot

    NamedStore("hpo_config").create("h", {})
    (hpogrid_home / "hpo" / ".lock").unlink(missing_ok=True)
    before = tree_snapshot(hpogrid_home)
    with pytest.raises(ValidationError):
        NamedStore("hpo_config").update("h", {"trials": -1})
    with pytest.raises(NotFoundError):
        NamedStore("model_config").remove("nope")
    assert tree_snapshot(hpogrid_home) == before


def test_hpogrid_133_zero_resources_mean_the_default(hpogrid_home):
    """1.3.3 wrote ``{"cpu": 0, "gpu": 0}`` for "the default"; new input with cpu 0 is refused
    (tests/hostile/test_checked_when_written.py)."""
    (hpogrid_home / "hpo").mkdir(parents=True)
    (hpogrid_home / "hpo" / "old.json").write_text(json.dumps({"num_trials": 5, "resource": {"cpu": 0, "gpu": 0}}))
    (hpogrid_home / "hpo" / "gpu.json").write_text(json.dumps({"num_trials": 5, "resource": {"cpu": 0, "gpu": 1}}))
    assert NamedStore("hpo_config").load("old")["resource"] is None
    assert NamedStore("hpo_config").load("gpu")["resource"] == {"gpu": 1}
