"""Alembic environment: runs the store's revisions on the connection it is handed."""

from typing import Any

from alembic import context
from sqlmodel import SQLModel

from advisor.store import models

config = context.config


def _include_object(obj, name, type_, reflected, compare_to):
    """Compare and migrate the store's tables only."""
    if type_ == "table":
        return name in models.STORE_TABLES
    return True


def _run() -> None:
    options: dict[str, Any] = {
        "target_metadata": SQLModel.metadata,
        "include_object": _include_object,
        "render_as_batch": True,
        "compare_type": True,
    }
    if context.is_offline_mode():
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("Offline migration needs sqlalchemy.url in the config.")
        context.configure(url=url, literal_binds=True, **options)
    else:
        connection = config.attributes.get("connection")
        if connection is None:
            raise RuntimeError(
                "Run migrations through advisor.store.migrate.upgrade_schema(engine)."
            )
        context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()


_run()
