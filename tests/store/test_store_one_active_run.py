"""At most one active validation run per engagement, enforced by the database.

Two sessions pressing "Start the validation" at the same moment both got a run: the
app's check was not atomic. A unique partial index (migration 0004) now refuses the
second, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from advisor import store
from advisor.store.database import create_db_engine
from advisor.store.migrate import upgrade_schema

STARTERS = 6


def _engagement_with_two_samples(engine, data_dir: Path, sample_zip: Path, tmp_path: Path):
    other = tmp_path / "other.zip"
    other.write_bytes(sample_zip.read_bytes() + b"\0")  # another sample (another hash)
    with store.open_session(engine) as s:
        e = store.create_engagement(s, store.EngagementCreate(client="ACME", project="Tiles"))
        first = store.store_sample(s, e.id, sample_zip, data_dir)
        second = store.store_sample(s, e.id, other, data_dir)
    return int(e.id), int(first.id), int(second.id)


def test_a_second_active_run_is_refused_until_the_first_ends(
    db_url: str, data_dir: Path, sample_zip: Path, tmp_path: Path
) -> None:
    engine = create_db_engine(db_url)
    try:
        engagement_id, first, second = _engagement_with_two_samples(
            engine, data_dir, sample_zip, tmp_path
        )
        with store.open_session(engine) as s:
            run = store.start_run(s, first, {})
            # On the engagement's other sample too: the rule is per engagement.
            with pytest.raises(store.RunActiveError, match="already active") as caught:
                store.start_run(s, second, {})
            assert caught.value.active_run_id == run.id
            assert isinstance(caught.value, ValueError)  # shown to the consultant as is
            store.mark_run_running(s, run.id)
            with pytest.raises(store.RunActiveError):
                store.start_run(s, first, {})
            store.finish_run(s, run.id, {"ok": True}, 1.0)
            again = store.start_run(s, second, {})
            assert again.engagement_id == engagement_id
            store.cancel_run(s, again.id, "test")
            store.start_run(s, first, {})  # after a cancel as well
            # Another engagement is not held back by this one.
            other = store.create_engagement(s, store.EngagementCreate(client="B", project="C"))
            store.start_run(s, store.store_sample(s, other.id, sample_zip, data_dir).id, {})
    finally:
        engine.dispose()


def test_starters_at_the_same_moment_get_exactly_one_run(
    db_url: str, data_dir: Path, sample_zip: Path, tmp_path: Path
) -> None:
    engine = create_db_engine(db_url)
    try:
        _, first, second = _engagement_with_two_samples(engine, data_dir, sample_zip, tmp_path)
        barrier = threading.Barrier(STARTERS)
        started: list[int] = []
        refused: list[BaseException] = []
        other: list[BaseException] = []

        def press_start(n: int) -> None:
            with store.open_session(engine) as s:
                barrier.wait()
                try:
                    started.append(int(store.start_run(s, (first, second)[n % 2], {}).id))
                except store.RunActiveError as exc:
                    refused.append(exc)
                except BaseException as exc:  # noqa: BLE001 - reported below
                    other.append(exc)

        threads = [threading.Thread(target=press_start, args=(n,)) for n in range(STARTERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not other, other
        assert len(started) == 1 and len(refused) == STARTERS - 1
        with store.open_session(engine) as s:
            active = store.list_runs(s, statuses=("queued", "running"))
        assert [r.id for r in active] == started
    finally:
        engine.dispose()


def test_upgrade_keeps_the_newest_of_duplicate_active_runs(db_url: str) -> None:
    """A store of an older app may hold two active runs of one engagement."""
    engine = create_db_engine(db_url, migrate=False, recover=False)
    try:
        assert upgrade_schema(engine, "0003") == "0003"
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO engagement (id, client, project, goal, deployment_target, "
                    "language, answers, created_at, updated_at) VALUES (1, 'A', 'B', '', 'cpu', "
                    "'en', '{}', '2026-02-01 10:00:00', '2026-02-01 10:00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO dataset (id, engagement_id, content_hash, original_name, kind, "
                    "stored_path, size_bytes, file_count, created_at) VALUES (1, 1, :h, 'a.zip', "
                    "'file', 'samples/x/sample.zip', 1, 1, '2026-02-01 10:00:00')"
                ),
                {"h": "a" * 64},
            )
            for run_id, status in ((1, "done"), (2, "queued"), (3, "running")):
                conn.execute(
                    text(
                        "INSERT INTO run (id, dataset_id, config, status, stage, progress, "
                        "message, created_at) VALUES (:id, 1, '{}', :status, '', 0, '', "
                        "'2026-02-01 10:00:00')"
                    ),
                    {"id": run_id, "status": status},
                )
        engine.dispose()
        engine = create_db_engine(db_url, recover=False)
        with store.open_session(engine) as s:
            runs = {r.id: r for r in store.list_runs(s)}
            assert {i: r.status for i, r in runs.items()} == {1: "done", 2: "failed", 3: "running"}
            assert "only the newest was kept" in runs[2].error
            assert {r.engagement_id for r in runs.values()} == {1}
    finally:
        engine.dispose()
