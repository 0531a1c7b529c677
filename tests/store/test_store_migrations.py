"""Schema versioning: a newer app opens an older database; models match migrations."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel
from store_helpers import start_worker

from advisor import store
from advisor.store.database import create_db_engine
from advisor.store.migrate import known_revisions, upgrade_schema
from advisor.store.models import STORE_TABLES

DATA = Path(__file__).parent / "data"


def _only_store_tables(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    return name in STORE_TABLES if type_ == "table" else True


def test_revisions_are_a_line() -> None:
    assert known_revisions() == ["0001", "0002", "0003", "0004"]
    assert store.head_revision() == "0004"


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = create_db_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": _only_store_tables}
            )
            assert compare_metadata(context, SQLModel.metadata) == []
        assert store.current_revision(engine) == store.head_revision()
    finally:
        engine.dispose()


def test_sqlite_pragmas(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    engine.dispose()


def test_v1_database_from_the_frozen_ddl_opens_with_current_code(tmp_path: Path) -> None:
    """A database written by the first release (frozen DDL and rows) upgrades intact."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript((DATA / "schema_v1_sqlite.sql").read_text(encoding="utf-8"))
        conn.executescript((DATA / "rows_v1.sql").read_text(encoding="utf-8"))
    before = _dump_sqlite(path)

    engine = create_db_engine(f"sqlite:///{path}")
    try:
        assert store.current_revision(engine) == "0004"
        columns = {c["name"] for c in inspect(engine).get_columns("run")}
        assert {"heartbeat_at", "process_token"} <= columns
        after = _dump_sqlite(path)
        for table, rows in before.items():  # every old value is still there
            assert [
                {k: r[k] for k in old} for r, old in zip(after[table], rows, strict=True)
            ] == rows, table
        with store.open_session(engine) as s:
            eng = store.get_engagement(s, 1)
            assert eng.client == "한빛 타일"
            assert eng.created_at == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
            assert eng.answers == {}
            run = store.get_run(s, 1)
            assert run.metrics == {"accuracy": 0.91} and run.seconds == 171.5
            assert run.heartbeat_at is None and run.process_token is None
            assert store.get_recommendation(s, 1).rule_trail == ["TL-007"]
            # and the new code writes to it
            store.update_run_progress(s, store.start_run(s, 1, {"v": 2}).id, "x", 0.5)
    finally:
        engine.dispose()


def _dump_sqlite(path: Path) -> dict[str, list[dict]]:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return {
            t: [dict(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY id")]
            for t in STORE_TABLES
        }


def test_frozen_v1_ddl_is_what_revision_0001_creates(tmp_path: Path) -> None:
    frozen = tmp_path / "frozen.db"
    with sqlite3.connect(frozen) as conn:
        conn.executescript((DATA / "schema_v1_sqlite.sql").read_text(encoding="utf-8"))
    migrated = create_db_engine(
        f"sqlite:///{tmp_path / 'migrated.db'}", migrate=False, recover=False
    )
    upgrade_schema(migrated, "0001")
    frozen_engine = create_engine(f"sqlite:///{frozen}")
    try:
        for table in STORE_TABLES:

            def shape(eng, table=table):  # noqa: ANN001, ANN202
                insp = inspect(eng)
                return (
                    [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)],
                    sorted(i["name"] for i in insp.get_indexes(table)),
                )

            assert shape(migrated) == shape(frozen_engine), table
    finally:
        migrated.dispose()
        frozen_engine.dispose()


def test_v1_to_v2_on_each_backend(db_url: str) -> None:
    engine = create_db_engine(db_url, migrate=False, recover=False)
    try:
        assert store.current_revision(engine) is None
        assert upgrade_schema(engine, "0001") == "0001"
        assert "heartbeat_at" not in {c["name"] for c in inspect(engine).get_columns("run")}
        statements = (DATA / "rows_v1.sql").read_text(encoding="utf-8")
        with engine.begin() as conn:
            for statement in statements.split(";"):
                body = "\n".join(
                    line for line in statement.splitlines() if not line.startswith("--")
                ).strip()
                if body:
                    conn.execute(text(body))
        engine.dispose()
        engine = create_db_engine(db_url)
        assert store.current_revision(engine) == "0004"
        with store.open_session(engine) as s:
            assert store.get_dataset(s, 1).profile["class_counts"] == {"crack": 57, "free": 300}
            assert store.get_run(s, 1).library_versions == {"torch": "2.14.1"}
            assert [r.path for r in store.list_reports(s, 1)] == ["reports/1/feasibility.html"]
            if engine.dialect.name == "postgresql":  # v1 rows had explicit ids
                conn = s.connection()
                for table in STORE_TABLES:
                    conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT MAX(id) FROM {table}))"
                    )
                s.commit()
            new = store.start_run(s, 1, {})
            assert new.id == 2
    finally:
        engine.dispose()


def test_v2_to_v3_keeps_engagements_and_gives_them_no_answers(db_url: str) -> None:
    """A database at 0002 (engagements made before answers were stored) upgrades."""
    engine = create_db_engine(db_url, migrate=False, recover=False)
    try:
        assert upgrade_schema(engine, "0002") == "0002"
        assert "answers" not in {c["name"] for c in inspect(engine).get_columns("engagement")}
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO engagement (client, project, goal, deployment_target, language,"
                    " created_at, updated_at) VALUES ('ACME', 'Tiles', '', 'cpu', 'en',"
                    " '2026-02-01 10:00:00', '2026-02-01 10:00:00')"
                )
            )
        engine.dispose()
        engine = create_db_engine(db_url)
        assert store.current_revision(engine) == "0004"
        if engine.dialect.name == "sqlite":  # the table was not rewritten without it
            with engine.connect() as conn:
                ddl = conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = 'engagement'"
                ).scalar()
            assert "AUTOINCREMENT" in ddl and "answers" in ddl
        with store.open_session(engine) as s:
            (old,) = store.list_engagements(s)
            assert old.client == "ACME" and old.answers == {}
            assert old.updated_at == datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
            store.update_engagement(s, old.id, store.EngagementUpdate(answers={"task": "x"}))
            store.update_engagement(s, old.id, store.EngagementUpdate(client="ACME Corp"))
            assert store.get_engagement(s, old.id).answers == {"task": "x"}  # None: unchanged
            new = store.create_engagement(s, store.EngagementCreate(client="B", project="C"))
            assert new.answers == {}
    finally:
        engine.dispose()


def test_database_of_a_newer_app_is_refused(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(store.SchemaError, match="newer version"):
        create_db_engine(sqlite_url)


def test_unmanaged_tables_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "foreign.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE engagement (id INTEGER PRIMARY KEY)")
    with pytest.raises(store.SchemaError, match="no schema revision"):
        create_db_engine(f"sqlite:///{path}")


def test_two_processes_starting_on_a_fresh_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    workers = [start_worker("open", url) for _ in range(3)]
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        assert out.strip() == "opened"
    engine = create_db_engine(url)
    assert store.current_revision(engine) == "0004"
    engine.dispose()


def test_bad_urls() -> None:
    with pytest.raises(ValueError, match="Unsupported database"):
        create_db_engine("mysql://u@h/db")
    assert store.normalize_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert store.normalize_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_engine_from_settings(tmp_path: Path) -> None:
    from advisor.settings import load_settings

    settings = load_settings({"FEASIBILITY_DATA_DIR": str(tmp_path / "nested" / "data")})
    engine = create_db_engine(settings=settings)
    try:
        assert (tmp_path / "nested" / "data" / "feasibility.db").exists()
    finally:
        engine.dispose()
