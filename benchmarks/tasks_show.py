"""HTTP requests and wall time of ``hpogrid tasks show --metadata`` for 1000 tasks.

A PanDA test server on 127.0.0.1 (tests/grid/panda_server) holds ``--tasks`` finished tasks,
each with one job whose metadata has a few trials. The real CLI (a subprocess, so start-up
is included) lists them with their metadata three times:

* ``cold``: empty cache: one listing request, one for the PandaIDs of the tasks
  (``task/get_tasks_modified_since``) and one for those jobs' records with their metadata
  (``job/get_description_incl_archive``);
* ``warm``: the same again; finished tasks unchanged since are served from the local cache;
* ``plain``: without ``--metadata`` (one listing request).

Target (issue: tasks show): <= 3 requests for 1000 tasks; the ratio printed is requests /
target for each case. hpogrid 1.3.3 fetched metadata task by task on every call (1 + N).

Run: ``.venv/bin/python benchmarks/tasks_show.py [--tasks 1000]``.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TARGET = 3


def metadata(i, serial):
    trials = [{"uid": f"t{k}", "state": "COMPLETED", "params": {"x": k / 10}, "metrics": {"loss": k},
               "value": k} for k in range(3)]
    return {"project": "bench", "seed": i, "metric": "loss", "mode": "min", "trials": trials, "best": trials[0]}


def main() -> None:
    from tests.grid.panda_server.server import PandaTestServer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hpogrid-bench-") as tmp:
        server = PandaTestServer(Path(tmp) / "server").start()
        try:
            server.add_fake_tasks(args.tasks, metadata=metadata)
            env = {**os.environ, "HPOGRID_HOME": str(Path(tmp) / "home"), "PANDA_URL": server.url,
                   "PANDA_URL_SSL": server.url, "PANDACACHE_URL": server.url, "PANDA_BEHIND_REAL_LB": "1"}
            env.pop("X509_USER_PROXY", None)
            env.pop("PANDA_AUTH", None)
            print(f"{args.tasks} finished tasks; target <= {TARGET} requests")
            for label, extra in (("cold", ["--metadata"]), ("warm", ["--metadata"]), ("plain", [])):
                before = sum(server.request_counts.values())
                t0 = time.perf_counter()
                r = subprocess.run([sys.executable, "-m", "hpogrid", "tasks", "show", "--limit", str(args.tasks),
                                    *extra, "--output", str(Path(tmp) / f"{label}.json")],
                                   env=env, capture_output=True, text=True)
                seconds = time.perf_counter() - t0
                if r.returncode != 0:
                    raise SystemExit(f"{label}: tasks show failed: {r.stderr.strip()[-500:]}")
                requests = sum(server.request_counts.values()) - before
                print(f"{label:>5}: {requests:5d} requests ({requests / TARGET:7.2f} x target), {seconds:6.2f} s")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
