"""The grid image built for real (docker/build.sh, podman, PROFILE=core from a local Debian base)
and exercised: ``hpogrid --version`` in it, and a grid job of a real project executed by the PanDA
test server inside the image, its trials synced by ``report``.

Skipped, with the reason, where podman is not installed (``bash setupenv.sh test`` installs it).
The build is cached by build.sh (a tag from a hash of its inputs): only the first run after a
change of the Dockerfile, setup.cfg or the package builds (a few minutes; the Debian base once).
"""
import json
import subprocess
from pathlib import Path

import pytest

from hpogrid import __version__
from tests.conftest import REPO
from tests.grid.panda_server.container import PODMAN_RUN_FLAGS, PodmanJobs, podman_command

pytestmark = pytest.mark.slow


def podman_run(image, *args):
    return subprocess.run([*podman_command(), "run", "--rm", *PODMAN_RUN_FLAGS, image, *args],
                          capture_output=True, text=True, timeout=300)


def test_the_image_runs_this_repositorys_hpogrid(core_image):
    out = podman_run(core_image, "--version")  # the entry point is hpogrid
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == __version__


def test_build_sh_reuses_the_image_while_its_inputs_are_unchanged(core_image):
    out = subprocess.run([str(REPO / "docker" / "build.sh")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == core_image
    assert "building" not in out.stderr


def test_a_grid_job_runs_inside_the_image_and_report_syncs_it(panda_server, run_cli, tmp_path, monkeypatch,
                                                              core_image):
    from tests.grid.test_grid_run import make, study_trials, submit

    monkeypatch.setenv("RUCIO_ACCOUNT", "alice")
    panda_server.job_container = PodmanJobs()
    # the objective fails unless the flag file exists: the image's hpogrid, absent on this host
    assert not (Path("/opt/hpogrid")).exists()
    make(run_cli, tmp_path, "img", trials=2, param={"flag": "/opt/hpogrid/bin/hpogrid"},
         container=f"docker://{core_image}")
    task_id = submit(run_cli, "img")
    status = panda_server.wait_task(task_id, timeout=300)
    (job,) = panda_server.tasks[task_id].jobs
    assert status == "done", (job.workdir / "payload.stderr").read_text()[-3000:]
    assert json.loads(job.metadata)["user_job_metadata"]["hpogrid"] == __version__

    r = run_cli("report", "img")
    assert r.exit_code == 0, r.output
    trials = study_trials("img")
    assert len(trials) == 2 and {t.state for t in trials} == {"COMPLETED"}


def derived_image(base, name, *runs):
    """A small image FROM ``base`` (the core image) changed by ``runs``; built once per base."""
    image = f"localhost/hpogrid-{name}:{base.rsplit(':', 1)[1]}"
    if subprocess.run([*podman_command(), "image", "exists", image]).returncode != 0:
        recipe = f"FROM {base}\nUSER root\n" + "".join(f"RUN {run}\n" for run in runs) + "USER 1000:1000\n"
        out = subprocess.run([*podman_command(), "build", "--format", "docker", *PODMAN_RUN_FLAGS, "-t", image, "-f", "-",
                              str(REPO / "docker")], input=recipe, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-3000:]
    return image


SITE = "/opt/hpogrid/lib/python3.11/site-packages"


def run_grid_job_in(image, panda_server, run_cli, tmp_path, monkeypatch, name):
    from tests.grid.test_grid_run import make, submit

    monkeypatch.setenv("RUCIO_ACCOUNT", "alice")
    panda_server.job_container = PodmanJobs()
    make(run_cli, tmp_path, name, trials=2, container=f"docker://{image}")
    task_id = submit(run_cli, name)
    panda_server.wait_task(task_id, timeout=300)
    return task_id


def test_an_image_without_hpogrid_fails_the_job_with_one_line_naming_the_image(panda_server, run_cli, tmp_path,
                                                                                 monkeypatch, core_image):
    # Debian's python3 alone: no hpogrid, none of its dependencies
    image = derived_image(core_image, "nohpogrid", "rm -rf /opt/hpogrid")
    task_id = run_grid_job_in(image, panda_server, run_cli, tmp_path, monkeypatch, "bare")
    (job,) = panda_server.tasks[task_id].jobs
    assert job.status == "failed"
    line = (f"hpogrid bootstrap: the image docker://{image} has no hpogrid and its Python lacks click, pydantic, "
            f"sqlalchemy, tabulate, pyyaml, filelock, tenacity, numpy, rich, needed to run this job's hpogrid "
            f"{__version__}: use an image with hpogrid>={__version__} (docker/Dockerfile)")
    assert (job.workdir / "payload.stderr").read_text().strip() == line
    r = run_cli("tasks", "show", "--jeditaskid", str(task_id))
    assert r.exit_code == 0 and "failed" in r.output
    r = run_cli("report", "bare")
    assert r.exit_code == 0, r.output
    from tests.grid.test_grid_run import study_trials

    (trial,) = study_trials("bare")  # the job, failed, with the bootstrap's line as its error
    assert trial.state == "FAILED" and trial.error == line


def test_an_image_with_an_older_hpogrid_runs_the_sandboxs_own(panda_server, run_cli, tmp_path, monkeypatch,
                                                               core_image):
    from tests.grid.test_grid_run import study_trials

    # an "hpogrid 1.0.0" without grid_job, its dependencies present
    stub = (f"pip uninstall -q -y hpogrid && mkdir {SITE}/hpogrid {SITE}/hpogrid-1.0.0.dist-info"
            f" && echo '__version__ = \"1.0.0\"' > {SITE}/hpogrid/__init__.py"
            f" && printf 'Metadata-Version: 2.1\\nName: hpogrid\\nVersion: 1.0.0\\n' > {SITE}/hpogrid-1.0.0.dist-info/METADATA")
    image = derived_image(core_image, "oldhpogrid", stub)
    old = subprocess.run(
        [*podman_command(), "run", "--rm", *PODMAN_RUN_FLAGS, "--entrypoint", "python3", image, "-c",
         "import importlib.metadata as m; print(m.version('hpogrid'))"], capture_output=True, text=True, timeout=120)
    assert old.stdout.strip() == "1.0.0", old.stderr
    task_id = run_grid_job_in(image, panda_server, run_cli, tmp_path, monkeypatch, "old")
    (job,) = panda_server.tasks[task_id].jobs
    assert job.status == "finished", (job.workdir / "payload.stderr").read_text()[-3000:]
    assert json.loads(job.metadata)["user_job_metadata"]["hpogrid"] == __version__
    assert run_cli("report", "old").exit_code == 0
    assert [t.state for t in study_trials("old")] == ["COMPLETED", "COMPLETED"]
