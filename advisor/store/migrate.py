"""Schema versioning of the store, with Alembic.

Why Alembic rather than hand-rolled version scripts: it is SQLAlchemy's own migration
tool, so one migration script serves SQLite and PostgreSQL; its batch mode rewrites
SQLite tables for the changes SQLite's ``ALTER TABLE`` cannot do; it can compare the
migrated schema with the models (a test does, so a model change without a migration
fails CI); and team-mode DBAs know it.

How it works: revisions live in ``advisor/store/migrations/versions`` (``0001`` the
first schema, ``0002`` adds run liveness columns, ``0003`` the engagement's answers).
The database records its revision
in the ``alembic_version`` table. :func:`upgrade_schema`, called by
:func:`advisor.store.database.create_db_engine`, applies the missing revisions in one
transaction, holding the write lock (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory
lock) so that two app processes starting at once do not migrate twice. A database
written by a newer app (an unknown revision) is refused with :class:`SchemaError`
instead of being damaged.

Adding a revision (from a source checkout): change the models, then write
``versions/000N_<what>.py`` with ``revision = "000N"``, ``down_revision`` the previous
one, and ``upgrade()`` using ``alembic.op`` (see the existing ones; Alembic's
``autogenerate`` can draft it through :func:`alembic_config`).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

from advisor.store.database import SQLITE_BEGIN_OPTION, is_sqlite
from advisor.store.models import STORE_TABLES

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Key of the PostgreSQL advisory lock held while migrating.
_PG_MIGRATION_LOCK = 7_315_007_001


class SchemaError(RuntimeError):
    """The database cannot be used by this version of the app."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Return an Alembic config pointing at the store's migrations.

    Args:
        connection: Connection the migration environment runs on.

    Returns:
        The config (no ``alembic.ini`` needed).

    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """Return the schema revision this version of the app writes."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise SchemaError(f"No migration found in {MIGRATIONS_DIR}.")
    return head


def known_revisions() -> list[str]:
    """Return every schema revision this app knows, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def current_revision(engine: Engine) -> str | None:
    """Return the schema revision of the database, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_schema(engine: Engine, revision: str = "head") -> str:
    """Create the schema or migrate it up to ``revision``.

    Args:
        engine: Engine of the store.
        revision: Target revision; "head" (the default) is the current schema. Tests
            pass an older one to build a database of a previous version.

    Returns:
        The revision of the database afterwards.

    Raises:
        SchemaError: The database has a revision this app does not know (it was
            written by a newer version), or has store tables but no revision.

    """
    known = known_revisions()
    target = known[-1] if revision == "head" else revision
    if target not in known:
        raise SchemaError(f"Unknown schema revision {revision!r}; known: {', '.join(known)}.")
    if current_revision(engine) == target:
        return target

    with engine.connect() as connection:
        sqlite = is_sqlite(connection)
        if sqlite:
            # Table rewrites (Alembic batch mode) must not cascade deletes: SQLite's own
            # procedure for schema changes turns foreign keys off, outside a transaction.
            # An open connection always has its driver connection (the stub says Optional).
            connection.connection.driver_connection.execute(  # type: ignore[union-attr]
                "PRAGMA foreign_keys = OFF"
            )
        try:
            connection = connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.exec_driver_sql(
                        f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"
                    )
                current = MigrationContext.configure(connection).get_current_revision()
                _check_known(connection, current, known)
                if current != target:
                    command.upgrade(alembic_config(connection), target)
                if sqlite:
                    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if problems:
                        raise SchemaError(
                            f"Migration to {target} broke foreign keys: {problems[:5]}"
                        )
        finally:
            if sqlite:
                connection.connection.driver_connection.execute(  # type: ignore[union-attr]
                    "PRAGMA foreign_keys = ON"
                )
    return target


def _check_known(connection: Connection, current: str | None, known: list[str]) -> None:
    if current is None:
        present = set(inspect(connection).get_table_names()) & set(STORE_TABLES)
        if present:
            raise SchemaError(
                f"The database has store tables ({', '.join(sorted(present))}) but no "
                "schema revision; it was not created by this app's migrations."
            )
    elif current not in known:
        raise SchemaError(
            f"The database is at schema revision {current!r}, which this version of the "
            f"app does not know (it knows {', '.join(known)}): it was written by a newer "
            "version. Update the app before opening it."
        )
