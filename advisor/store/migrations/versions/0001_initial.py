"""The first schema: engagements, datasets, recommendations, runs, reports.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from advisor.store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables of schema v1."""
    op.create_table(
        "engagement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("goal", sa.String(), nullable=False),
        sa.Column("deployment_target", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "dataset",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "engagement_id",
            sa.Integer(),
            sa.ForeignKey("engagement.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("stored_path", sa.String(), nullable=False),
        sa.Column("original_name", sa.String(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_dataset_engagement_id", "dataset", ["engagement_id"])
    op.create_index("ix_dataset_content_hash", "dataset", ["content_hash"])
    op.create_table(
        "recommendation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "dataset_id",
            sa.Integer(),
            sa.ForeignKey("dataset.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("output", sa.JSON(), nullable=False),
        sa.Column("rule_trail", sa.JSON(), nullable=False),
        sa.Column("knowledge_version", sa.String(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_recommendation_dataset_id", "recommendation", ["dataset_id"])
    op.create_table(
        "run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "dataset_id",
            sa.Integer(),
            sa.ForeignKey("dataset.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "recommendation_id",
            sa.Integer(),
            sa.ForeignKey("recommendation.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("device", sa.String(), nullable=True),
        sa.Column("library_versions", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("hostname", sa.String(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_run_dataset_id", "run", ["dataset_id"])
    op.create_index("ix_run_status", "run", ["status"])
    op.create_table(
        "report",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "engagement_id",
            sa.Integer(),
            sa.ForeignKey("engagement.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey("run.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_report_engagement_id", "report", ["engagement_id"])


def downgrade() -> None:
    """Drop every table of schema v1."""
    for index, table in (
        ("ix_report_engagement_id", "report"),
        ("ix_run_status", "run"),
        ("ix_run_dataset_id", "run"),
        ("ix_recommendation_dataset_id", "recommendation"),
        ("ix_dataset_content_hash", "dataset"),
        ("ix_dataset_engagement_id", "dataset"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("report", "run", "recommendation", "dataset", "engagement"):
        op.drop_table(table)
