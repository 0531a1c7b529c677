"""A run whose process is killed is found on the next start and marked failed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import select
from store_helpers import start_worker

from advisor import store
from advisor.store.database import create_db_engine
from advisor.store.models import Dataset, Engagement, RecommendationRecord, Report, Run, utc_now
from advisor.store.recovery import pid_alive, process_token, recover_orphaned_runs


def _snapshot(engine: Engine) -> dict[str, list[dict]]:
    with store.open_session(engine) as s:
        return {
            m.__tablename__: [r.model_dump() for r in s.exec(select(m).order_by(m.id)).all()]
            for m in (Engagement, Dataset, RecommendationRecord, Run, Report)
        }


def test_kill_9_mid_training_is_recovered_and_nothing_else_is_harmed(
    db_url: str, data_dir: Path, sample_zip: Path
) -> None:
    engine = create_db_engine(db_url)
    with store.open_session(engine) as s:
        e = store.create_engagement(s, store.EngagementCreate(client="ACME", project="Tiles"))
        ds = store.store_sample(s, e.id, sample_zip, data_dir)
        store.set_dataset_profile(s, ds.id, {"n_images": 10})
        rec = store.record_recommendation(s, ds.id, {}, {"fired_rule_ids": ["A"]}, "k")
        done = store.start_run(s, ds.id, {"n": 1})
        store.finish_run(s, done.id, {"metrics": {"accuracy": 0.7}}, 3.0)
        victim = store.start_run(s, ds.id, {"n": 2}, recommendation_id=rec.id)
        # Queued by this (living) process, on another engagement (one active run each).
        other = store.create_engagement(s, store.EngagementCreate(client="B", project="C"))
        other_ds = store.store_sample(s, other.id, sample_zip, data_dir)
        live = store.start_run(s, other_ds.id, {"n": 3})

    worker = start_worker("train", db_url, str(victim.id))
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        assert line.strip() == "ready", worker.stderr.read() if worker.stderr else line
        with store.open_session(engine) as s:
            running = store.get_run(s, victim.id)
            assert running.status == "running" and running.pid == worker.pid
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    engine.dispose()

    before = _snapshot(create_db_engine(db_url, recover=False))
    engine = create_db_engine(db_url)  # the next start recovers
    try:
        after = _snapshot(engine)
        with store.open_session(engine) as s:
            failed = store.get_run(s, victim.id)
            assert failed.status == "failed"
            assert failed.error.startswith(store.ORPHANED_RUN_ERROR)
            assert str(worker.pid) in failed.error
            assert failed.finished_at is not None
            assert store.get_run(s, live.id).status == "queued"
            assert store.get_run(s, done.id).status == "done"
        for table in before:
            if table != "run":
                assert after[table] == before[table], table
        untouched = ("id", "config", "stage", "progress", "message", "pid", "started_at")
        for old, new in zip(before["run"], after["run"], strict=True):
            if old["id"] == victim.id:
                assert {k: new[k] for k in untouched} == {k: old[k] for k in untouched}
            else:
                assert new == old
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        with store.open_session(engine) as s:  # a second start finds nothing more
            assert recover_orphaned_runs(s) == []
    finally:
        engine.dispose()


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    assert pid_alive(os.getpid(), process_token())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pid_alive(child.pid)
    assert not pid_alive(0)
    token = process_token()
    if token is not None:  # a reused pid, or a run from before a reboot
        boot, start = token.split(":")
        assert not pid_alive(os.getpid(), f"{boot}:{int(start) + 1}")
        assert not pid_alive(os.getpid(), f"another-boot:{start}")


def test_zombie_counts_as_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
        if Path(f"/proc/{child.pid}/stat").exists():
            assert not pid_alive(child.pid)
    finally:
        child.wait()


def test_runs_of_other_hosts(engine: Engine, data_dir: Path, sample_zip: Path) -> None:
    with store.open_session(engine) as s:
        e = store.create_engagement(s, store.EngagementCreate(client="A", project="B"))
        ds = store.store_sample(s, e.id, sample_zip, data_dir)
        quiet = store.start_run(s, ds.id, {})
        other = store.create_engagement(s, store.EngagementCreate(client="C", project="D"))
        fresh = store.start_run(s, store.store_sample(s, other.id, sample_zip, data_dir).id, {})
        for run_id, age in ((quiet.id, 3600), (fresh.id, 5)):
            run = store.get_run(s, run_id)
            run.hostname, run.pid = "colleague-laptop", 1
            run.heartbeat_at = utc_now() - timedelta(seconds=age)
            s.add(run)
        s.commit()
        assert recover_orphaned_runs(s) == []  # other hosts are left alone by default
        assert recover_orphaned_runs(s, stale_after=600) == [quiet.id]
        assert "colleague-laptop" in store.get_run(s, quiet.id).error
        assert store.get_run(s, fresh.id).status == "queued"
