"""Detection evidence: box sizes and tiling by hand, balance, and separable crops."""

import json

import numpy as np
import pytest

from engines.detection import (
    DetectionConfig,
    DetectionDataError,
    box_fits_a_tile,
    class_balance,
    object_size_stats,
    plan_crops,
    run_detection_evidence,
    tile_starts,
    tiles_per_image,
)
from engines.detection.crops import grouped_folds
from engines.intake import scan_dataset
from engines.intake.records import Box, ImageRecord
from tests.segdet.fixtures import shapes_detection_sample

W4K, H4K = 3840, 2160


def test_tile_grid_by_hand():
    # 600-px tiles with 20 % overlap advance by 480 px; the last one is aligned to the end.
    assert tile_starts(W4K, 600, 0.2) == [0, 480, 960, 1440, 1920, 2400, 2880, 3240]
    assert tile_starts(H4K, 600, 0.2) == [0, 480, 960, 1440, 1560]
    assert tiles_per_image(W4K, H4K, 600, 0.2) == 40
    assert tile_starts(500, 600, 0.2) == [0]
    assert tile_starts(1200, 600, 0.0) == [0, 600]
    with pytest.raises(ValueError, match="overlap"):
        tile_starts(100, 10, 1.0)


def test_box_cut_by_tile_borders_by_hand():
    # A 30-px box across x = 600 is cut by a grid without overlap, not with 20 %.
    assert not box_fits_a_tile(590, 10, 30, 30, W4K, H4K, 600, 0.0)
    assert box_fits_a_tile(590, 10, 30, 30, W4K, H4K, 600, 0.2)


def test_30px_objects_in_4k_frames():
    boxes = [(590 + 80 * i, 100 + 50 * i, 30, 30, W4K, H4K) for i in range(40)]
    stats = object_size_stats(boxes, input_sizes=(640, 3840), target_px=32, overlap=0.2)
    at640, native = stats["by_input_size"]
    # 30 px * 640 / 3840 = 5 px: every object is under 8 px at a 640 input.
    assert at640["resized_side_px"]["median"] == pytest.approx(5.0)
    assert at640["fraction_under"] == {"8": 1.0, "16": 1.0, "32": 1.0}
    assert native["fraction_under"]["32"] == 1.0 and native["fraction_under"]["16"] == 0.0
    tiling = stats["tiling"][0]
    assert tiling["tiling_needed"] and not tiling["whole_frame_reaches_target"]
    # Scale needed 32 / 30; a tile spans 640 * 30 / 32 = 600 native px -> 8 x 5 tiles.
    assert tiling["scale_needed"] == pytest.approx(32 / 30)
    assert tiling["upsampling_needed"] is True
    assert tiling["tile_side_px"] == 600
    assert tiling["tiles_per_image"]["median"] == 40
    assert tiling["fraction_boxes_cut_by_tiles"] == 0.0  # 120-px overlap > 30-px boxes
    assert tiling["fraction_under_target_after_tiling"] == 0.0
    assert stats["object_side_px"]["median"] == 30.0
    assert stats["relative_side"]["median"] == pytest.approx(30 / 3840, abs=1e-3)
    json.dumps(stats)


def test_large_objects_need_no_tiling():
    stats = object_size_stats([(0, 0, 400, 300, 1920, 1080)], input_sizes=(640,))
    t = stats["tiling"][0]
    assert t["whole_frame_reaches_target"] and not t["tiling_needed"]
    assert t["tiles_per_image"]["max"] == 1
    with pytest.raises(ValueError, match="No box"):
        object_size_stats([(0, 0, 0, 5, 100, 100)])


def rec(name, boxes):
    return ImageRecord(path=name, boxes=boxes)


