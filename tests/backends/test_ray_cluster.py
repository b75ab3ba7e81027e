"""``local_run --address``: the same run on an existing Ray cluster (head + one worker node)."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpogrid.backends import RunOptions, run_local
from hpogrid.project import load_project
from hpogrid.study import load
from tests.backends.helpers import BARRIER, make_project

pytestmark = pytest.mark.slow
RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    port = _free_port()
    temp = f"/tmp/hpogrid-test-cluster-{os.getpid()}"
    head = [RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=1",
            "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"]
    r = subprocess.run(head, env=env, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        pytest.skip(f"could not start a Ray head on 127.0.0.1: {r.stderr.strip()[-300:]}")
    address = f"127.0.0.1:{port}"
    try:
        worker = [RAY, "start", f"--address={address}", "--node-ip-address=127.0.0.1", "--num-cpus=1",
                  "--resources={\"worker_node\": 1}"]
        r = subprocess.run(worker, env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-1000:]
        yield address
    finally:
        _stop(temp)  # only this cluster: `ray stop` would end every Ray process on the machine


def _stop(temp: str) -> None:
    """End the processes whose command line names this cluster's folder (their workers follow)."""
    def ours():
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if temp.encode() in open(f"/proc/{pid}/cmdline", "rb").read():
                    pids.append(int(pid))
            except OSError:
                pass
        return pids

    for sig, grace in ((signal.SIGTERM, 2), (signal.SIGKILL, 10)):  # (some ignore SIGTERM for long)
        for pid in ours():
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.time() + grace
        while ours() and time.time() < deadline:
            time.sleep(0.2)
    shutil.rmtree(temp, ignore_errors=True)


def test_local_run_on_an_existing_cluster(tmp_path, cluster):
    # trials meet in pairs (BARRIER): two run at once, so with one CPU per node both nodes run one
    meet = tmp_path / "meet"
    meet.mkdir()
    name = make_project(tmp_path, BARRIER, {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}},
                        param={"dir": str(meet), "n": 2, "total": 8},
                        algorithm="random", trials=8, scheduler="fifo", scheduler_param={"max_concurrent": 2})
    summary = run_local(load_project(name), RunOptions(address=cluster, progress=False))
    trials = load(name).trials
    assert summary.counts["COMPLETED"] == 8 and all(t.state == "COMPLETED" for t in trials)
    assert {t.backend for t in trials} == {"ray"}
    # two trials met while both ran, one per node (one CPU each): both nodes ran trials
    assert max(t.metrics["peak"] for t in trials) == 2
    assert len({t.metrics["node"] for t in trials}) == 2
