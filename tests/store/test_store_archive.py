"""Export one engagement as a zip, import it into another store: everything equal."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from store_helpers import make_class_folder

from advisor import store
from advisor.store.database import create_db_engine

IDS = {"id", "engagement_id", "dataset_id", "recommendation_id", "run_id"}


def _build(engine: Engine, data_dir: Path, tmp_path: Path) -> int:
    """An engagement with everything: two samples, profiles, recs, runs, reports."""
    with store.open_session(engine) as s:
        other = store.create_engagement(s, store.EngagementCreate(client="Other", project="x"))
        store.store_sample(s, other.id, make_class_folder(tmp_path / "o", {"z": 1}), data_dir)
        e = store.create_engagement(
            s,
            store.EngagementCreate(
                client="한빛 타일",
                project="Surface defects",
                goal="결함 검출",
                deployment_target="cpu",
                language="ko",
                answers={"task": "classification", "target_metric": "macro_f1"},
            ),
        )
        store.update_engagement(
            s,
            e.id,
            store.EngagementUpdate(
                answers={
                    "task": "classification",
                    "target_metric": "macro_f1",
                    "target_value": 0.9,
                    "label_quality": "noisy",
                    "high_stakes": True,
                }
            ),
        )
        folder = make_class_folder(tmp_path / "tiles", {"crack": 3, "free": 4})
        zipped = tmp_path / "tiles.zip"
        with zipfile.ZipFile(zipped, "w") as zf:
            zf.writestr("crack/a.png", b"png" * 30)
        for source in (folder, zipped):
            ds = store.store_sample(s, e.id, source, data_dir)
            store.set_dataset_profile(s, ds.id, {"n_images": 7, "class_counts": {"crack": 3}})
            rec = store.record_recommendation(
                s,
                ds.id,
                {"intake": {"task": "classification"}},
                {"task": "classification", "fired_rule_ids": ["DA-003", "TL-007"]},
                "kb-1",
            )
            done = store.start_run(s, ds.id, {"budget_seconds": 180}, recommendation_id=rec.id)
            store.mark_run_running(s, done.id, device="cpu", library_versions={"torch": "2"})
            store.update_run_progress(s, done.id, "curve", 0.9, "learning curve")
            out = store.run_dir(data_dir, done.id)
            (out / "plots").mkdir(parents=True)
            (out / "result.json").write_text(json.dumps({"ok": True}))
            (out / "plots" / "curve.png").write_bytes(b"\x89PNG" + bytes(range(256)))
            store.finish_run(s, done.id, {"metrics": {"accuracy": 0.88}, "curve": [1, 2]}, 12.5)
            failed = store.start_run(s, ds.id, {"budget_seconds": 5})
            store.fail_run(s, failed.id, "CUDA out of memory")
        html = store.reports_dir(data_dir, e.id) / "feasibility.html"
        html.parent.mkdir(parents=True)
        html.write_text("<h1>실현 가능성</h1>", encoding="utf-8")
        store.record_report(s, e.id, "html", html, data_dir, run_id=done.id)
        outside = tmp_path / "Desktop" / "report.pdf"
        outside.parent.mkdir()
        outside.write_bytes(b"%PDF-1.7 ...")
        store.record_report(s, e.id, "pdf", outside, data_dir)
        store.start_run(s, ds.id, {"budget_seconds": 1})  # still queued when exported
        return int(e.id)


def _describe(engine: Engine, engagement_id: int, data_dir: Path) -> dict:
    """Everything about an engagement, ids replaced by positions, files by their bytes."""
    with store.open_session(engine) as s:
        e = store.get_engagement(s, engagement_id)
        datasets = store.list_datasets(s, engagement_id)
        runs = sorted(store.list_runs(s, engagement_id=engagement_id), key=lambda r: r.id)
        run_pos = {r.id: i for i, r in enumerate(runs)}
        recs = [r for d in datasets for r in store.list_recommendations(s, d.id)]
        rec_pos = {r.id: i for i, r in enumerate(recs)}
        ds_pos = {d.id: i for i, d in enumerate(datasets)}

        def plain(row: object) -> dict:
            return {k: v for k, v in row.model_dump().items() if k not in IDS | {"path"}}

        def files(folder: Path) -> dict[str, bytes]:
            return {
                p.relative_to(folder).as_posix(): p.read_bytes()
                for p in sorted(folder.rglob("*"))
                if p.is_file()
            }

        return {
            "engagement": plain(e),
            "datasets": [
                plain(d)
                | {
                    "files": files(store.dataset_location(d, data_dir))
                    if store.dataset_location(d, data_dir).is_dir()
                    else store.dataset_location(d, data_dir).read_bytes()
                }
                for d in datasets
            ],
            "recommendations": [plain(r) | {"dataset": ds_pos[r.dataset_id]} for r in recs],
            "runs": [
                plain(r)
                | {
                    "dataset": ds_pos[r.dataset_id],
                    "rec": rec_pos.get(r.recommendation_id),
                    "files": files(store.run_dir(data_dir, r.id)),
                }
                for r in runs
            ],
            "reports": [
                plain(r)
                | {
                    "run": run_pos.get(r.run_id),
                    "bytes": store.report_location(r, data_dir).read_bytes(),
                }
                for r in store.list_reports(s, engagement_id)
            ],
        }


def test_round_trip_into_a_fresh_store(db_url: str, tmp_path: Path) -> None:
    source_dir = tmp_path / "mine"
    source = create_db_engine(f"sqlite:///{source_dir / 'store.db'}")
    engagement_id = _build(source, source_dir, tmp_path)
    original = _describe(source, engagement_id, source_dir)
    archive = tmp_path / "handover" / "engagement.zip"
    with store.open_session(source) as s:
        assert store.export_engagement(s, engagement_id, archive, source_dir) == archive

    target_dir = tmp_path / "colleague"  # a fresh data dir, a fresh database (each backend)
    target = create_db_engine(db_url)
    try:
        with store.open_session(target) as s:
            imported = store.import_engagement(s, archive, target_dir)
            assert [e.client for e in store.list_engagements(s)] == ["한빛 타일"]
        copy = _describe(target, int(imported.id), target_dir)

        queued = original["runs"].pop()  # the run still queued at export...
        arrived = copy["runs"].pop()  # ...arrives failed: its process is elsewhere
        assert queued["status"] == "queued" and arrived["status"] == "failed"
        assert arrived["error"] == "the run had not ended when the engagement was exported"
        assert copy == original
        assert copy["engagement"]["answers"] == {  # the consultant's answers travel too
            "task": "classification",
            "target_metric": "macro_f1",
            "target_value": 0.9,
            "label_quality": "noisy",
            "high_stakes": True,
        }
        assert len(list((target_dir / "samples").iterdir())) == 2  # not the other engagement's

        with store.open_session(target) as s:  # importing twice makes a second copy
            again = store.import_engagement(s, archive, target_dir)
            assert again.id != imported.id and len(store.list_engagements(s)) == 2
            store.delete_engagement(s, again.id, target_dir)
        assert _describe(target, int(imported.id), target_dir)["datasets"] == copy["datasets"]
    finally:
        source.dispose()
        target.dispose()


def test_damaged_or_foreign_archives_are_refused(sqlite_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    engine = create_db_engine(sqlite_url)
    engagement_id = _build(engine, data_dir, tmp_path)
    archive = tmp_path / "e.zip"
    with store.open_session(engine) as s:
        store.export_engagement(s, engagement_id, archive, data_dir)
        before = len(store.list_engagements(s))

    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(damaged, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("result.json"):
                data = b'{"ok": false}'
            dst.writestr(info, data)
    escaping = tmp_path / "escaping.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(escaping, "w") as dst:
        manifest = json.loads(src.read("manifest.json"))
        manifest["files"]["../../evil.txt"] = "0" * 64
        dst.writestr("manifest.json", json.dumps(manifest))
        dst.writestr("../../evil.txt", b"x")
    not_ours = tmp_path / "other.zip"
    with zipfile.ZipFile(not_ours, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"format": "something else"}))
    newer = tmp_path / "newer.zip"
    with zipfile.ZipFile(newer, "w") as zf:
        zf.writestr(
            "manifest.json",
            json.dumps({"format": "feasibility-advisor/engagement", "format_version": 99}),
        )

    target_dir = tmp_path / "target"
    with store.open_session(engine) as s:
        for bad, message in (
            (damaged, "checksum"),
            (escaping, "Unsafe path"),
            (not_ours, "not an engagement archive"),
            (newer, "Update the app"),
            (tmp_path / "tiles.zip", "not an engagement archive"),
        ):
            with pytest.raises(store.ArchiveError, match=message):
                store.import_engagement(s, bad, target_dir)
        assert len(store.list_engagements(s)) == before
    assert not (tmp_path / "evil.txt").exists()
    assert (
        not list((target_dir / "samples").glob("*")) if (target_dir / "samples").exists() else True
    )
    assert not [p for p in target_dir.iterdir() if p.name.startswith(".import-")]
    engine.dispose()