def test_class_balance_by_hand():
    records = [
        rec("a", [Box("car", 0, 0, 5, 5), Box("car", 9, 9, 5, 5), Box("bike", 1, 1, 3, 3)]),
        rec("b", [Box("car", 0, 0, 5, 5)]),
        rec("c", []),  # annotated, no object
        rec("d", None),  # not annotated
    ]
    b = class_balance(records)
    assert b["n_images_annotated"] == 3 and b["n_images_not_annotated"] == 1
    assert b["n_images_without_boxes"] == 1 and b["n_boxes"] == 4
    per = {c["name"]: c for c in b["per_class"]}
    assert per["car"]["n_boxes"] == 3 and per["car"]["n_images"] == 2
    assert per["car"]["boxes_per_image_when_present"] == 1.5
    assert per["bike"]["share_of_boxes"] == 0.25
    assert per["bike"]["share_of_images"] == pytest.approx(1 / 3)
    assert b["imbalance_ratio_boxes"] == 3.0 and b["imbalance_ratio_images"] == 2.0
    assert b["rarest_class"] == "bike" and b["most_common_class"] == "car"
    assert b["classes_per_image"]["max"] == 2


def test_background_patches_avoid_boxes_and_folds_keep_images_whole():
    records = [rec(f"i{i}", [Box("car", 10, 10, 20, 20)]) for i in range(6)]
    crops, dropped = plan_crops(records, [(100, 80)] * 6, margin=0.1, seed=0)
    bg = [c for c in crops if c.label == "background"]
    assert len(bg) == 6 and dropped["no_background_room"] == 0
    for c in bg:
        assert c.x1 <= 10 or c.x0 >= 30 or c.y1 <= 10 or c.y0 >= 30
    cars = [c for c in crops if c.label == "car"]
    assert (cars[0].x0, cars[0].y0, cars[0].x1, cars[0].y1) == (8, 8, 32, 32)
    groups = np.repeat(np.arange(10), 3)
    folds = grouped_folds(groups, 4, seed=0)
    for g in range(10):
        assert np.unique(folds[groups == g]).size == 1


@pytest.mark.parametrize("fmt", ["voc", "coco"])
def test_evidence_on_real_annotation_formats(tmp_path, fmt):
    root = shapes_detection_sample(tmp_path / fmt, n=18, fmt=fmt)
    index = scan_dataset(root)
    assert index.layout == fmt
    cfg = DetectionConfig(
        crop_size=64, device="cpu", separability=fmt == "voc", input_sizes=(320, 640)
    )
    res = run_detection_evidence(index.records, cfg)
    json.dumps(res)
    assert res["n_images_annotated"] == 18
    per = {c["name"]: c["n_boxes"] for c in res["balance"]["per_class"]}
    assert per == {"disc": 6, "square": 18}
    assert res["sizes"]["n_boxes"] == 24
    assert 14 <= res["sizes"]["object_side_px"]["min"] <= res["sizes"]["object_side_px"]["max"] < 24
    if fmt == "coco":
        assert res["separability"] is None
        return
    sep = res["separability"]
    assert sep["available"] and sep["crops_per_class"] == {
        "background": 18,
        "disc": 6,
        "square": 18,
    }
    acc = sep["object_classes"]["metrics"]["accuracy"]
    assert acc["value"] >= 0.9 and acc["ci_low"] < acc["value"] <= acc["ci_high"]
    assert sep["all_classes"]["validation"].endswith("grouped by image")
    assert sep["object_vs_background"]["metrics"]["accuracy"]["value"] >= 0.8


def test_no_boxes_is_a_clear_error():
    with pytest.raises(DetectionDataError, match="No image has box annotations"):
        run_detection_evidence([ImageRecord(path="x.jpg")])
    with pytest.raises(ValueError, match="tile_overlap"):
        DetectionConfig(tile_overlap=1.5)


def test_detection_evidence_can_be_cancelled(tmp_path):
    from engines.progress import Cancelled, CancelToken

    root = shapes_detection_sample(tmp_path / "c", n=6, fmt="voc")
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_detection_evidence(
            scan_dataset(root).records,
            DetectionConfig(backbone="test_efficientnet", device="cpu"),
            cancel=token,
        )
