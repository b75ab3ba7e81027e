"""Waiting for a condition another process brings about: poll it with a deadline, and fail at
once (with the process's output) if that process ended first. Tests hold work and release it;
this only waits for the state the test is about to act on, never for a guessed duration."""
import subprocess
import time
from typing import Callable, Optional


def wait_for(condition: Callable[[], object], proc: Optional[subprocess.Popen], what: str,
             limit: float = 120.0, poll: float = 0.1) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert proc is None or proc.poll() is None, f"the run ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"no {what} within {limit} s"
        time.sleep(poll)
