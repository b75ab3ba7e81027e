"""Ray's own processes of a run: a private temp folder per driver, and reaping the processes
of an earlier run whose driver was killed (-9) before it could shut Ray down."""
from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path


def ray_temp_dir() -> str:
    # short (Ray's socket paths must stay under ~107 chars) and unique per driver process
    return f"/tmp/hpogrid-ray-{os.getpid()}"


def _record(project_path: Path) -> Path:
    return project_path / f".ray-run-{os.getpid()}.json"


def note_ray_run(project_path: Path) -> None:
    """Before Ray starts: which driver runs which Ray folder, for :func:`reap_orphans`."""
    _record(project_path).write_text(json.dumps({"driver": os.getpid(), "temp_dir": ray_temp_dir()}))


def forget_ray_run(project_path: Path) -> None:
    _record(project_path).unlink(missing_ok=True)
    shutil.rmtree(ray_temp_dir(), ignore_errors=True)


def _alive(pid: int) -> bool:
    """Is ``pid`` still a Python process (not a pid the kernel reused for something else)?"""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"python" in fh.read()
    except OSError:
        return False


def reap_orphans(project_path: Path) -> None:
    """Stop the Ray processes of earlier runs of this project whose driver was killed (-9).

    Every Ray process of a run carries the run's own temp folder on its command line; runs
    whose driver is still alive (concurrent runs on one study) are left alone.
    """
    for record in project_path.glob(".ray-run-*.json"):
        try:
            info = json.loads(record.read_text())
            driver, temp_dir = int(info["driver"]), str(info["temp_dir"])
        except (OSError, ValueError, KeyError, TypeError):
            record.unlink(missing_ok=True)
            continue
        if driver == os.getpid() or _alive(driver):
            continue
        needle = temp_dir.encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if needle in (proc / "cmdline").read_bytes():
                    os.kill(int(proc.name), signal.SIGKILL)
            except OSError:
                continue
        shutil.rmtree(temp_dir, ignore_errors=True)
        record.unlink(missing_ok=True)
