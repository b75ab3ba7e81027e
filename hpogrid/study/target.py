"""Which study a command means, and where it lives: answered once, here.

``--study`` (else the project's name) names the study; ``--study-url``, else
``$HPOGRID_STUDY_URL``, else the project's own SQLite file says where it lives. Every command
that opens a project's study resolves a :class:`StudyTarget` the same way, in one of two forms:

* :meth:`StudyTarget.resolve` - a run (``local_run``, ``slurm_run``, ``workflow run``, the grid
  job): the store and the study are created on first use;
* :meth:`StudyTarget.existing` - a reader (``report``, the dashboard, :func:`hpogrid.study.load`):
  no database file means no study yet (:class:`~hpogrid.errors.NothingYetError`), and the store
  is opened read-only (:meth:`StudyTarget.open_read_only`), so a reader never creates or
  migrates a database and can read a study on a read-only file system.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Optional, Protocol, Tuple

from hpogrid.errors import NotFoundError, NothingYetError, StudyError, ValidationError
from hpogrid.names import check_name
from hpogrid.settings import Settings
from hpogrid.study.engine import check_user_url, sqlite_path, sqlite_url
from hpogrid.study.records import StudyInfo
from hpogrid.study.store import StudyStore

if TYPE_CHECKING:
    from hpogrid.objectives import Objectives


class ProjectFolder(Protocol):
    """What a run's target needs of a loaded project (``hpogrid.project.Project``, a layer up)."""

    @property
    def name(self) -> str: ...

    @property
    def path(self) -> Path: ...


@dataclass(frozen=True)
class StudyTarget:
    """A study ``name`` in the store at ``url``; ``project`` names the project it belongs to
    (``None`` for a store named by URL or path alone)."""

    name: str
    url: str
    project: Optional[str] = None

    @classmethod
    def resolve(cls, project: ProjectFolder, study: Optional[str] = None, study_url: Optional[str] = None,
                settings: Optional[Settings] = None) -> "StudyTarget":
        """The study a run of ``project`` (a loaded Project) records into; ``study`` names
        another one in its store. The name names folders (trials/<study>, <study>_backup-N), so
        it must be a safe name."""
        settings = settings or Settings.from_env()
        name = check_name(study or project.name, "study")
        url = _checked(study_url, settings) or sqlite_url(project.path / "study.db")
        return cls(name=name, url=url, project=project.name)

    @classmethod
    def existing(cls, project: str, study: Optional[str] = None, study_url: Optional[str] = None,
                 settings: Optional[Settings] = None) -> "StudyTarget":
        """The study of project ``project`` (a name) that a reader asks for, which a run must
        have written: the project's ``study.db`` missing is :class:`NothingYetError` (no study
        yet), a ``--study-url`` naming a missing SQLite file is :class:`NotFoundError` (a typo
        must not look like an empty study). Nothing is opened yet."""
        from hpogrid import paths

        settings = settings or Settings.from_env()
        name = check_name(study or project, "study")
        url = _checked(study_url, settings)
        if url:
            db = sqlite_path(url)
            if db is not None and not db.is_file():
                raise NotFoundError(f"--study-url: no SQLite study store at {db}")
            return cls(name=name, url=url, project=project)
        db = paths.study_db(project)
        if not db.is_file():
            raise NothingYetError(f"project {project!r} has no study yet ({db} does not exist): "
                                  f"run 'hpogrid local_run {project}' first")
        return cls(name=name, url=sqlite_url(db), project=project)

    def open(self) -> StudyStore:
        """The study store (created on first use): for runs."""
        return StudyStore(self.url)

    def open_read_only(self) -> Tuple[StudyStore, StudyInfo]:
        """The store, opened read-only, and the study in it. An empty database is
        :class:`NothingYetError`; so is a missing study, naming the studies there."""
        store = StudyStore(self.url, access="read")
        try:
            return store, store.get_study(self.name)
        except NotFoundError:
            names = ", ".join(s.name for s in store.list_studies()) or "none"
            store.close()
            raise NothingYetError(f"--study: {self.name!r} not found in {store.url} (studies there: {names})") from None
        except BaseException:
            store.close()
            raise

    def settle(self, stale_after_s: float) -> int:
        """Mark INTERRUPTED the trials a dead run left PENDING/RUNNING (no heartbeat for
        ``stale_after_s``), so a report shows what really happened; live runs keep theirs.
        Only an existing study is written; a store that cannot be written (a read-only file
        system, a read-only account) is read as it is: returns how many trials were marked."""
        from hpogrid.study.liveness import mark_dead_runs

        try:
            with StudyStore(self.url, access="write") as store:
                return mark_dead_runs(store, self.name, stale_after_s)
        except (StudyError, NotFoundError):
            return 0

    def open_for_run(self, objectives: "Objectives", attrs: Optional[Dict[str, Any]] = None) -> StudyStore:
        """The store, with the study created if new; a study that optimises something else is a
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


def _checked(study_url: Optional[str], settings: Settings) -> Optional[str]:
    """``--study-url``, else ``$HPOGRID_STUDY_URL`` (checked here: no option parser saw it)."""
    if study_url:
        check_user_url(study_url, "--study-url")
        return study_url
    if settings.study_url:
        check_user_url(settings.study_url, "HPOGRID_STUDY_URL")
    return settings.study_url


def _described(objectives: "Objectives") -> str:
    text = objectives.describe()
    if objectives.constraints:
        text += " subject to " + ", ".join(str(c) for c in objectives.constraints)
    return text
