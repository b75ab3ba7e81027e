"""A long-lived worker of ``slurm_run --pool K``: one Slurm job that runs trial after trial.

Run as ``python -m hpogrid.backends.slurm._worker POOL_JSON`` by the job the driver submits.
It takes the next trial the driver queued in the study store (an atomic claim, so of several
workers each gets a different one), runs it in its folder as a Slurm job per trial would
(:mod:`hpogrid.objective.standalone`, in a child process so a crash is the trial's, not the
worker's), and asks again. It stops when the driver says so (``stop`` in the run folder) or
when the driver has stopped touching ``driver.alive`` for the stale timeout (it died).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

STOP_FILE = "stop"
ALIVE_FILE = "driver.alive"
POOL_FILE = "pool.json"


def driver_gone(run_dir: Path, stale_after_s: float) -> bool:
    try:
        return time.time() - (run_dir / ALIVE_FILE).stat().st_mtime > stale_after_s
    except OSError:
        return True


def main(pool_file: str) -> int:
    from hpogrid.objective import standalone
    from hpogrid.study import StudyStore

    spec = json.loads(Path(pool_file).read_text())
    run_dir, trials_root = Path(spec["run_dir"]), Path(spec["trials_root"])
    job_id, host = os.environ.get("SLURM_JOB_ID") or f"pid{os.getpid()}", socket.gethostname()
    store = StudyStore(spec["store_url"])
    try:
        while not (run_dir / STOP_FILE).exists() and not driver_gone(run_dir, spec["stale_after_s"]):
            trial = store.claim_pending(spec["study"], spec["backend"], job_id=job_id, host=host)
            if trial is None:
                time.sleep(spec["poll_interval"])
                continue
            folder = trials_root / trial.uid
            # a trial queued again (its first worker died): the answers given to the lost attempt
            # are not this one's (the driver answers its reports afresh)
            standalone.clear_decision(folder)
            with open(folder / standalone.STDOUT_FILE, "ab") as out, \
                    open(folder / standalone.STDERR_FILE, "ab") as err:
                subprocess.run([sys.executable, "-m", standalone.__name__, str(folder)], cwd=folder, stdout=out,
                               stderr=err, stdin=subprocess.DEVNULL)
            result = standalone.read_result(folder)
            if result is not None and result.pop("terminated", False):
                # this worker lives on, so the SIGTERM was the trial's alone: its own end (a
                # cancelled or preempted worker dies with it, and the driver runs the trial again)
                standalone.write_json(folder / standalone.RESULT_FILE, result)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
