"""The engagement store: engagements, samples, recommendations, runs and reports that last.

Embedded SQLite by default, PostgreSQL for a team (``DATABASE_URL``), the same code.
Typical use::

    from advisor.settings import load_settings
    from advisor import store

    settings = load_settings()
    engine = store.create_db_engine(settings=settings)   # creates/migrates, recovers runs
    with store.open_session(engine) as session:
        engagement = store.create_engagement(
            session, store.EngagementCreate(client="ACME", project="Tiles"))
        dataset = store.store_sample(session, engagement.id, upload, settings.data_dir)

Never imports torch, timm or streamlit.
"""

from advisor.store.archive import ArchiveError, export_engagement, import_engagement
from advisor.store.database import create_db_engine, normalize_database_url, open_session
from advisor.store.migrate import SchemaError, current_revision, head_revision, upgrade_schema
from advisor.store.models import (
    Dataset,
    DatasetPublic,
    Engagement,
    EngagementCreate,
    EngagementPublic,
    EngagementUpdate,
    RecommendationRecord,
    RecommendationRecordPublic,
    Report,
    ReportPublic,
    Run,
    RunPublic,
    RunStatus,
)
from advisor.store.recovery import ORPHANED_RUN_ERROR, recover_orphaned_runs
from advisor.store.repository import (
    DeletedEngagement,
    NotFoundError,
    RunActiveError,
    RunStateError,
    SampleTooLargeError,
    active_runs,
    cancel_run,
    create_engagement,
    dataset_location,
    delete_engagement,
    fail_run,
    finish_run,
    get_dataset,
    get_engagement,
    get_recommendation,
    get_run,
    latest_recommendation,
    list_datasets,
    list_engagements,
    list_recommendations,
    list_reports,
    list_runs,
    mark_run_running,
    record_recommendation,
    record_report,
    report_location,
    reports_dir,
    run_dir,
    set_dataset_profile,
    start_run,
    store_sample,
    update_engagement,
    update_run_progress,
)

__all__ = [
    "ORPHANED_RUN_ERROR",
    "ArchiveError",
    "Dataset",
    "DatasetPublic",
    "DeletedEngagement",
    "Engagement",
    "EngagementCreate",
    "EngagementPublic",
    "EngagementUpdate",
    "NotFoundError",
    "RecommendationRecord",
    "RecommendationRecordPublic",
    "Report",
    "ReportPublic",
    "Run",
    "RunActiveError",
    "RunPublic",
    "RunStateError",
    "RunStatus",
    "SampleTooLargeError",
    "SchemaError",
    "active_runs",
    "cancel_run",
    "create_db_engine",
    "create_engagement",
    "current_revision",
    "dataset_location",
    "delete_engagement",
    "export_engagement",
    "fail_run",
    "finish_run",
    "get_dataset",
    "get_engagement",
    "get_recommendation",
    "get_run",
    "head_revision",
    "import_engagement",
    "latest_recommendation",
    "list_datasets",
    "list_engagements",
    "list_recommendations",
    "list_reports",
    "list_runs",
    "mark_run_running",
    "normalize_database_url",
    "open_session",
    "record_recommendation",
    "record_report",
    "recover_orphaned_runs",
    "report_location",
    "reports_dir",
    "run_dir",
    "set_dataset_profile",
    "start_run",
    "store_sample",
    "update_engagement",
    "update_run_progress",
    "upgrade_schema",
]
