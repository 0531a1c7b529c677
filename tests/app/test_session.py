"""advisor.session: what the pages ask of the advisor, without the pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_helpers import EXAMPLE

from advisor import session as fa
from advisor import store
from advisor.recommendation import Recommendation
from advisor.settings import load_settings
from engines.intake import IntakeError


@pytest.fixture
def ctx(tmp_path):
    settings = load_settings({"FEASIBILITY_DATA_DIR": str(tmp_path / "data")})
    context = fa.create_context(settings)
    yield context
    context.jobs.runner.shutdown(timeout=5)


def test_engagement_answers_are_checked_and_kept(ctx):
    eid = fa.create_engagement(
        ctx,
        client=" ACME ",
        project="Tiles",
        target_value=90,
        language="ko",
        deployment_target="mobile",
    )
    details = fa.engagement_details(ctx, eid)
    assert details["client"] == "ACME" and details["target_value"] == 0.9
    intake = fa.intake_for(ctx, eid)
    assert intake.language == "ko" and intake.deployment == "mobile"
    assert intake.target_value == 0.9 and intake.target_metric == "accuracy"
    fa.save_answers(ctx, eid, {"task": "segmentation", "label_quality": "noisy"})
    assert fa.intake_for(ctx, eid, "en").task == "segmentation"
    with pytest.raises(ValueError, match="between 0 and 100"):
        fa.save_answers(ctx, eid, {"target_value": 150})
    with pytest.raises(ValueError, match="Unknown task"):
        fa.save_answers(ctx, eid, {"task": "magic"})
    with pytest.raises(ValueError, match="Unknown answer"):
        fa.save_answers(ctx, eid, {"favourite_colour": "blue"})
    with pytest.raises(ValueError, match="client's name"):
        fa.create_engagement(ctx, client=" ", project="x")


def test_an_unusable_upload_is_not_stored(ctx, tmp_path):
    eid = fa.create_engagement(ctx, client="A", project="B")
    with pytest.raises(IntakeError, match="not a zip archive"):
        fa.add_sample(ctx, eid, b"not a zip", "x.zip")
    assert fa.current_sample(ctx, eid) is None
    samples = ctx.data_dir / "samples"
    assert not samples.exists() or not any(samples.iterdir())
    with pytest.raises(ValueError, match="empty"):
        fa.add_sample(ctx, eid, b"", "x.zip")


def test_a_sample_is_stored_profiled_and_found_again(ctx, two_class_zip):
    eid = fa.create_engagement(ctx, client="A", project="B")
    stages = []
    sample = fa.add_sample(
        ctx,
        eid,
        two_class_zip.read_bytes(),
        "photos.zip",
        progress=lambda p: stages.append(p.stage),
    )
    assert stages[0] == "store" and "scan" in stages and stages[-1] == "health"
    assert sample.profile["n_images"] == 32 and sample.name == "photos.zip"
    assert sample.profile["health"]["findings"]
    again = fa.current_sample(ctx, eid)
    assert again.dataset_id == sample.dataset_id and again.root == sample.root
    grid = fa.sample_grid(ctx, again, per_class=3)
    assert sorted(grid) == ["cat", "coffee"] and all(len(v) == 3 for v in grid.values())
    assert all(
        path.is_file() and not Path(name).is_absolute()
        for images in grid.values()
        for name, path in images
    )


def test_advice_is_recorded_once_per_set_of_answers(ctx, two_class_zip):
    eid = fa.create_engagement(ctx, client="A", project="B")
    fa.add_sample(ctx, eid, two_class_zip.read_bytes(), "s.zip")
    first = fa.advise(ctx, eid, "en")
    assert fa.advise(ctx, eid, "en").record_id == first.record_id
    changed = fa.advise(ctx, eid, "ko", answers={"domain_similarity": "similar"})
    assert changed.record_id != first.record_id
    assert changed.presented["language"] == "ko"
    q = changed.quadrant
    assert q["n_images"] == 32 and q["data_size"] == "small" and q["large_at"] == 10_000
    assert q["similarity"] == "similar" and q["similarity_score"] is None
    assert q["similarity_source"] == "consultant" and q["quadrant"] == "small_similar"


def test_quadrant_takes_the_measured_similarity():
    result = json.loads(EXAMPLE.read_text("utf-8"))
    rec = Recommendation.from_dict(result["recommendation"])
    q = fa.quadrant_position(rec)
    assert q["similarity_source"] == "measured"
    assert q["similarity_score"] == result["validation"]["similarity"]["score"]


def test_delete_removes_the_engagement_its_sample_and_answers(ctx, two_class_zip):
    eid = fa.create_engagement(ctx, client="A", project="B", target_value=0.8)
    sample = fa.add_sample(ctx, eid, two_class_zip.read_bytes(), "s.zip")
    folder = ctx.data_dir / "samples" / sample.content_hash
    assert folder.exists()
    deleted = fa.delete_engagement(ctx, eid)
    assert deleted.removed_samples == [sample.content_hash] and not folder.exists()
    assert fa.load_answers(ctx, eid) == {}
    with store.open_session(ctx.engine) as session, pytest.raises(store.NotFoundError):
        store.get_engagement(session, eid)
