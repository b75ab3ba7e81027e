"""The grid job's bootstrap (.hpogrid-project/bootstrap.py in the sandbox), run as a job runs it.

End to end in real images (none, an old, the current hpogrid): tests/docker/test_image.py."""
import json
import os
import subprocess
import sys
import tarfile

from hpogrid import __version__
from hpogrid.backends.panda._bootstrap import CORE, version_key
from hpogrid.backends.panda._sandbox import CONFIG_FOLDER, job_command, pack_project
from hpogrid.project import load_project
from tests.backends.panda.test_job import grid_project


def test_versions_are_ordered_like_pep_440():
    ordered = ["1.0", "2.0.0.dev0", "2.0.0a1", "2.0.0rc1", "2.0.0", "2.0.1", "2.1", "10.0"]
    assert sorted(ordered, key=version_key) == ordered
    assert version_key("2.0") == version_key("2.0.0")


def test_the_sandbox_carries_this_hpogrid_and_the_job_starts_with_the_bootstrap(tmp_path):
    name = grid_project(tmp_path)
    sandbox = pack_project(load_project(name), tmp_path / "upload")
    with tarfile.open(sandbox) as tar:
        names = set(tar.getnames())
    assert f"{CONFIG_FOLDER}/bootstrap.py" in names
    assert {f"{CONFIG_FOLDER}/lib/hpogrid/__init__.py", f"{CONFIG_FOLDER}/lib/hpogrid/__main__.py",
            f"{CONFIG_FOLDER}/lib/hpogrid/grid/data/sites.json"} <= names
    assert not any("__pycache__" in n for n in names)
    assert job_command("docker://img:1", "grid_job", name) == (
        "python3", f"{CONFIG_FOLDER}/bootstrap.py", "docker://img:1", __version__, "grid_job", name)


def test_a_python_without_hpogrid_and_its_dependencies_fails_with_one_line(tmp_path):
    name = grid_project(tmp_path)
    with tarfile.open(pack_project(load_project(name), tmp_path / "upload")) as tar:
        tar.extractall(tmp_path / "job", filter="data")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # -S: no site-packages, so neither hpogrid nor any of its dependencies, like a bare python image
    out = subprocess.run([sys.executable, "-S", f"{CONFIG_FOLDER}/bootstrap.py", "docker://bare:1", __version__,
                          "grid_job", name, "--seed", "3"], cwd=tmp_path / "job", env=env,
                         capture_output=True, text=True, timeout=60)
    missing = ", ".join(package for _, package in CORE)
    line = (f"hpogrid bootstrap: the image docker://bare:1 has no hpogrid and its Python lacks {missing}, needed "
            f"to run this job's hpogrid {__version__}: use an image with hpogrid>={__version__} (docker/Dockerfile)")
    assert out.returncode == 1 and out.stderr == line + "\n"
    metadata = json.loads((tmp_path / "job" / "userJobMetadata.json").read_text())
    assert metadata == {"hpogrid": __version__, "project": name, "error": line, "trials": []}
