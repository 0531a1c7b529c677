"""Two app sessions writing at once lose nothing (threads, and separate processes)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select
from store_helpers import start_worker

from advisor import store
from advisor.store.database import create_db_engine
from advisor.store.models import Dataset, Engagement, RecommendationRecord, Run

THREADS = 4
PER_THREAD = 15


def test_concurrent_threads_lose_nothing(db_url: str, data_dir: Path, sample_zip: Path) -> None:
    engine = create_db_engine(db_url)
    with store.open_session(engine) as s:
        e = store.create_engagement(s, store.EngagementCreate(client="shared", project="p"))
        ds = store.store_sample(s, e.id, sample_zip, data_dir)
        shared_run = store.start_run(s, ds.id, {})
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def session_of_the_app(n: int) -> None:
        try:
            barrier.wait()
            with store.open_session(engine) as s:
                for i in range(PER_THREAD):
                    own = store.create_engagement(
                        s, store.EngagementCreate(client=f"c{n}-{i}", project="p")
                    )
                    store.update_engagement(s, own.id, store.EngagementUpdate(goal=f"goal {n}-{i}"))
                    store.record_recommendation(s, ds.id, {"n": n, "i": i}, {}, "k")
                    # One active run per engagement: each thread runs on its own one.
                    own_ds = store.store_sample(s, own.id, sample_zip, data_dir)
                    run = store.start_run(s, own_ds.id, {"n": n, "i": i})
                    store.update_run_progress(s, run.id, "t", 0.5, f"{n}-{i}")
                    store.finish_run(s, run.id, {"n": n, "i": i}, 0.1)
                    store.update_run_progress(s, shared_run.id, f"t{n}", i / PER_THREAD)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=session_of_the_app, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    try:
        with store.open_session(engine) as s:
            total = THREADS * PER_THREAD
            goals = {e.client: e.goal for e in store.list_engagements(s)}
            assert len(goals) == total + 1
            assert all(
                goals[f"c{n}-{i}"] == f"goal {n}-{i}"
                for n in range(THREADS)
                for i in range(PER_THREAD)
            )
            recs = store.list_recommendations(s, ds.id)
            assert sorted((r.inputs["n"], r.inputs["i"]) for r in recs) == sorted(
                (n, i) for n in range(THREADS) for i in range(PER_THREAD)
            )
            runs = [r for r in store.list_runs(s) if r.id != shared_run.id]
            assert len(runs) == total
            assert all(r.status == "done" and r.result == r.config for r in runs)
            assert store.get_run(s, shared_run.id).status == "running"
    finally:
        engine.dispose()


def test_two_processes_writing_at_once_lose_nothing(sqlite_url: str, data_dir: Path) -> None:
    engine = create_db_engine(sqlite_url)  # the schema exists, as after the first start
    tags = ["alpha", "beta"]
    updates = 60
    go = data_dir.parent / "go"
    workers = [
        start_worker("write", sqlite_url, str(data_dir), tag, str(updates), str(go)) for tag in tags
    ]
    for worker in workers:  # both engines are open before either writes
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    go.touch()
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        outputs.append(json.loads(out))
    # the two writers really overlapped in time
    assert max(o["started"] for o in outputs) < min(o["ended"] for o in outputs)
    try:
        with store.open_session(engine) as s:

            def count(model: type) -> int:
                return s.exec(select(func.count()).select_from(model)).one()

            assert (count(Engagement), count(Dataset), count(RecommendationRecord), count(Run)) == (
                2,
                2,
                2,
                2,
            )
            for tag, out in zip(tags, outputs, strict=True):
                engagement = store.get_engagement(s, out["engagement"])
                assert engagement.client == f"client {tag}"
                (dataset,) = store.list_datasets(s, engagement.id)
                assert dataset.profile == {"n_images": 1, "tag": tag}
                assert store.dataset_location(dataset, data_dir).is_dir()
                run = store.get_run(s, out["run"])
                assert (run.status, run.message, run.config) == (
                    "done",
                    f"{tag} {updates - 1}",
                    {"tag": tag},
                )
                assert run.result == {"metrics": {"accuracy": 0.5}, "tag": tag}
    finally:
        engine.dispose()
