"""A run's container plan (checked before any trial), the payload a Slurm job or a local container
run executes, and the setup script that starts it (run for real with /bin/sh)."""
import subprocess
import sys
from pathlib import Path

import pytest

from hpogrid.backends.container_run import ContainerPlan, job_script, payload, plan
from hpogrid.containers import REGISTRY
from hpogrid.errors import ValidationError


def test_without_a_container_the_payload_is_the_drivers_own_python(tmp_path):
    assert payload(None, None, ["-m", "hpogrid.objective.standalone", "t"], tmp_path) == \
        [sys.executable, "-m", "hpogrid.objective.standalone", "t"]


def test_a_slurm_job_asking_for_a_gpu_gets_the_runtimes_gpu_flag(tmp_path):
    from hpogrid.backends.slurm._executor import payload as slurm_payload

    for runtime, flag in (("apptainer", ["--nv"]), ("podman", ["--device", "nvidia.com/gpu=all"])):
        container = ContainerPlan(REGISTRY[runtime](), "img", [], [tmp_path])
        with_gpu = slurm_payload({"gres": "gpu:1"}, container, None, ["-m", "x"], tmp_path)
        without = slurm_payload({"gres": None}, container, None, ["-m", "x"], tmp_path)
        assert " ".join(flag) in " ".join(with_gpu) and " ".join(flag) not in " ".join(without)
        assert with_gpu[-2:] == ["-m", "x"] and "python3" in with_gpu  # the image's Python, not ours


def test_the_plan_binds_the_project_the_run_and_a_sqlite_stores_folder(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "apptainer"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    (tmp_path / "img.sif").write_text("")
    project, run_dir, store = tmp_path / "project", tmp_path / "logs" / "run", tmp_path / "studies"
    (project / "scripts").mkdir(parents=True)
    got = plan({"container": str(tmp_path / "img.sif"), "container_args": ["--bind", str(project)]}, project,
               run_dir, f"sqlite:///{store}/p.db", "slurm_config.", installed=True)
    assert got is not None and got.runtime.name == "apptainer"  # the only one installed
    assert got.image == str(tmp_path / "img.sif")
    monkeypatch.chdir(tmp_path)  # a relative .sif path: absolute in the job (which starts in its trial folder)
    assert plan({"container": "img.sif"}, project, run_dir, "sqlite:///x.db", "", installed=True).image == \
        str(tmp_path / "img.sif")
    assert set(got.binds) == {project, run_dir, store}
    assert plan({"container": None}, project, run_dir, "sqlite:///x.db", "", installed=True) is None
    with pytest.raises(ValidationError, match=r"^slurm_config\.container: no image file"):
        plan({"container": str(tmp_path / "other.sif")}, project, run_dir, "sqlite:///x.db", "slurm_config.",
             installed=True)


def test_the_job_script_runs_the_setup_lines_then_its_arguments(tmp_path):
    script = job_script(tmp_path / "job.sh", ["export HPOGRID_SETUP=done", "cd /"], "a test")
    out = subprocess.run([str(script), "sh", "-c", 'echo "$HPOGRID_SETUP $PWD" "$0"', "arg with 'quotes' $x"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == "done / arg with 'quotes' $x"
    # a setup line that fails stops the job before its payload, with the shell's own error
    failing = job_script(tmp_path / "bad.sh", ["module load nothing-here"], "a test")
    out = subprocess.run([str(failing), "touch", str(tmp_path / "ran")], capture_output=True, text=True)
    assert out.returncode != 0 and "module" in out.stderr and not (tmp_path / "ran").exists()
    bare = job_script(tmp_path / "bare.sh", [], "a test").read_text()
    assert bare.splitlines()[-1] == 'exec "$@"' and "set -e" not in bare


#: a runtime that ignores SIGTERM (as a trial that goes on) and logs each call, a ``podman rm`` included
FAKE_PODMAN = """#!/bin/sh
echo "$@" >> {log}
[ "$1" = run ] || exit 0
trap '' TERM
touch started
while :; do sleep 0.1; done
"""


def test_the_local_executor_removes_each_container_whose_run_it_kills(tmp_path, monkeypatch):
    import os
    import time

    from hpogrid.backends import container_local
    from hpogrid.engine import TrialRun
    from hpogrid.study.records import INTERRUPTED

    log, bin_dir = tmp_path / "calls.log", tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "podman").write_text(FAKE_PODMAN.format(log=log))
    (bin_dir / "podman").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(container_local, "TERM_GRACE_S", 0.2)  # close: SIGTERM, then SIGKILL soon after
    executor = container_local.ContainerExecutor(2, ContainerPlan(REGISTRY["podman"](), "img", [], []), [], tmp_path,
                                                 dict(os.environ), tmp_path, "my study")
    runs = [TrialRun(uid, i, {}, tmp_path / uid) for i, uid in enumerate(("t-0", "t-1"))]
    for run in runs:
        run.folder.mkdir()
        executor.start(run)
    deadline = time.monotonic() + 60
    while not all((run.folder / "started").exists() for run in runs):
        assert time.monotonic() < deadline, log.read_text() if log.exists() else "no call"
        time.sleep(0.05)
    (ended,) = executor.cancel(["t-0"], "interrupted by the user", hurry=True)  # a second Ctrl-C
    assert ended.state == INTERRUPTED
    executor.close()  # t-1 ignores the SIGTERM: killed after the grace period
    calls = log.read_text().splitlines()
    assert sorted(c.split()[c.split().index("--name") + 1] for c in calls if c.startswith("run ")) == \
        ["hpogrid-my_study-t-0", "hpogrid-my_study-t-1"]
    assert [c for c in calls if not c.startswith("run ")] == ["rm --force --ignore --time 0 hpogrid-my_study-t-0",
                                                              "rm --force --ignore --time 0 hpogrid-my_study-t-1"]
