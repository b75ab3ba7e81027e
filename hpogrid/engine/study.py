"""Which study a run records into, and where: answered once, here.

``--study`` (else the project's name) names the study; ``--study-url``, else
``$HPOGRID_STUDY_URL``, else the project's own SQLite file says where it lives. Every command
that opens a project's study (``local_run``, ``slurm_run``, ``workflow run``, ``report``, the
grid job) resolves a :class:`StudyTarget` the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

from hpogrid.errors import NotFoundError, ValidationError
from hpogrid.settings import Settings


@dataclass(frozen=True)
class StudyTarget:
    name: str
    url: str
    project: str

    @classmethod
    def resolve(cls, project, study: Optional[str] = None, study_url: Optional[str] = None,
                settings: Optional[Settings] = None) -> "StudyTarget":
        """The study of ``project`` (a loaded Project); ``study`` names another one in its store.
        The name names folders (trials/<study>, <study>_backup-N), so it must be a safe name."""
        from hpogrid.names import check_name
        from hpogrid.study import sqlite_url

        settings = settings or Settings.from_env()
        name = check_name(study or project.name, "study")
        url = study_url or settings.study_url or sqlite_url(project.path / "study.db")
        return cls(name=name, url=url, project=project.name)

    def open(self):
        """The study store (created on first use)."""
        from hpogrid.study import StudyStore

        return StudyStore(self.url)

    def open_for_run(self, objectives, attrs: Optional[Dict[str, Any]] = None):
        """The store, with the study created if new (``objectives``: an
        :class:`~hpogrid.objectives.Objectives`); a study that optimises something else is a
        one-line error (its trials could not be compared)."""
        from hpogrid.objectives import Objectives

        store = self.open()
        try:
            info = store.get_study(self.name)
        except NotFoundError:
            info = store.get_or_create_study(self.name, metric=objectives.metric, mode=objectives.mode,
                                             attrs={**(attrs or {}), **objectives.to_attrs()})
        stored = Objectives.from_study(info.metric, info.mode, info.attrs)
        if stored.items != objectives.items or stored.constraints != objectives.constraints:
            store.close()
            raise ValidationError("--study", f"study {self.name!r} optimises {_described(stored)} but the project "
                                  f"now asks for {_described(objectives)}; record this run in another study "
                                  "with --study NAME")
        return store


def _described(objectives) -> str:
    text = objectives.describe()
    if objectives.constraints:
        text += " subject to " + ", ".join(str(c) for c in objectives.constraints)
    return text
