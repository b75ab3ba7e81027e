"""Database schema of the study store (SQLAlchemy 2.x typed declarative ORM).

One schema for SQLite, PostgreSQL and MariaDB/MySQL. Portability choices:

* ``sqlalchemy.JSON`` for documents, wrapped so non-finite floats never reach the database
  (PostgreSQL and MariaDB reject ``NaN`` in JSON);
* ``Double`` for ``value`` (a plain ``Float`` is single precision on MySQL);
* datetimes stored as naive UTC with microseconds everywhere (``DATETIME(6)`` on MySQL,
  whose default drops fractions) and handed back timezone-aware;
* MySQL tables use ``utf8mb4_bin`` so uids and study names compare case-sensitively like
  on the other databases;
* ``(study_id, uid)`` and ``(study_id, number)`` are unique: the database itself enforces
  idempotent upserts and distinct trial numbers, whatever the number of writers.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from hpogrid.study.values import decode_nonfinite, encode_nonfinite

_MYSQL_TABLE = {
    f"{prefix}_{key}": value
    for prefix in ("mysql", "mariadb")  # the mariadb:// dialect ignores mysql_ options
    for key, value in (("engine", "InnoDB"), ("charset", "utf8mb4"), ("collate", "utf8mb4_bin"))
}


class UTCDateTime(TypeDecorator):
    """Aware UTC datetime in, naive UTC (microsecond precision) stored, aware UTC out."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the study store")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is not None:
            return value.astimezone(timezone.utc)
        return value.replace(tzinfo=timezone.utc)


class JSONDoc(TypeDecorator):
    """JSON document; non-finite floats are written as string markers."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect) -> Any:
        return encode_nonfinite(value)


class NumericJSONDoc(JSONDoc):
    """JSON of numbers (metrics): the NaN/Infinity markers are read back as floats."""

    cache_ok = True

    def process_result_value(self, value: Any, dialect) -> Any:
        return decode_nonfinite(value)


_LONG_TEXT = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


class Base(DeclarativeBase):
    pass


class StudyRow(Base):
    __tablename__ = "studies"
    __table_args__ = (
        CheckConstraint("mode IN ('min', 'max')", name="ck_studies_mode"),
        # never reuse the id of a deleted study (StudyStore caches name -> id)
        {**_MYSQL_TABLE, "sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    metric: Mapped[str] = mapped_column(String(255), nullable=False)
    mode: Mapped[str] = mapped_column(String(3), nullable=False)
    attrs: Mapped[dict] = mapped_column(JSONDoc, nullable=False)


class TrialRow(Base):
    __tablename__ = "trials"
    __table_args__ = (
        UniqueConstraint("study_id", "uid", name="uq_trials_study_uid"),
        UniqueConstraint("study_id", "number", name="uq_trials_study_number"),
        Index("ix_trials_study_state", "study_id", "state"),
        # measured on a 100,000-trial PostgreSQL study (benchmarks/slurm_scale.py notes): the
        # best value (COMPLETED by value) 137 ms -> 0.07 ms; the dashboard's changed-since query
        # (heartbeat, finished or created since) 115 ms -> 0.2 ms, one index per column it ORs
        Index("ix_trials_study_state_value", "study_id", "state", "value"),
        Index("ix_trials_study_heartbeat", "study_id", "heartbeat_at"),
        Index("ix_trials_study_finished", "study_id", "finished_at"),
        Index("ix_trials_study_created", "study_id", "created_at"),
        _MYSQL_TABLE,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_id: Mapped[int] = mapped_column(
        ForeignKey("studies.id", ondelete="CASCADE"), nullable=False
    )
    uid: Mapped[str] = mapped_column(String(255), nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    params: Mapped[dict] = mapped_column(JSONDoc, nullable=False)
    metrics: Mapped[dict] = mapped_column(NumericJSONDoc, nullable=False)
    value: Mapped[Optional[float]] = mapped_column(Double, nullable=True)
    intermediate: Mapped[list] = mapped_column(NumericJSONDoc, nullable=False)
    error: Mapped[Optional[str]] = mapped_column(_LONG_TEXT, nullable=True)
    backend: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    host: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    job_id: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    task_id: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    site: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    annotations: Mapped[dict] = mapped_column(JSONDoc, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    started_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)


#: string columns of ``trials`` and their maximum length (checked before writing, so the
#: same value is accepted or refused on every database)
STRING_LIMITS = {"uid": 255, "backend": 32, "host": 255, "job_id": 255, "task_id": 255, "site": 255}
