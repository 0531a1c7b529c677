"""Run liveness: when the process running a run last reported, and which process it is.

``heartbeat_at`` lets recovery fail runs of another host that stopped reporting;
``process_token`` (boot id and process start time) tells a reused process id from the
process that started the run.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from advisor.store.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``run.heartbeat_at`` and ``run.process_token``."""
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("process_token", sa.String(), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    """Drop the run liveness columns."""
    with op.batch_alter_table("run") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("process_token")
