"""Projects: snapshot semantics, script copies, content hash, errors, 1.3.3 layout."""
import json

import pytest

from hpogrid.configs import NamedStore
from hpogrid.errors import AlreadyExistsError, NotFoundError, ValidationError
from hpogrid.project import create_project, list_projects, load_project, recreate_project, update_project
from tests.conftest import EXAMPLE_SCRIPTS, SPACE_EX1, tree_snapshot

NAMES = {"model_config": "m", "search_space": "s", "hpo_config": "h", "grid_config": None, "slurm_config": None}


@pytest.fixture
def configs():
    NamedStore("model_config").create("m", {"script": "simple_objective.py", "model": "simple_objective"})
    NamedStore("search_space").create("s", SPACE_EX1)
    NamedStore("hpo_config").create("h", {"metric": "loss", "mode": "min", "trials": 20})


def test_create_snapshots_configs_and_copies_scripts(configs, hpogrid_home):
    proj = create_project("p", str(EXAMPLE_SCRIPTS / "simple_objective.py"), NAMES)
    assert (proj.path / "scripts" / "simple_objective.py").read_bytes() == \
        (EXAMPLE_SCRIPTS / "simple_objective.py").read_bytes()
    raw = json.loads((hpogrid_home / "projects" / "p" / "config" / "config.json").read_text())
    assert raw["project_name"] == "p" and raw["hpo_config"]["trials"] == 20
    assert raw["search_space"] == SPACE_EX1 and raw["grid_config"] is None
    assert len(raw["content_hash"]) == 64 and list_projects() == ["p"]


def test_later_config_edits_reach_project_only_on_update(configs):
    create_project("p", str(EXAMPLE_SCRIPTS), NAMES)
    NamedStore("hpo_config").update("h", {"trials": 99})
    assert load_project("p").hpo_config["trials"] == 20
    before = load_project("p").content_hash
    after = update_project("p")
    assert after.hpo_config["trials"] == 99 and after.content_hash != before
    assert load_project("p").hpo_config["trials"] == 99


def test_update_keeps_study_and_switches_configs(configs):
    proj = create_project("p", str(EXAMPLE_SCRIPTS), NAMES)
    (proj.path / "study.db").write_bytes(b"trials")
    NamedStore("hpo_config").create("h2", {"metric": "loss", "trials": 3})
    update_project("p", config_names={"hpo_config": "h2"})
    p = load_project("p")
    assert p.hpo_config["trials"] == 3 and p.config_names["hpo_config"] == "h2"
    assert (p.path / "study.db").read_bytes() == b"trials"


def test_directory_of_scripts_is_copied_without_caches(configs, tmp_path):
    src = tmp_path / "src"
    (src / "pkg" / "__pycache__").mkdir(parents=True)
    (src / "simple_objective.py").write_text("def simple_objective(c): return 0\n")
    (src / "pkg" / "util.py").write_text("X = 1\n")
    (src / "pkg" / "__pycache__" / "util.cpython-311.pyc").write_bytes(b"x")
    proj = create_project("p", str(src), NAMES)
    files = sorted(str(p.relative_to(proj.scripts_dir)) for p in proj.scripts_dir.rglob("*") if p.is_file())
    assert files == ["pkg/util.py", "simple_objective.py"]


def test_missing_config_is_named_with_what_exists(configs, hpogrid_home):
    before = tree_snapshot(hpogrid_home)
    with pytest.raises(NotFoundError, match=r"search_space 'nope' does not exist \(existing: s\)"):
        create_project("p", str(EXAMPLE_SCRIPTS), {**NAMES, "search_space": "nope"})
    assert tree_snapshot(hpogrid_home) == before


def test_script_not_in_scripts_path_is_an_error(configs, tmp_path, hpogrid_home):
    (tmp_path / "other.py").write_text("")
    with pytest.raises(ValidationError, match=r"model_config.script: 'simple_objective.py' is not among"):
        create_project("p", str(tmp_path / "other.py"), NAMES)
    assert list_projects() == [] and not [p for p in (hpogrid_home / "projects").iterdir()]


def test_create_refuses_existing_recreate_backs_up(configs, hpogrid_home):
    create_project("p", str(EXAMPLE_SCRIPTS), NAMES)
    with pytest.raises(AlreadyExistsError):
        create_project("p", str(EXAMPLE_SCRIPTS), NAMES)
    (hpogrid_home / "projects" / "p" / "study.db").write_bytes(b"old trials")
    proj, backup = recreate_project("p", str(EXAMPLE_SCRIPTS), NAMES)
    assert (backup / "study.db").read_bytes() == b"old trials"
    assert not (proj.path / "study.db").exists()


def test_hpogrid_133_project_loads(hpogrid_home):
    """A project folder as hpogrid 1.3.3 wrote it (no names, no hash)."""
    cfg = hpogrid_home / "projects" / "old" / "config"
    cfg.mkdir(parents=True)
    (hpogrid_home / "projects" / "old" / "scripts").mkdir()
    cfg.joinpath("config.json").write_text(json.dumps({
        "project_name": "old", "scripts_path": "/somewhere/train.py",
        "model_config": {"script": "train.py", "model": "train", "param": {}},
        "search_space": SPACE_EX1,
        "hpo_config": {"algorithm": "random", "metric": "loss", "mode": "min", "num_trials": 10,
                       "scheduler": "asynchyperband", "max_concurrent": 3, "stop": {"training_iteration": 1},
                       "scheduler_param": None, "algorithm_param": None, "verbose": 0, "log_dir": None},
        "grid_config": {"site": "ANALY_MANC_GPU_TEST", "container": "c", "inDS": None,
                        "outDS": "x", "retry": 1, "extra": {}}}))
    p = load_project("old")
    assert p.hpo_config["trials"] == 10 and p.grid_config["retry"] is True
    assert p.search_space == SPACE_EX1


def test_unknown_project_lists_existing(configs):
    create_project("p", str(EXAMPLE_SCRIPTS), NAMES)
    with pytest.raises(NotFoundError, match=r"project 'q' does not exist \(existing: p\)"):
        load_project("q")


def test_optional_slurm_config_is_snapshotted(configs):
    NamedStore("slurm_config").create("sl", {"partition": "debug", "workers": 2})
    proj = create_project("p", str(EXAMPLE_SCRIPTS), {**NAMES, "slurm_config": "sl"})
    assert proj.slurm_config["workers"] == 2 and load_project("p").slurm_config["partition"] == "debug"
    assert load_project("p").grid_config is None


def test_uploaded_input_dataset_survives_update(configs):
    from hpogrid.project import set_input_dataset

    create_project("p", str(EXAMPLE_SCRIPTS), NAMES)
    set_input_dataset("p", "user.alice.hpogrid.p.in")
    assert update_project("p").configs["grid_config"]["inDS"] == "user.alice.hpogrid.p.in"
    NamedStore("grid_config").create("g", {"site": "ANALY_X"})
    p = update_project("p", config_names={"grid_config": "g"})
    assert p.configs["grid_config"]["site"] == "ANALY_X" and p.configs["grid_config"]["inDS"] == "user.alice.hpogrid.p.in"
    NamedStore("grid_config").update("g", {"inDS": "user.alice.other"})
    assert update_project("p").configs["grid_config"]["inDS"] == "user.alice.other"  # a named inDS wins
