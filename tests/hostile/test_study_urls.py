"""Issue #34 item 17: a study store URL that would lose the trials (an in-memory SQLite
database) or silently create a folder tree (a SQLite file in a missing folder) is one line on
every command that takes one (``--study-url``, ``--to-url``, ``--from-url``), and in
``$HPOGRID_STUDY_URL``; nothing is written."""
import pytest

from tests.conftest import tree_snapshot
from tests.hostile._helpers import command_at, commands, refused, required_arguments

IN_MEMORY = ["sqlite://", "sqlite:///:memory:", "sqlite+pysqlite://", "sqlite:///file:x?mode=memory&uri=true"]
MISSING = ["sqlite:////nonexistent/dir/x.db", "sqlite:////nonexistent/x.db"]
URL_OPTIONS = ("study_url", "to_url", "from_url")

CASES = [(path, param.opts[0], url)
         for path, command in commands() for param in command.params if param.name in URL_OPTIONS
         for url in IN_MEMORY + MISSING]


def test_every_url_option_is_covered():
    covered = {" ".join(path) for path, _, _ in CASES}
    for command in ("local_run", "slurm_run", "run", "report", "dashboard", "workflow run", "study list",
                    "study copy", "study merge", "study export", "study import"):
        assert command in covered, command


@pytest.mark.parametrize("path, option, url", CASES, ids=[f"{' '.join(c[0])} {c[1]} {c[2]}" for c in CASES])
def test_a_url_that_loses_trials_or_makes_folders_is_one_line(run_cli, hpogrid_home, project, path, option, url):
    command = command_at(path)
    before = tree_snapshot(hpogrid_home)
    r = run_cli(*path, *required_arguments(command), option, url)
    pattern = "in-memory SQLite database" if url in IN_MEMORY else "'/nonexistent[^']*', does not exist"
    refused(r, before, hpogrid_home, rf"Invalid value for '{option}'.*: .*{pattern}")


@pytest.mark.parametrize("url", IN_MEMORY + MISSING)
def test_the_environment_url_is_checked_too(run_cli, hpogrid_home, project, monkeypatch, url):
    monkeypatch.setenv("HPOGRID_STUDY_URL", url)
    before = tree_snapshot(hpogrid_home)
    for argv in (["local_run", "p"], ["report", "p"], ["study", "list"]):
        refused(run_cli(*argv), before, hpogrid_home, "HPOGRID_STUDY_URL: ")


def test_a_file_in_an_existing_folder_is_fine(run_cli, hpogrid_home, project, tmp_path):
    url = f"sqlite:///{tmp_path}/shared.db"
    r = run_cli("local_run", "p", "--study-url", url)
    assert r.exit_code == 0, r.output
    r = run_cli("report", "p", "--study-url", url)
    assert r.exit_code == 0 and "2 trials: 2 completed" in r.output, r.output
