"""A study name reaches paths (trials/<study>, Ray's run folder, <study>_backup-N): unsafe
ones are refused by every command taking ``--study``, with one line and nothing written."""
import pytest

from hpogrid import paths
from hpogrid.configs import NamedStore
from hpogrid.project import create_project
from hpogrid.study import StudyStore, sqlite_url
from tests.conftest import tree_snapshot

BAD = ["../x", "a/b", "a\x00b", "-x", ".x"]
COMMANDS = [("local_run", []), ("local_run", ["--resume"]), ("slurm_run", []), ("slurm_run", ["--resume"]),
            ("report", [])]


@pytest.fixture
def project(tmp_path, hpogrid_home):
    """A project with a study store (report needs one before it looks at --study)."""
    script = tmp_path / "train.py"
    script.write_text("def objective(config):\n    return config['x']\n")
    NamedStore("model_config").create("m", {"script": "train.py", "model": "objective"})
    NamedStore("search_space").create("s", {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}})
    NamedStore("hpo_config").create("h", {"metric": "loss", "mode": "min", "trials": 1})
    NamedStore("slurm_config").create("sc", {})
    create_project("p", str(script), {"model_config": "m", "search_space": "s", "hpo_config": "h",
                                      "slurm_config": "sc"})
    store = StudyStore(sqlite_url(paths.study_db("p")))
    store.get_or_create_study("p", metric="loss", mode="min")
    store.upsert_trial("p", "t0", state="COMPLETED", params={"x": 0.5}, metrics={"loss": 0.5})
    store.close()
    return "p"


@pytest.mark.parametrize("name", BAD, ids=["dotdot", "slash", "nul", "dash", "dot"])
@pytest.mark.parametrize("command,extra", COMMANDS, ids=[" ".join([c, *e]) for c, e in COMMANDS])
def test_unsafe_study_names_are_refused(run_cli, hpogrid_home, project, command, extra, name):
    before = tree_snapshot(hpogrid_home)
    r = run_cli(command, project, f"--study={name}", *extra)
    lines = r.output.strip().splitlines()
    assert r.exit_code != 0 and len(lines) == 1, r.output
    assert lines[0].startswith("Error: study: invalid name"), r.output
    assert "Traceback" not in r.output
    assert tree_snapshot(hpogrid_home) == before
    assert [s.name for s in StudyStore(sqlite_url(paths.study_db(project))).list_studies()] == ["p"]
