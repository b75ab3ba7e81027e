"""slurm_config ``container``: on the real single-node Slurm, per-trial jobs and ``--pool`` workers
run their trials inside the image docker/build.sh builds (core profile), with podman; the
``setup`` lines run in the batch script before the payload (here they export a variable the
trial reads inside the container); the trial folder is bind-mounted (what the trial writes there
is on the host); the results land in the study (the pool's workers reach the SQLite store from
inside the container). Skipped where podman is missing."""
import shutil

import pytest

from hpogrid.backends.slurm import SlurmOptions, run_slurm
from hpogrid.project import load_project
from tests.backends.slurm.helpers import UNI, make_slurm_project, trials

pytestmark = pytest.mark.slow
#: what podman needs on this machine (crun fails on its hybrid cgroups; explicit limits)
HOST_ARGS = (["--runtime", "runc"] if shutil.which("runc") else []) + [
    "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
WHERE = """
import os, sys
from pathlib import Path

def objective(config):
    # the working directory is the trial folder, bind-mounted from the host
    Path("where.txt").write_text(f"{sys.prefix} {os.environ.get('HPOGRID_SETUP_RAN')}")
    return {"loss": config["x"] ** 2}
"""


def _container(image, **more):
    return {"container": f"docker://{image}", "container_runtime": "podman", "container_args": HOST_ARGS,
            "setup": ["export HPOGRID_SETUP_RAN=yes"], **more}


@pytest.mark.parametrize("pool", [0, 2], ids=["job-per-trial", "pool"])
def test_slurm_trials_run_inside_the_image_and_land_in_the_study(tmp_path, slurm_cluster, core_image, pool):
    name = make_slurm_project(tmp_path, WHERE, UNI, trials=3, slurm=_container(core_image, pool=pool))
    summary = run_slurm(load_project(name), SlurmOptions(seed=4, progress=False))
    got = trials(name)
    assert summary.counts["COMPLETED"] == 3 and [t.state for t in got] == ["COMPLETED"] * 3, [t.error for t in got]
    assert all(t.value == pytest.approx(t.params["x"] ** 2) for t in got)
    assert {t.backend for t in got} == {"slurm-pool" if pool else "slurm"}
    wrote = sorted((tmp_path / "hpogrid-home").rglob("where.txt"))
    # the image's Python (/opt/hpogrid, absent on this host), after the job's setup lines
    assert len(wrote) == 3 and {p.read_text() for p in wrote} == {"/opt/hpogrid yes"}
    if pool:
        assert len({t.job_id for t in got}) <= 2  # three trials, two worker jobs


def test_a_missing_image_stops_slurm_run_before_any_job(tmp_path, slurm_cluster, core_image):
    from hpogrid.errors import ValidationError

    name = make_slurm_project(tmp_path, WHERE, UNI, trials=1,
                              slurm=_container(core_image, container="localhost/hpogrid-nothing:1", setup=[]))
    with pytest.raises(ValidationError, match=r"^slurm_config\.container: podman has no image "
                                              r"'localhost/hpogrid-nothing:1' "):
        run_slurm(load_project(name), SlurmOptions(progress=False))
    assert trials(name) == []


def test_a_job_the_runtime_cannot_start_fails_its_trial_with_the_runtimes_error(tmp_path, slurm_cluster, core_image):
    name = make_slurm_project(tmp_path, WHERE, UNI, trials=1, max_failures=1,
                              slurm=_container(core_image, container_args=[*HOST_ARGS, "--ulimit", "bogus=1"]))
    run_slurm(load_project(name), SlurmOptions(progress=False))
    (trial,) = trials(name)
    assert trial.state == "FAILED" and trial.error.startswith("Slurm: FAILED with exit code 125:0"), trial.error
    assert 'Error: ulimit option "bogus=1" requires name=SOFT:HARD' in trial.error
