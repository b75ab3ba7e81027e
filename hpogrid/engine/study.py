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

    def open_for_run(self, metric: str, mode: str, attrs: Optional[Dict[str, Any]] = None):
        """The store, with the study created if new; a study that optimises something else is
        a one-line error (its trials could not be compared)."""
        store = self.open()
        try:
            info = store.get_study(self.name)
        except NotFoundError:
            info = store.get_or_create_study(self.name, metric=metric, mode=mode, attrs=dict(attrs or {}))
        if (info.metric, info.mode) != (metric, mode):
            store.close()
            raise ValidationError("--study", f"study {self.name!r} optimises {info.metric} ({info.mode}) but the "
                                  f"project now asks for {metric} ({mode}); record this run in another study "
                                  "with --study NAME")
        return store
