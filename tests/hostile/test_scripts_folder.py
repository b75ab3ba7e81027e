"""Issue #34 items 6, 7, 15: a scripts folder that cannot be copied (inside or around
$HPOGRID_HOME, a symlink loop, a file name that is not UTF-8) is one line naming the offender,
before anything is copied."""
import re

import pytest

from tests.conftest import tree_snapshot
from tests.hostile._helpers import refused


def _create(run_cli, scripts_path):
    return run_cli("project", "create", "p", "--scripts_path", scripts_path, "--model_config", "m",
                   "--search_space", "sp", "--hpo_config", "h")


@pytest.mark.parametrize("inside", ["projects", "model_config", ".", "projects/deep/er", "x"])
def test_a_scripts_folder_inside_the_hpogrid_home_is_refused(run_cli, hpogrid_home, scripts, configs, inside):
    folder = hpogrid_home / inside
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "m.py").write_text((scripts / "m.py").read_text())
    before = tree_snapshot(hpogrid_home)
    pattern = r"project\.scripts_path: .* (is inside|contains) the hpogrid home"
    refused(_create(run_cli, folder), before, hpogrid_home, pattern)
    refused(_create(run_cli, folder / "m.py"), before, hpogrid_home, pattern)  # one file of it, too


def test_a_scripts_folder_holding_the_hpogrid_home_deeper_down_is_refused(run_cli, tmp_path, monkeypatch, configs):
    """The home may be anywhere under the folder, and reached through a link to it."""
    import shutil

    outer = tmp_path / "work"
    shutil.copytree(tmp_path / "hpogrid-home", outer / "a" / "b" / "home")
    (outer / "m.py").write_text("def model(config):\n    return {'loss': 0}\n")
    (tmp_path / "via").symlink_to(outer / "a")
    for home in (outer / "a" / "b" / "home", tmp_path / "via" / "b" / "home"):
        monkeypatch.setenv("HPOGRID_HOME", str(home))
        before = tree_snapshot(outer)
        refused(_create(run_cli, outer), None, None, r"contains the hpogrid home")
        assert tree_snapshot(outer) == before


def _loop_self(d):
    (d / "loop").symlink_to(".")


def _loop_parent(d):
    (d / "sub").mkdir()
    (d / "sub" / "up").symlink_to("..")


def _loop_grandparent(d):
    (d / "a" / "b").mkdir(parents=True)
    (d / "a" / "b" / "top").symlink_to("../..")


def _loop_pair(d):
    (d / "a").mkdir()
    (d / "b").mkdir()
    (d / "a" / "to_b").symlink_to("../b")
    (d / "b" / "to_a").symlink_to("../a")


def _loop_absolute(d):
    (d / "deep" / "er").mkdir(parents=True)
    (d / "deep" / "er" / "root").symlink_to(d.resolve())


@pytest.mark.parametrize("make", [_loop_self, _loop_parent, _loop_grandparent, _loop_pair, _loop_absolute])
def test_a_symlink_loop_in_the_scripts_folder_is_one_line(run_cli, hpogrid_home, scripts, configs, make):
    make(scripts)
    before = tree_snapshot(hpogrid_home)
    refused(_create(run_cli, scripts), before, hpogrid_home,
            r"project\.scripts_path: link '[^']+' points at a folder that contains it .*never end; remove the link")


@pytest.mark.parametrize("links", [[("me", "me")], [("a", "b"), ("b", "a")], [("sub/x", "../y"), ("y", "sub/x")]])
def test_a_link_that_points_at_itself_is_one_line(run_cli, hpogrid_home, scripts, configs, links):
    (scripts / "sub").mkdir()
    for link, target in links:
        (scripts / link).symlink_to(target)
    before = tree_snapshot(hpogrid_home)
    refused(_create(run_cli, scripts), before, hpogrid_home, r"project\.scripts_path: link '[^']+' points at")


def test_project_update_refuses_a_loop_too(run_cli, hpogrid_home, project, scripts):
    _loop_parent(scripts)
    before = tree_snapshot(hpogrid_home)
    refused(run_cli("project", "update", "p", "--scripts_path", scripts), None, hpogrid_home,
            r"link 'sub/up' points at a folder that contains it")
    after = tree_snapshot(hpogrid_home)
    after.pop("projects/p/.lock", None)  # update takes the project's lock (an empty file) before it checks
    assert after == before


