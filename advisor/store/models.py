"""Tables of the engagement store (SQLModel: ``XBase`` -> ``X(table=True)`` -> ``XPublic``).

One engagement (a client project) has datasets (uploaded samples, stored once on disk by
content hash), recommendations made for a dataset, validation runs on a dataset, and
reports. Children are removed with their parent by ``ON DELETE CASCADE`` foreign keys.

Names: the table class of a recommendation is :class:`RecommendationRecord`, so that it
does not collide with :class:`advisor.recommendation.Recommendation` (the advisor's
answer, which a record stores as JSON in ``output``).

Ids are never reused (``AUTOINCREMENT`` on SQLite, sequences on PostgreSQL), so a
deleted run's id never comes to name another run. All timestamps are timezone-aware
UTC on the Python side (:class:`UTCDateTime`), stored as naive UTC, the same on SQLite
and PostgreSQL. JSON columns hold plain JSON data;
non-finite floats are stored as null (JSON has no NaN).

Changing a table means adding a migration in ``advisor/store/migrations/versions`` (see
``advisor/store/migrate.py``); a test checks that the migrated schema matches these
models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, Index, text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

#: Names of the tables this module defines (the store's whole schema).
STORE_TABLES: tuple[str, ...] = ("engagement", "dataset", "recommendation", "run", "report")


def utc_now() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and read back as aware UTC, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to naive UTC; naive values are taken as UTC."""
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to the stored naive timestamp."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class RunStatus(StrEnum):
    """Lifecycle of a validation run."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether the run has ended (done, failed or cancelled)."""
        return self in (RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED)


ACTIVE_STATUSES: tuple[str, ...] = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
REPORT_FORMATS: tuple[str, ...] = ("html", "pdf", "json", "md")
DEPLOYMENT_TARGETS: tuple[str, ...] = ("server_gpu", "cpu", "mobile")
LANGUAGES: tuple[str, ...] = ("ko", "en")


# --------------------------------------------------------------------------- engagement
class EngagementBase(SQLModel):
    """What the consultant enters about the client project."""

    client: str = Field(min_length=1, max_length=200)
    project: str = Field(min_length=1, max_length=200)
    goal: str = ""
    deployment_target: str = "server_gpu"
    language: str = "en"
    # Schema v3 (migration 0003): the consultant's answers (task, target metric and
    # value, how labels were made...), as ``advisor.session`` keeps them.
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class Engagement(EngagementBase, table=True):
    """One client project: the root of everything else in the store."""

    __tablename__ = "engagement"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class EngagementCreate(EngagementBase):
    """Input of :func:`advisor.store.repository.create_engagement`."""


class EngagementUpdate(SQLModel):
    """Fields to change on an engagement; None leaves a field as it is."""

    client: str | None = None
    project: str | None = None
    goal: str | None = None
    deployment_target: str | None = None
    language: str | None = None
    answers: dict[str, Any] | None = None


class EngagementPublic(EngagementBase):
    """An engagement as shown to the app."""

    id: int
    created_at: datetime
    updated_at: datetime


# --------------------------------------------------------------------------- dataset
class DatasetBase(SQLModel):
    """An uploaded sample: where its bytes are and what the profile found."""

    engagement_id: int = Field(foreign_key="engagement.id", ondelete="CASCADE", index=True)
    content_hash: str = Field(index=True, max_length=64)
    kind: str = "file"
    stored_path: str
    original_name: str = ""
    size_bytes: int = 0
    file_count: int = 0
    profile: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class Dataset(DatasetBase, table=True):
    """A stored sample of an engagement (``stored_path`` is relative to the data dir)."""

    __tablename__ = "dataset"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class DatasetPublic(DatasetBase):
    """A dataset as shown to the app."""

    id: int
    created_at: datetime


# --------------------------------------------------------------------------- recommendation
class RecommendationRecordBase(SQLModel):
    """A recommendation as it was made: inputs, output, rules fired, knowledge version."""

    dataset_id: int = Field(foreign_key="dataset.id", ondelete="CASCADE", index=True)
    inputs: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    output: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    rule_trail: list[str] = Field(default_factory=list, sa_type=JSON)
    knowledge_version: str = ""


class RecommendationRecord(RecommendationRecordBase, table=True):
    """A stored :class:`advisor.recommendation.Recommendation` (``output`` is its dict)."""

    __tablename__ = "recommendation"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class RecommendationRecordPublic(RecommendationRecordBase):
    """A recommendation record as shown to the app."""

    id: int
    created_at: datetime


# --------------------------------------------------------------------------- run
class RunBase(SQLModel):
    """A validation run: its config, state, results and where it ran."""

    dataset_id: int = Field(foreign_key="dataset.id", ondelete="CASCADE", index=True)
    recommendation_id: int | None = Field(
        default=None, foreign_key="recommendation.id", ondelete="SET NULL"
    )
    config: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(default=RunStatus.QUEUED.value, index=True, max_length=16)
    stage: str = ""
    progress: float = 0.0
    message: str = ""
    metrics: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    result: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    seconds: float | None = None
    device: str | None = None
    library_versions: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    error: str | None = None
    pid: int | None = None
    hostname: str | None = None
    # Schema v2 (migration 0002): liveness of the process running it.
    process_token: str | None = None


#: Name of the unique partial index that allows one active run per engagement.
ONE_ACTIVE_RUN_INDEX = "ux_run_one_active_per_engagement"
_ACTIVE_WHERE = "status IN (" + ", ".join(f"'{s}'" for s in ACTIVE_STATUSES) + ")"


class Run(RunBase, table=True):
    """A stored validation run.

    At most one run per engagement is queued or running: a unique partial index on
    ``engagement_id`` over the active statuses (migration 0004), so two sessions
    starting a validation at once cannot both get one, on SQLite and PostgreSQL alike.
    """

    __tablename__ = "run"
    __table_args__ = (
        Index(
            ONE_ACTIVE_RUN_INDEX,
            "engagement_id",
            unique=True,
            sqlite_where=text(_ACTIVE_WHERE),
            postgresql_where=text(_ACTIVE_WHERE),
        ),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    # Schema v4 (migration 0004): the dataset's engagement, copied so that the index
    # above can hold one active run per engagement. No foreign key of its own: the run
    # is removed with its dataset, which is removed with its engagement.
    engagement_id: int | None = None
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Schema v2 (migration 0002): last sign of life of the process running it.
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def run_status(self) -> RunStatus:
        """The status as a :class:`RunStatus`."""
        return RunStatus(self.status)


class RunPublic(RunBase):
    """A run as shown to the app."""

    id: int
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None


# --------------------------------------------------------------------------- report
class ReportBase(SQLModel):
    """A feasibility report file made for an engagement."""

    engagement_id: int = Field(foreign_key="engagement.id", ondelete="CASCADE", index=True)
    run_id: int | None = Field(default=None, foreign_key="run.id", ondelete="SET NULL")
    format: str = Field(max_length=16)
    path: str


class Report(ReportBase, table=True):
    """A stored report (``path`` is relative to the data dir when it lies inside it)."""

    __tablename__ = "report"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class ReportPublic(ReportBase):
    """A report as shown to the app."""

    id: int
    created_at: datetime
