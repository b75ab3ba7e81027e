"""Telling live trials from trials of a run that died.

A live ``local_run`` or ``slurm_run`` refreshes ``heartbeat_at`` of the trials it runs every
:func:`heartbeat_period` seconds, even when a trial reports nothing for hours. A trial of
those backends that stayed PENDING or RUNNING without a heartbeat for
:func:`stale_after_s` seconds belongs to a run that was killed (kill -9, node failure):
readers (``local_run``/``slurm_run`` on a shared study, ``hpogrid report``) mark it
INTERRUPTED, so nothing shows RUNNING forever, and the trials of a live run are never
touched. Grid trials are synchronised from PanDA on demand, not by a heartbeat, so they
are left alone.
"""
import os

from hpogrid.errors import ValidationError
from hpogrid.study.records import PENDING, RUNNING

#: seconds between heartbeats of a live run
HEARTBEAT_S = 10.0
#: a trial silent this long (12 missed heartbeats) belongs to a dead run
STALE_AFTER_S = 120.0
#: environment variable overriding :data:`STALE_AFTER_S` (seconds)
STALE_ENV = "HPOGRID_STALE_AFTER_S"
#: backends whose runs send heartbeats (the only ones marked stale)
HEARTBEAT_BACKENDS = ("local", "ray", "slurm")


def stale_after_s() -> float:
    """:data:`STALE_AFTER_S`, or ``$HPOGRID_STALE_AFTER_S`` (a number > 0)."""
    text = os.environ.get(STALE_ENV)
    if text is None or not text.strip():
        return STALE_AFTER_S
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValidationError(STALE_ENV, f"expected a number of seconds > 0, got {text!r}")
    return value


def heartbeat_period() -> float:
    """Seconds between heartbeats: :data:`HEARTBEAT_S`, shorter when the stale timeout is
    set below 4 heartbeats (so a live run is never mistaken for a dead one)."""
    return min(HEARTBEAT_S, stale_after_s() / 4)


def mark_dead_runs(store, study: str) -> int:
    """Mark INTERRUPTED the PENDING/RUNNING trials of ``study`` whose run stopped sending
    heartbeats; returns how many."""
    return store.mark_stale(study, stale_after_s(), backends=HEARTBEAT_BACKENDS, states=(PENDING, RUNNING))
