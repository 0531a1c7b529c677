"""Repository functions, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from store_helpers import make_class_folder, zip_folder

from advisor import store
from advisor.recommendation import Recommendation, RuleFiring
from advisor.store.models import Dataset, Engagement, RecommendationRecord, Report, Run
from engines.profile import DatasetProfile


def _engagement(session: Session, client: str = "ACME", **kw: str) -> store.Engagement:
    return store.create_engagement(
        session, store.EngagementCreate(client=client, project="Tiles", **kw)
    )


def test_engagement_crud(engine: Engine) -> None:
    with store.open_session(engine) as s:
        a = _engagement(s, "ACME", goal="find cracks", language="ko")
        b = _engagement(s, "Beta", deployment_target="mobile")
        assert a.id is not None and a.created_at.tzinfo is not None
        store.update_engagement(s, a.id, store.EngagementUpdate(goal="find cracks fast"))
    with store.open_session(engine) as s:
        listed = store.list_engagements(s)
        assert [e.id for e in listed] == [a.id, b.id]  # a was updated last
        got = store.get_engagement(s, a.id)
        assert (got.client, got.goal, got.language) == ("ACME", "find cracks fast", "ko")
        assert store.EngagementPublic.model_validate(got).id == a.id
        with pytest.raises(store.NotFoundError, match="No engagement with id 999"):
            store.get_engagement(s, 999)


def test_bad_engagement_input_is_refused(engine: Engine) -> None:
    with store.open_session(engine) as s:
        with pytest.raises(ValueError, match="deployment target"):
            _engagement(s, deployment_target="toaster")
        with pytest.raises(ValueError, match="language"):
            _engagement(s, language="fr")
        with pytest.raises(ValueError):
            store.EngagementCreate(client="", project="x")
        e = _engagement(s)
        with pytest.raises(ValueError, match="cannot be empty"):
            store.update_engagement(s, e.id, store.EngagementUpdate(client="  "))
        assert len(store.list_engagements(s)) == 1  # session still usable after errors


def test_store_sample_is_content_addressed_and_idempotent(
    engine: Engine, data_dir: Path, sample_zip: Path, tmp_path: Path
) -> None:
    with store.open_session(engine) as s:
        a, b = _engagement(s, "A"), _engagement(s, "B")
        first = store.store_sample(s, a.id, sample_zip, data_dir)
        again = store.store_sample(s, a.id, sample_zip, data_dir)
        renamed = tmp_path / "other-name.zip"
        renamed.write_bytes(sample_zip.read_bytes())
        other = store.store_sample(s, b.id, renamed, data_dir)

        assert again.id == first.id
        assert other.id != first.id and other.content_hash == first.content_hash
        assert first.stored_path == f"samples/{first.content_hash}/sample.zip"
        assert first.original_name == sample_zip.name  # a label, never a path on disk
        location = store.dataset_location(first, data_dir)
        assert location.read_bytes() == sample_zip.read_bytes()
        stored_files = [p for p in (data_dir / "samples").rglob("*") if p.is_file()]
        assert stored_files == [location]  # one copy for three uploads
        assert "고객" not in "".join(str(p) for p in (data_dir).rglob("*"))

        folder = make_class_folder(tmp_path / "folder-upload", {"ok": 2, "ng": 1})
        ds = store.store_sample(s, a.id, folder, data_dir)
        assert ds.kind == "folder" and ds.file_count == 3
        assert (store.dataset_location(ds, data_dir) / "ng" / "img_000.png").is_file()
        assert [d.id for d in store.list_datasets(s, a.id)] == [first.id, ds.id]

        with pytest.raises(store.SampleTooLargeError, match="upload limit"):
            store.store_sample(s, a.id, folder, data_dir, max_bytes=10)
        with pytest.raises(FileNotFoundError):
            store.store_sample(s, a.id, tmp_path / "missing.zip", data_dir)
        with pytest.raises(store.NotFoundError):
            store.store_sample(s, 12345, sample_zip, data_dir)


def test_profile_and_recommendation_round_trip(
    engine: Engine, data_dir: Path, sample_zip: Path
) -> None:
    profile = DatasetProfile(
        n_images=10,
        n_classes=2,
        class_counts={"crack": 4, "free": 6},
        image_stats={"width": {"min": 32.0, "max": float("nan")}},
    )
    rec = Recommendation(
        task="classification",
        strategy_id="linear_probe",
        trail=[
            RuleFiring("DA-003", "very-few", {"en": "few", "ko": "적음"}, "seed.txt"),
            RuleFiring("TL-007", "small-similar", {"en": "probe", "ko": "선형"}, "p.pdf"),
        ],
    )
    with store.open_session(engine) as s:
        e = _engagement(s)
        ds = store.store_sample(s, e.id, sample_zip, data_dir)
        store.set_dataset_profile(s, ds.id, profile.to_dict())
        record = store.record_recommendation(
            s, ds.id, {"intake": {"task": None}, "sizes": (1, 2)}, rec.to_dict(), "kb-2026.11"
        )
        rec_id = record.id
    with store.open_session(engine) as s:
        stored = store.get_dataset(s, ds.id)
        back = DatasetProfile.from_dict(stored.profile)
        assert back.class_counts == profile.class_counts
        assert stored.profile["image_stats"]["width"] == {"min": 32.0, "max": None}  # NaN->null
        record = store.get_recommendation(s, rec_id)
        assert record.output == rec.to_dict()
        assert record.rule_trail == ["DA-003", "TL-007"]
        assert record.inputs == {"intake": {"task": None}, "sizes": [1, 2]}
        assert record.knowledge_version == "kb-2026.11"
        assert store.latest_recommendation(s, ds.id).id == rec_id
        with pytest.raises(ValueError, match="not JSON data"):
            store.record_recommendation(s, ds.id, {"path": Path("/x")}, {}, "k")


def test_run_lifecycle(engine: Engine, data_dir: Path, sample_zip: Path) -> None:
    with store.open_session(engine) as s:
        e = _engagement(s)
        ds = store.store_sample(s, e.id, sample_zip, data_dir)
        rec = store.record_recommendation(s, ds.id, {}, {"fired_rule_ids": ["X-1"]}, "k")
        run = store.start_run(
            s, ds.id, {"backbones": ["efficientnet_lite0"], "budget": 180}, recommendation_id=rec.id
        )
        assert run.status == "queued" and run.pid and run.hostname
        run = store.mark_run_running(
            s, run.id, device="cpu", library_versions={"torch": "2.14.1", "timm": "1.0"}
        )
        assert run.status == "running" and run.started_at is not None
        run = store.update_run_progress(s, run.id, "probe", 0.5, "linear probe 3/6")
        assert (run.stage, run.progress, run.message) == ("probe", 0.5, "linear probe 3/6")
        assert run.heartbeat_at is not None
        with pytest.raises(ValueError, match="between 0 and 1"):
            store.update_run_progress(s, run.id, "probe", 1.5)
        result = {
            "metrics": {"accuracy": 0.9, "ci": [0.8, math.inf]},
            "device": "cuda",
            "experiments": [{"strategy": "linear_probe", "seconds": 12.5}],
        }
        run = store.finish_run(s, run.id, result, 42.0)
        run_id = run.id
    with store.open_session(engine) as s:
        run = store.get_run(s, run_id)
        assert run.status == store.RunStatus.DONE and run.progress == 1.0
        assert run.result["experiments"] == result["experiments"]
        assert run.metrics == {"accuracy": 0.9, "ci": [0.8, None]}
        assert run.device == "cpu"  # set by the worker, not overwritten by the result
        assert run.library_versions == {"torch": "2.14.1", "timm": "1.0"}
        assert run.seconds == 42.0 and run.finished_at >= run.started_at
        assert run.config == {"backbones": ["efficientnet_lite0"], "budget": 180}
        assert store.RunPublic.model_validate(run).recommendation_id == rec.id
        with pytest.raises(store.RunStateError, match="already ended"):
            store.finish_run(s, run_id, {}, 1.0)
        assert store.fail_run(s, run_id, "late").status == "done"  # ended runs stay


def test_cancel_is_seen_by_the_worker(engine: Engine, data_dir: Path, sample_zip: Path) -> None:
    with Session(engine) as app, Session(engine) as worker:  # plain sessions work too
        e = _engagement(app)
        ds = store.store_sample(app, e.id, sample_zip, data_dir)
        run = store.start_run(app, ds.id, {})
        store.update_run_progress(worker, run.id, "probe", 0.1)
        store.cancel_run(app, run.id)
        seen = store.update_run_progress(worker, run.id, "probe", 0.2)
        assert seen.status == "cancelled" and seen.progress == 0.1
        with pytest.raises(store.RunStateError):
            store.mark_run_running(worker, run.id)
        failed = store.start_run(app, ds.id, {})
        assert store.fail_run(worker, failed.id, "CUDA out of memory").error == (
            "CUDA out of memory"
        )
        statuses = {r.id: r.status for r in store.list_runs(app, engagement_id=e.id)}
        assert statuses == {run.id: "cancelled", failed.id: "failed"}
        assert [r.id for r in store.list_runs(app, statuses=["failed"])] == [failed.id]
        with pytest.raises(ValueError):
            store.list_runs(app, statuses=["exploded"])


def test_reports(engine: Engine, data_dir: Path, tmp_path: Path) -> None:
    with store.open_session(engine) as s:
        e = _engagement(s)
        inside = store.reports_dir(data_dir, e.id) / "feasibility.html"
        inside.parent.mkdir(parents=True)
        inside.write_text("<h1>ok</h1>")
        outside = tmp_path / "client copy.pdf"
        outside.write_bytes(b"%PDF-1.7")
        r1 = store.record_report(s, e.id, "html", inside, data_dir)
        r2 = store.record_report(s, e.id, "pdf", outside, data_dir)
        assert r1.path == f"reports/{e.id}/feasibility.html"
        assert Path(r2.path).is_absolute()
        assert [store.report_location(r, data_dir) for r in store.list_reports(s, e.id)] == [
            inside,
            outside.resolve(),
        ]
        with pytest.raises(ValueError, match="report format"):
            store.record_report(s, e.id, "docx", inside, data_dir)
        with pytest.raises(FileNotFoundError):
            store.record_report(s, e.id, "html", tmp_path / "nope.html", data_dir)


def _populate(s: Session, data_dir: Path, tmp_path: Path, tag: str, shared_zip: Path) -> int:
    e = _engagement(s, f"client {tag}")
    own = make_class_folder(tmp_path / f"own-{tag}", {tag: 2}, seed=hash(tag) % 97)
    for source in (shared_zip, own):
        ds = store.store_sample(s, e.id, source, data_dir)
        store.set_dataset_profile(s, ds.id, {"n_images": 2})
        rec = store.record_recommendation(s, ds.id, {}, {"fired_rule_ids": ["A"]}, "k")
        run = store.start_run(s, ds.id, {"tag": tag}, recommendation_id=rec.id)
        folder = store.run_dir(data_dir, run.id)
        folder.mkdir(parents=True)
        (folder / "result.json").write_text("{}")
        store.finish_run(s, run.id, {"tag": tag}, 1.0)
    report = store.reports_dir(data_dir, e.id) / "r.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(tag)
    store.record_report(s, e.id, "html", report, data_dir)
    return int(e.id)


def _snapshot(s: Session) -> dict[str, list[dict]]:
    return {
        model.__tablename__: [row.model_dump() for row in s.exec(select(model)).all()]
        for model in (Engagement, Dataset, RecommendationRecord, Run, Report)
    }


def test_delete_engagement_removes_its_things_and_nothing_else(
    engine: Engine, data_dir: Path, tmp_path: Path
) -> None:
    shared = zip_folder(make_class_folder(tmp_path / "shared", {"x": 3}), tmp_path / "s.zip")
    with store.open_session(engine) as s:
        keep = _populate(s, data_dir, tmp_path, "keep", shared)
        gone = _populate(s, data_dir, tmp_path, "gone", shared)
        gone_datasets = store.list_datasets(s, gone)
        gone_runs = [r.id for r in store.list_runs(s, engagement_id=gone)]
        own_hash = gone_datasets[1].content_hash
        shared_hash = gone_datasets[0].content_hash
        keep_runs = [r.id for r in store.list_runs(s, engagement_id=keep)]
        before = _snapshot(s)
        files_before = sorted(p for p in data_dir.rglob("*") if p.is_file())

        summary = store.delete_engagement(s, gone, data_dir)

        assert summary.removed_samples == [own_hash]  # the shared one is still used
        assert sorted(summary.run_ids) == sorted(gone_runs)
        with pytest.raises(store.NotFoundError):
            store.get_engagement(s, gone)
        after = _snapshot(s)
        for table, rows in before.items():
            kept = [r for r in rows if r not in _rows_of(before, gone)[table]]
            assert after[table] == kept, table
        assert not (data_dir / "samples" / own_hash).exists()
        assert (data_dir / "samples" / shared_hash).exists()
        assert not store.reports_dir(data_dir, gone).exists()
        for run_id in gone_runs:
            assert not store.run_dir(data_dir, run_id).exists()
        for run_id in keep_runs:
            assert (store.run_dir(data_dir, run_id) / "result.json").exists()
        removed_roots = [data_dir / "samples" / own_hash, store.reports_dir(data_dir, gone)]
        removed_roots += [store.run_dir(data_dir, r) for r in gone_runs]
        expected = [
            f for f in files_before if not any(f.is_relative_to(root) for root in removed_roots)
        ]
        assert sorted(p for p in data_dir.rglob("*") if p.is_file()) == expected
        with pytest.raises(store.NotFoundError):
            store.delete_engagement(s, gone, data_dir)


def _rows_of(snapshot: dict[str, list[dict]], engagement_id: int) -> dict[str, list[dict]]:
    datasets = [d for d in snapshot["dataset"] if d["engagement_id"] == engagement_id]
    ds_ids = {d["id"] for d in datasets}
    return {
        "engagement": [e for e in snapshot["engagement"] if e["id"] == engagement_id],
        "dataset": datasets,
        "recommendation": [r for r in snapshot["recommendation"] if r["dataset_id"] in ds_ids],
        "run": [r for r in snapshot["run"] if r["dataset_id"] in ds_ids],
        "report": [r for r in snapshot["report"] if r["engagement_id"] == engagement_id],
    }


def test_foreign_keys_cascade_in_the_database(
    engine: Engine, data_dir: Path, sample_zip: Path
) -> None:
    """Even a raw DELETE (another tool, a DBA) leaves no orphans."""
    with store.open_session(engine) as s:
        e = _engagement(s)
        ds = store.store_sample(s, e.id, sample_zip, data_dir)
        store.start_run(s, ds.id, {})
        s.exec(text("DELETE FROM engagement WHERE id = :id").bindparams(id=e.id))
        s.commit()
        assert s.exec(select(func.count()).select_from(Run)).one() == 0
        assert s.exec(select(func.count()).select_from(Dataset)).one() == 0


def test_ids_are_never_reused(engine: Engine) -> None:
    with store.open_session(engine) as s:
        first = _engagement(s).id
        store.delete_engagement(s, first, Path("/nonexistent-data-dir"))
        assert _engagement(s).id != first
