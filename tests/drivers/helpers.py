"""What the detached-driver tests share (local and Slurm): waiting on a driver with its logs
shown when it does not come, and reading its one record."""
import json
import time

from hpogrid import paths


def wait_driver(what, check, deadline_s=90.0, poll_s=0.1):
    """``check()``'s first truthy value; on timeout, fail with the tail of every driver log."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(poll_s)
    logs = "".join(p.read_text()[-3000:] for p in paths.projects_dir().glob("*/drivers/*.log"))
    raise AssertionError(f"timed out waiting for {what}; driver logs:\n{logs}")


def driver_record(name):
    """The project's one driver record (None: none or several)."""
    found = list((paths.project_dir(name) / "drivers").glob("*.json"))
    return json.loads(found[0].read_text()) if len(found) == 1 else None
