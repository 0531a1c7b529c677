"""The consultant's answers of an engagement, kept in the store.

``engagement.answers`` holds what the consultant entered (target metric and value, the
Advice page's answers), which an older app kept in a side file
``<data dir>/engagements/<id>/answers.json``; keeping it in the row lets an exported
engagement carry it. Existing engagements get ``{}``; ``advisor.session`` moves a side
file into the column the first time it reads the engagement.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``engagement.answers`` (JSON, ``{}`` for existing rows).

    A plain ``ADD COLUMN`` with a constant default, not a batch table rewrite: a
    rewrite on SQLite would drop the table's ``AUTOINCREMENT`` (ids must never be
    reused).
    """
    op.add_column(
        "engagement", sa.Column("answers", sa.JSON(), nullable=False, server_default="{}")
    )


def downgrade() -> None:
    """Drop ``engagement.answers`` (on SQLite a table rewrite that keeps AUTOINCREMENT)."""
    with op.batch_alter_table("engagement", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("answers")
