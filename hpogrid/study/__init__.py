"""The study store: the one place every backend writes trials and every report reads them.

    from hpogrid.study import StudyStore, sqlite_url, load

    store = StudyStore(sqlite_url("study.db"))         # or postgresql://..., mysql+pymysql://...
    store.get_or_create_study("mnist", metric="loss", mode="min")
    store.upsert_trial("mnist", "ray-0001", state="RUNNING", params={"lr": 0.1})
    store.append_intermediate("mnist", "ray-0001", {"loss": 0.5, "epoch": 1})
    store.upsert_trial("mnist", "ray-0001", state="COMPLETED", metrics={"loss": 0.4})
    load("mnist").to_dataframe()                        # project name, URL or Path (read-only)
    StudyTarget.existing("mnist").open_read_only()      # which study a reader means, resolved once

Importing this package loads SQLAlchemy but never pandas or ray.
"""
from hpogrid.study.best import BestSoFar, best_so_far
from hpogrid.study.engine import redact_text, safe_url, sqlite_url
from hpogrid.study.records import (
    BACKENDS,
    COMPLETED,
    FAILED,
    FINISHED_STATES,
    INTERRUPTED,
    MODES,
    PENDING,
    RUNNING,
    STATES,
    StudyInfo,
    TrialRecord,
    TrialState,
)
from hpogrid.study.store import TRIAL_FIELDS, StudyStore
from hpogrid.study.target import StudyTarget
from hpogrid.study.view import StudyView, load

__all__ = [
    "BACKENDS",
    "BestSoFar",
    "COMPLETED",
    "FAILED",
    "FINISHED_STATES",
    "INTERRUPTED",
    "MODES",
    "PENDING",
    "RUNNING",
    "STATES",
    "TRIAL_FIELDS",
    "StudyInfo",
    "StudyStore",
    "StudyTarget",
    "StudyView",
    "TrialRecord",
    "TrialState",
    "best_so_far",
    "load",
    "safe_url", "redact_text",
    "sqlite_url",
]