def test_a_link_to_a_sibling_folder_is_not_a_loop(run_cli, hpogrid_home, scripts, configs):
    (scripts / "lib").mkdir()
    (scripts / "lib" / "util.py").write_text("X = 1\n")
    (scripts / "also").symlink_to("lib")
    r = _create(run_cli, scripts)
    assert r.exit_code == 0, r.output
    assert (hpogrid_home / "projects" / "p" / "scripts" / "also" / "util.py").read_text() == "X = 1\n"


@pytest.mark.parametrize("name", [b"caf\xe9.py", b"\xff", b"sub/\xc3(.txt", b"ok\x80\x80name"])
def test_a_file_name_that_is_not_utf8_is_one_line_naming_it(run_cli, hpogrid_home, scripts, configs, name):
    import os

    parts = name.split(b"/")
    folder = os.fsencode(str(scripts))
    for part in parts[:-1]:
        folder = os.path.join(folder, part)
        os.mkdir(folder)
    with open(os.path.join(folder, parts[-1]), "wb") as fh:
        fh.write(b"data\n")
    shown = name.decode("utf-8", "backslashreplace")
    before = tree_snapshot(hpogrid_home)
    refused(_create(run_cli, scripts), before, hpogrid_home,
            rf"project\.scripts_path: the file name '{re.escape(shown)}' is not UTF-8")


@pytest.mark.parametrize("depth", [101, 250, 600])
def test_a_scripts_folder_nested_too_deep_is_one_line_and_quick(run_cli, hpogrid_home, scripts, configs, depth):
    """The copy recurses once per level: a folder hundreds of levels deep crashed the copy (RecursionError)."""
    import os

    folder = os.open(scripts, os.O_RDONLY)
    try:
        for _ in range(depth):  # one level at a time: os.makedirs itself recurses per level
            os.mkdir("d", dir_fd=folder)
            inner = os.open("d", os.O_RDONLY, dir_fd=folder)
            os.close(folder)
            folder = inner
    finally:
        os.close(folder)
    try:
        before = tree_snapshot(hpogrid_home)
        refused(_create(run_cli, scripts), before, hpogrid_home,
                r"project\.scripts_path: 'd/d/d.*'\.\.\. is nested more than 100 folders deep")
    finally:  # remove the chain here: pytest's own clean-up of old temp folders recurses per level
        levels = [scripts / "d"]
        while (levels[-1] / "d").is_dir():
            levels.append(levels[-1] / "d")
        for level in reversed(levels):
            level.rmdir()


def test_a_scripts_folder_within_the_depth_is_copied(run_cli, hpogrid_home, scripts, configs):
    deep = scripts.joinpath(*["d"] * 99)
    deep.mkdir(parents=True)
    (deep / "data.txt").write_text("x")
    r = _create(run_cli, scripts)
    assert r.exit_code == 0, r.output
    assert (hpogrid_home / "projects" / "p" / "scripts").joinpath(*["d"] * 99, "data.txt").read_text() == "x"


def test_a_refused_project_update_leaves_nothing_on_disk(run_cli, hpogrid_home, project, scripts, tmp_path):
    """Issue #34: ``project update`` refused under the project's lock left a ``.lock`` file
    (and a failed scripts copy its temporary folder); the lock is now the folder itself."""
    loop = tmp_path / "looping"
    loop.mkdir()
    (loop / "m.py").write_text("def model(config):\n    return 0.0\n")
    (loop / "d").mkdir()
    (loop / "d" / "up").symlink_to("..")
    before = tree_snapshot(hpogrid_home)
    folders = sorted(p for p in hpogrid_home.rglob("*"))
    for argv, pattern in [(["--hpo_config", "nope"], r"hpo_config 'nope' does not exist"),
                          (["--model_config", "nope"], r"model_config 'nope' does not exist"),
                          (["--scripts_path", tmp_path / "missing"], r"scripts"),
                          (["--scripts_path", loop], r"link")]:
        refused(run_cli("project", "update", "p", *argv), before, hpogrid_home, pattern)
        assert sorted(p for p in hpogrid_home.rglob("*")) == folders  # no lock file, no folder
    r = run_cli("project", "update", "p", "--hpo_config", "h")
    assert r.exit_code == 0, r.output
    assert not list(hpogrid_home.rglob("*.lock")) and not list(hpogrid_home.rglob(".lock"))
