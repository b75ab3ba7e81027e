"""Read-only access to one study for reports and notebooks: ``load(...)``.

    view = load("mnist")
    view.objectives                 # Objectives: metrics, modes, constraints
    view.best_trial                 # one objective: the best feasible trial
    view.best_trials                # several: the Pareto front (one: the best, ties included)
    view.to_dataframe()             # + feasible / pareto / pareto_rank when they mean something

pandas is imported inside :meth:`StudyView.to_dataframe` only (numpy when a front is
computed), so the CLI and the backends never pay for it.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Union

from hpogrid.errors import NotFoundError, StudyError
from hpogrid.objectives import Objectives
from hpogrid.study.engine import safe_url, sqlite_path, sqlite_url
from hpogrid.study.records import COMPLETED, StudyInfo, TrialRecord
from hpogrid.study.standing import standing, study_objectives
from hpogrid.study.store import StudyStore
from hpogrid.study.target import StudyTarget

#: columns of :meth:`StudyView.to_dataframe` before the ``param.*`` and ``metric.*`` ones
BASE_COLUMNS = (
    "number", "uid", "state", "value", "backend", "host", "site", "job_id", "task_id",
    "error", "created_at", "started_at", "finished_at", "heartbeat_at", "duration_s",
    "iterations",
)
_DATETIME_COLUMNS = ("created_at", "started_at", "finished_at", "heartbeat_at")
#: columns after :data:`BASE_COLUMNS` of a multi-objective or constrained study
STANDING_COLUMNS = ("feasible", "pareto", "pareto_rank")


class StudyView:
    """One study of one store; every attribute reads the database afresh."""

    def __init__(self, store: StudyStore, study: str):
        self.store = store
        self.name = study
        self.info: StudyInfo = store.get_study(study)

    def __repr__(self) -> str:
        return f"StudyView({self.store.url!r}, {self.name!r})"

    def __enter__(self) -> "StudyView":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    @property
    def trials(self) -> list[TrialRecord]:
        return self.store.trials(self.name)

    @property
    def objectives(self) -> Objectives:
        """What the study optimises: its objectives (the first is the primary one, kept in the
        study's metric/mode) and outcome constraints."""
        return study_objectives(self.info)

    @property
    def best_trial(self) -> Optional[TrialRecord]:
        """The best feasible COMPLETED trial of a single-objective study (ties: lowest number).

        A multi-objective study has no single best trial: :class:`StudyError` pointing to
        :attr:`best_trials`.
        """
        objectives = self.objectives
        if objectives.is_multi:
            raise StudyError(f"study {self.name!r} optimises several objectives ({objectives.describe()}): "
                             "it has no single best trial; use best_trials (its Pareto front)")
        return self.store.best_trial(self.name)

    @property
    def best_trials(self) -> list[TrialRecord]:
        """The Pareto front, by number: the COMPLETED, feasible trials with a finite value of
        every objective that no other such trial dominates. With one objective: the best
        trial and any tied with it."""
        done = self.store.trials(self.name, COMPLETED)
        marks = standing(self.objectives, done)
        return [t for t, on in zip(done, marks.pareto) if on]

    def counts(self) -> dict[str, int]:
        return self.store.counts(self.name)

    def to_dataframe(self, states: Any = None):
        """One row per trial: :data:`BASE_COLUMNS`, then ``param.<name>`` and
        ``metric.<name>`` (nested dicts flattened with dots), datetimes as UTC.

        A multi-objective or constrained study has :data:`STANDING_COLUMNS` after the base
        ones: ``feasible`` (nullable boolean, known for COMPLETED trials only), ``pareto``
        (on the front, see :attr:`best_trials`) and ``pareto_rank`` (0 = the front, 1 = the
        front of the rest, ...; null for trials not eligible).
        """
        import pandas as pd

        objectives = self.objectives
        marked = objectives.is_multi or bool(objectives.constraints)
        trials = self.store.trials(self.name, states)
        marks = standing(objectives, trials, ranks=True) if marked else None
        rows = []
        for i, t in enumerate(trials):
            row: dict = {
                "number": t.number, "uid": t.uid, "state": t.state, "value": t.value,
                "backend": t.backend, "host": t.host, "site": t.site, "job_id": t.job_id,
                "task_id": t.task_id, "error": t.error, "created_at": t.created_at,
                "started_at": t.started_at, "finished_at": t.finished_at,
                "heartbeat_at": t.heartbeat_at, "duration_s": t.duration_s,
                "iterations": len(t.intermediate),
            }
            if marks is not None:
                row.update(feasible=marks.feasible[i], pareto=marks.pareto[i], pareto_rank=marks.rank[i])
            row.update(flatten(t.params, "param."))
            row.update(flatten(t.metrics, "metric."))
            rows.append(row)
        columns = list(BASE_COLUMNS) + (list(STANDING_COLUMNS) if marked else [])
        seen = set(columns)
        for prefix in ("param.", "metric."):
            for row in rows:
                for key in row:
                    if key.startswith(prefix) and key not in seen:
                        seen.add(key)
                        columns.append(key)
        df = pd.DataFrame(rows, columns=columns)
        for col in _DATETIME_COLUMNS:
            df[col] = pd.to_datetime(df[col], utc=True)
        df["value"] = df["value"].astype("float64")
        df["duration_s"] = df["duration_s"].astype("float64")
        if marked:
            df["feasible"] = df["feasible"].astype("boolean")
            df["pareto"] = df["pareto"].astype("bool")
            df["pareto_rank"] = df["pareto_rank"].astype("Int64")
        return df


def flatten(doc: dict, prefix: str) -> dict:
    """``{"a": {"b": 1}}`` -> ``{prefix + "a.b": 1}``; lists stay values."""
    out: dict = {}
    for key, val in doc.items():
        if isinstance(val, dict) and val:
            out.update(flatten(val, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = val
    return out


def target_of(project_or_url: Union[str, os.PathLike], study: Optional[str] = None) -> StudyTarget:
    """The study :func:`load` opens: a project name goes by :meth:`StudyTarget.existing` (as
    ``hpogrid report`` does); a URL or path names a store, which without ``study`` must hold
    exactly one study."""
    if not isinstance(project_or_url, os.PathLike) and "://" not in project_or_url:
        return StudyTarget.existing(project_or_url, study)
    url = sqlite_url(project_or_url) if isinstance(project_or_url, os.PathLike) else project_or_url
    db = sqlite_path(url)
    if db is not None and not db.is_file():  # opening it would create an empty database
        raise NotFoundError(f"no SQLite study store at {db}")
    if study is None:
        with StudyStore(url, access="read") as store:
            names = [s.name for s in store.list_studies()]
        if len(names) != 1:
            listed = ", ".join(names) if names else "none"
            raise StudyError(f"{safe_url(url)} holds {len(names)} studies ({listed}): name one with study=")
        study = names[0]
    return StudyTarget(name=study, url=url)


def load(project_or_url: Union[str, os.PathLike], study: Optional[str] = None) -> StudyView:
    """Open a study for reading (read-only: nothing is created or written).

    ``project_or_url`` is a project name (its study store as for ``hpogrid report``:
    ``$HPOGRID_STUDY_URL``, else its ``study.db``; default study = project name), a SQLAlchemy
    URL (anything containing ``://``) or a ``pathlib.Path`` to a SQLite file. Without
    ``study`` on a URL or path, the store must hold exactly one study.
    """
    store, info = target_of(project_or_url, study).open_read_only()
    return StudyView(store, info.name)
