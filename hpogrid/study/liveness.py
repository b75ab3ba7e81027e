"""Telling live trials from trials of a run that died.

A live run refreshes ``heartbeat_at`` of the trials it runs every
:attr:`hpogrid.settings.Settings.heartbeat_s` seconds, even when a trial reports nothing for
hours. A trial of those backends that stayed PENDING or RUNNING without a heartbeat for
``stale_after_s`` seconds (``$HPOGRID_STALE_AFTER_S``, default 120) belongs to a run that
was killed (kill -9, node failure): readers (a run on a shared study, ``hpogrid report``)
mark it INTERRUPTED, so nothing shows RUNNING forever, and the trials of a live run are never
touched. Grid trials are synchronised from PanDA on demand, not by a heartbeat, so they
are left alone.
"""
from hpogrid.study.records import PENDING, RUNNING

#: backends whose runs send heartbeats (the only ones marked stale)
HEARTBEAT_BACKENDS = ("local", "ray", "slurm", "fake")


def mark_dead_runs(store, study: str, stale_after_s: float) -> int:
    """Mark INTERRUPTED the PENDING/RUNNING trials of ``study`` whose run stopped sending
    heartbeats for ``stale_after_s`` seconds; returns how many."""
    return store.mark_stale(study, stale_after_s, backends=HEARTBEAT_BACKENDS, states=(PENDING, RUNNING))
