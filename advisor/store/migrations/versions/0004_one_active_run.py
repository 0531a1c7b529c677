"""At most one active validation run per engagement, enforced by the database.

``run.engagement_id`` (the dataset's engagement, copied) and a unique partial index on
it over the active statuses ("queued", "running"): two sessions pressing "Start the
validation" at the same moment cannot both get a run, whatever the app checks first.
SQLite (3.8+) and PostgreSQL both have partial indexes.

Existing runs get their dataset's engagement. Where an older app left two active runs
of one engagement, all but the newest are marked failed (with the reason) before the
index is built; recovery would fail most of them anyway, their process being gone.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEX = "ux_run_one_active_per_engagement"
ACTIVE = "status IN ('queued', 'running')"
DUPLICATE_ERROR = (
    "another run of the engagement was active when the store was upgraded; only the newest was kept"
)


def upgrade() -> None:
    """Add ``run.engagement_id``, fill it, fail duplicate active runs, add the index."""
    # A plain ADD COLUMN (no table rewrite: the table keeps its AUTOINCREMENT). No
    # foreign key: the run is removed with its dataset, and that with its engagement.
    op.add_column("run", sa.Column("engagement_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE run SET engagement_id = "
        "(SELECT dataset.engagement_id FROM dataset WHERE dataset.id = run.dataset_id)"
    )
    op.execute(
        sa.text(
            f"UPDATE run SET status = 'failed', error = :error, finished_at = CURRENT_TIMESTAMP "
            f"WHERE {ACTIVE} AND id NOT IN "
            f"(SELECT MAX(id) FROM run WHERE {ACTIVE} GROUP BY engagement_id)"
        ).bindparams(error=DUPLICATE_ERROR)
    )
    op.create_index(
        INDEX,
        "run",
        ["engagement_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    """Drop the index and ``run.engagement_id`` (a table rewrite on SQLite)."""
    op.drop_index(INDEX, table_name="run")
    with op.batch_alter_table("run", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("engagement_id")
