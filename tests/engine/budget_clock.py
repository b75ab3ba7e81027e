"""A clock the stop rules read, moved by the trials themselves (fake backend: same process).

Each trial calls :func:`trial`: it moves the clock on by ``STEP_S`` and returns the next
of ``LOSSES``; from the ``HOLD_FROM``-th trial on it then holds until the test sets
``RELEASE``, so a trial is provably running when the rules look. Nothing waits on real time.
"""
import threading

NOW = [0.0]
STEP_S = [3600.0]
LOSSES: list = []
HOLD_FROM = [0]
STARTED = [0]
RELEASE = threading.Event()


def clock() -> float:
    return NOW[0]


def reset(losses=(), step_s=3600.0, hold_from=0) -> None:
    NOW[0], STEP_S[0], STARTED[0], HOLD_FROM[0] = 0.0, step_s, 0, hold_from
    LOSSES[:] = list(losses)
    RELEASE.clear()


def trial():
    STARTED[0] += 1
    n = STARTED[0]
    NOW[0] += STEP_S[0]
    if HOLD_FROM[0] and n >= HOLD_FROM[0]:
        RELEASE.wait(60)
    return LOSSES[n - 1] if n <= len(LOSSES) else 1.0


SCRIPT = """
from tests.engine import budget_clock

def objective(config):
    value = budget_clock.trial()
    if isinstance(value, tuple):
        return {"loss": value[0], "latency": value[1]}
    return {"loss": value}
"""
