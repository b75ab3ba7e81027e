"""``local_run --container``: each trial one podman run of the image docker/build.sh builds (the
core profile), for real; the trial folder is bind-mounted (what the trial writes there is on the
host), its result lands in the study. Bad input is one line before any trial starts; a trial
the runtime cannot start fails with the runtime's own error. Skipped where podman is missing."""
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from tests.conftest import tree_snapshot
from tests.projects import make_project
from tests.waiting import wait_for

pytestmark = pytest.mark.slow
#: what podman needs on this machine (crun fails on its hybrid cgroups; explicit limits)
HOST_ARGS = " ".join((["--runtime", "runc"] if shutil.which("runc") else [])
                     + ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"])
#: the trial says where it ran: the image's Python is /opt/hpogrid's (absent on this host)
WHERE = """
import sys
from pathlib import Path

def objective(config):
    Path("where.txt").write_text(sys.prefix)  # the working directory: the trial folder
    return {"loss": config["x"] ** 2}
"""


def study_trials(name):
    from hpogrid import paths
    from hpogrid.study import StudyStore, sqlite_url

    return StudyStore(sqlite_url(paths.study_db(name))).trials(name)


def test_each_trial_runs_in_the_image_and_its_result_lands_in_the_study(run_cli, tmp_path, core_image):
    name = make_project(tmp_path, WHERE, trials=3)
    r = run_cli("local_run", name, "--container", core_image, "--container_runtime", "podman",
                "--container_args", HOST_ARGS, "--n_jobs", "2", "--seed", "1")
    assert r.exit_code == 0, r.output
    trials = study_trials(name)
    assert [t.state for t in trials] == ["COMPLETED"] * 3, [t.error for t in trials]
    assert all(t.value == pytest.approx(t.params["x"] ** 2) and t.backend == "local" for t in trials)
    wrote = sorted((tmp_path / "hpogrid-home").rglob("where.txt"))
    assert len(wrote) == 3 and {p.read_text() for p in wrote} == {"/opt/hpogrid"}
    assert all(p.stat().st_uid == os.getuid() for p in wrote)  # the user's files, not the image user's


@pytest.mark.parametrize("args, line", [
    (["--container", "localhost/hpogrid-nothing:1", "--container_runtime", "podman"],
     "Error: --container: podman has no image 'localhost/hpogrid-nothing:1' (podman pull or build it first; "
     "'podman images' lists those there are)"),
    (["--container", "IMAGE", "--container_runtime", "podman", "--container_args", "-v /no/such/data:/data"],
     "Error: --container_args: bind of '/no/such/data': no such file or folder on this host"),
    (["--container", "/no/such/image.sif", "--container_runtime", "apptainer"],
     "Error: --container_runtime: apptainer is not installed here (not in PATH); install it or choose another of: "
     "apptainer, singularity, podman"),
])
def test_bad_container_input_is_one_line_before_any_trial(run_cli, tmp_path, core_image, args, line):
    name = make_project(tmp_path, WHERE, trials=1)
    home = tmp_path / "hpogrid-home"
    before = tree_snapshot(home)
    r = run_cli("local_run", name, *[core_image if a == "IMAGE" else a for a in args])
    assert r.exit_code != 0 and r.output.strip() == line
    assert tree_snapshot(home) == before  # nothing on disk changed


def test_a_trial_the_runtime_cannot_start_fails_with_the_runtimes_own_error(run_cli, tmp_path, core_image):
    name = make_project(tmp_path, WHERE, trials=1, max_failures=1)
    r = run_cli("local_run", name, "--container", core_image, "--container_runtime", "podman",
                "--container_args", f"{HOST_ARGS} --ulimit bogus=1")
    (trial,) = study_trials(name)
    assert trial.state == "FAILED", r.output
    assert trial.error.startswith("podman exited with code 125 and the trial left no result: ")
    assert 'Error: ulimit option "bogus=1" requires name=SOFT:HARD' in trial.error


CURVES = """
from hpogrid.trial import report

CURVES = {0: (0.3, 1.0), 1: (2.0, 0.5), 2: (0.4, 1.0)}

def objective(config):
    final, a = CURVES[config["c"]]
    for step in range(1, 10):
        if report(step, loss=final * (1 + a / step)):
            return
"""


def test_asha_stops_a_hopeless_trial_inside_its_container(run_cli, tmp_path, core_image):
    # a grid run one trial at a time: the first has nobody to compare with, the second is far worse at step 1
    grid = {"c": {"method": "categorical", "dimension": {"categories": [0, 1, 2], "grid_search": 1}}}
    name = make_project(tmp_path, CURVES, grid, algorithm="tune", trials=3, scheduler="asynchyperband",
                        scheduler_param={"max_t": 9, "grace_period": 1, "reduction_factor": 3},
                        stop={"training_iteration": 9})
    r = run_cli("local_run", name, "--container", core_image, "--container_runtime", "podman",
                "--container_args", HOST_ARGS, "--n_jobs", "1")
    assert r.exit_code == 0, r.output
    by_c = {t.params["c"]: t for t in study_trials(name)}
    assert [t.state for t in by_c.values()] == ["COMPLETED"] * 3, [t.error for t in by_c.values()]
    assert len(by_c[0].intermediate) == 9 and "stopped_early" not in by_c[0].annotations
    assert by_c[1].annotations["stopped_early"]["at"] == 1 and [m["step"] for m in by_c[1].intermediate] == [1]


#: a trial that only a hard kill ends: it says it started, and says it got the SIGTERM of the
#: first Ctrl-C but goes on (the trial folder is bind-mounted: the test sees both files)
STUBBORN = """
import signal
import time
from pathlib import Path

def objective(config):
    signal.signal(signal.SIGTERM, lambda *_: Path("got-sigterm").touch())
    Path("started").touch()
    while not Path("release").exists():  # never released: a hard kill ends it
        time.sleep(0.2)
    return {"loss": 0.0}
"""


def podman_containers(*args):
    out = subprocess.run(["podman", "ps", "-a", "--format", "json", *args], capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout or "[]")


def test_a_second_ctrl_c_leaves_no_container_running(tmp_path, core_image):
    name = make_project(tmp_path, STUBBORN, trials=1)
    home = tmp_path / "hpogrid-home"
    mine = lambda: [c for c in podman_containers() if str(tmp_path) in json.dumps(c)]  # noqa: E731
    proc = subprocess.Popen([sys.executable, "-m", "hpogrid", "local_run", name, "--container", core_image,
                             "--container_runtime", "podman", "--container_args", HOST_ARGS],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: list(home.rglob("started")), proc, "trial started in its container", limit=180)
        named = podman_containers("--filter", f"name=^hpogrid-{name}-")  # while it runs
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the trial is sent SIGTERM, and ignores it
        wait_for(lambda: list(home.rglob("got-sigterm")), proc, "SIGTERM in the container", limit=180)
        proc.send_signal(signal.SIGINT)  # a second Ctrl-C: stop now
        output = proc.communicate(timeout=180)[0]
        assert proc.returncode == 130, output
        assert mine() == []  # nothing left running, nor stopped, once hpogrid has exited
        (trial,) = study_trials(name)
        assert trial.state == "INTERRUPTED", trial.error
        assert [c["Names"] for c in named] == [[f"hpogrid-{name}-{trial.uid}"]]
    finally:
        if proc.poll() is None:
            proc.kill()
        strays = [c["Id"] for c in mine()]
        if strays:
            subprocess.run(["podman", "rm", "--force", "--time", "0", *strays], capture_output=True, timeout=120)
