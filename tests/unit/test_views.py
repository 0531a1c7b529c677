"""The display-ready views: the knowledge catalogue and a presented recommendation."""

from __future__ import annotations

import pytest

from advisor.intake import Intake
from advisor.recommend import recommend
from advisor.views import catalog, present
from engines.profile import DatasetProfile


def sample(n: int, kind: str = "paired") -> DatasetProfile:
    counts = {"a": n // 2, "b": n - n // 2} if kind == "paired" else {}
    return DatasetProfile(
        n_images=n,
        n_classes=len(counts),
        class_counts=counts,
        data_type=kind,
        task_hint="classification" if counts else None,
    )


@pytest.mark.parametrize("language", ["en", "ko"])
def test_generative_advice_has_no_freeze_table_and_names_the_model_family(language):
    rec = recommend(
        Intake(task="super_resolution", data_type="input_only", pairs_can_be_synthesised="yes"),
        sample(800, "input_only"),
    )
    card = present(rec, language)
    assert rec.path == "generative" and rec.freeze_stages is None
    assert card["strategy"]["path"] == "generative" and card["strategy"]["freeze_stages"] is None
    assert card["strategy"]["path_label"]
    assert "EDVR" in card["architecture"]["pretrained_family"]
    assert card["architecture"]["modality"] == "video"


def test_recognition_advice_keeps_the_freeze_table():
    card = present(
        recommend(Intake(task="classification", domain_similarity="similar"), sample(3000)), "en"
    )
    assert card["strategy"]["path"] == "recognition" and card["strategy"]["path_label"] == ""
    assert card["strategy"]["freeze_stages"] == 5


@pytest.mark.parametrize("language", ["en", "ko"])
def test_catalogue_shows_new_tasks_the_generative_path_and_inference_sources(language):
    view = catalog(language)
    tasks = {t["id"]: t for t in view["tasks"]}
    assert tasks["lip_sync"]["modality"] == "audio_video"
    assert tasks["landmarks_3d"]["modality"] == "mesh_3d"
    assert tasks["similarity"]["best_reported"].startswith("99.8%")
    assert [s["id"] for s in view["strategies"]][-1] == "generative"
    tl002 = next(r for r in view["rules"] if r["id"] == "TL-002")
    assert any(src.startswith(view["labels"]["inference"]) for src in tl002["sources"])
    assert not any(
        "(으)" in line or "은(는)" in line for r in view["rules"] for line in r["recommends"]
    )
