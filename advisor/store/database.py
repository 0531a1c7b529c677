"""Engine creation for the store: embedded SQLite (default) or PostgreSQL (team mode).

No engine lives at module level: the app creates one at start (and caches it), tests
create their own. :func:`create_db_engine` brings the schema to the current version and
marks runs whose process died as failed, so the store is ready to use once it returns.

SQLite is opened in WAL mode (readers never block the writer), with foreign keys on
(deletes cascade), ``synchronous=FULL`` (a committed row survives a crash or a power
cut) and a busy timeout, so that several app sessions and run workers can write at
once. SQLAlchemy emits the ``BEGIN`` itself (the recipe of its SQLite dialect docs), so
transactions, savepoints and schema migrations are really transactional; write
functions of the repository begin with ``BEGIN IMMEDIATE`` to take the write lock
up front instead of failing on a lock upgrade.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

if TYPE_CHECKING:
    from advisor.settings import Settings

#: How long a writer waits for another one's lock before giving up, in seconds.
BUSY_TIMEOUT_S = 30.0
#: Execution option read by the SQLite ``begin`` listener: "DEFERRED" or "IMMEDIATE".
SQLITE_BEGIN_OPTION = "sqlite_begin"
_BEGIN_MODES = ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")


def normalize_database_url(url: str) -> str:
    """Return ``url`` with the PostgreSQL driver made explicit (psycopg 3).

    ``postgres://`` and ``postgresql://`` (which SQLAlchemy would map to psycopg2) become
    ``postgresql+psycopg://``; other URLs are returned unchanged.

    Args:
        url: A SQLAlchemy database URL.

    Returns:
        The normalised URL.

    Raises:
        ValueError: ``url`` is not a SQLite or PostgreSQL URL.

    """
    text = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if text.startswith(prefix):
            text = "postgresql+psycopg://" + text[len(prefix) :]
    try:
        parsed = make_url(text)
    except ArgumentError as exc:
        raise ValueError(f"Cannot parse the database URL: {exc}") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(
            f"Unsupported database {parsed.get_backend_name()!r}: use sqlite:///path/file.db "
            "or postgresql+psycopg://user:password@host/db."
        )
    return text


def create_db_engine(
    url: str | None = None,
    settings: Settings | None = None,
    *,
    migrate: bool = True,
    recover: bool = True,
) -> Engine:
    """Create an engine for the store, bring its schema up to date and recover runs.

    The URL is ``url`` if given, else ``settings.database_url``, else the one of
    :func:`advisor.settings.load_settings`. For a SQLite file, its directory is created.
    ``sqlite://`` (in memory) uses one shared connection (``StaticPool``), for tests.

    Args:
        url: Database URL; overrides the settings.
        settings: Settings to take the URL from when ``url`` is None.
        migrate: Create the schema or migrate it to the current version (see
            :mod:`advisor.store.migrate`). Off only for tests of migrations.
        recover: Mark runs of this host whose process is gone as failed (see
            :func:`advisor.store.recovery.recover_orphaned_runs`) and, when
            ``settings`` are given, remove what killed writers left in the sample
            store (:func:`advisor.store.samples.clean_incoming`).

    Returns:
        The engine, ready for ``Session(engine)``.

    Raises:
        ValueError: The URL is invalid or of an unsupported database.
        advisor.store.migrate.SchemaError: The database was written by a newer version
            of the app, or is not a store database.

    """
    if url is None:
        if settings is None:
            from advisor.settings import load_settings

            settings = load_settings()
        url = settings.database_url
    parsed = make_url(normalize_database_url(url))

    if parsed.get_backend_name() == "sqlite":
        engine = _create_sqlite_engine(parsed)
    else:
        engine = create_engine(parsed, pool_pre_ping=True)

    if migrate:
        from advisor.store.migrate import upgrade_schema

        upgrade_schema(engine)
    if recover:
        from advisor.store.recovery import recover_orphaned_runs

        with Session(engine) as session:
            recover_orphaned_runs(session)
        if settings is not None:
            from advisor.store.samples import clean_incoming

            clean_incoming(settings.data_dir)
    return engine


def open_session(engine: Engine) -> Session:
    """Return a session whose rows stay readable after commits and after it closes.

    Store write functions commit; with a plain ``Session(engine)`` every row loaded
    earlier is then expired, and reading it once the session is closed raises
    ``DetachedInstanceError``. This session keeps the values as last loaded instead
    (``expire_on_commit=False``); the store's ``get_*`` functions still read the row
    afresh. Use it as ``with open_session(engine) as session:``.

    Args:
        engine: Engine of the store.

    Returns:
        A new session.

    """
    return Session(engine, expire_on_commit=False)


def is_sqlite(bind: Engine | Connection) -> bool:
    """Whether ``bind`` talks to SQLite."""
    return bind.dialect.name == "sqlite"


def _create_sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or url.query.get("mode") == "memory"
    connect_args: dict[str, Any] = {"check_same_thread": False}
    if in_memory:
        engine = create_engine(url, connect_args=connect_args, poolclass=StaticPool)
    else:
        if not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args["timeout"] = BUSY_TIMEOUT_S
        engine = create_engine(url, connect_args=connect_args)
    _install_sqlite_listeners(engine, wal=not in_memory)
    return engine


def _install_sqlite_listeners(engine: Engine, *, wal: bool) -> None:
    busy_ms = int(BUSY_TIMEOUT_S * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Hand transaction control to SQLAlchemy (the driver would otherwise BEGIN
        # lazily and commit before DDL).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = FULL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = str(connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED"))
        if mode.upper() not in _BEGIN_MODES:
            raise ValueError(f"Unknown SQLite BEGIN mode {mode!r}; use one of {_BEGIN_MODES}.")
        connection.exec_driver_sql(f"BEGIN {mode.upper()}")
