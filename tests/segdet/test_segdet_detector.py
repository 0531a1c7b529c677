"""Detector fine-tune: COCO mAP by hand, real VOC/COCO files, planted shapes found."""

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from engines.detection.detector import Inputs, crop_boxes, merge_per_image
from engines.detection.finetune import (
    DetectorConfig,
    _tiles,
    _whole_frames,
    run_detector_finetune,
)
from engines.detection.scores import _resampled, detection_scores, evaluate
from engines.intake import scan_dataset
from engines.intake.split import stratified_split
from tests.segdet.fixtures import shapes_detection_sample


def t(boxes, labels):
    return {"boxes": np.asarray(boxes, float).reshape(-1, 4), "labels": np.asarray(labels)}


def p(boxes, scores, labels):
    return {**t(boxes, labels), "scores": np.asarray(scores, float)}


# Two images, one class. Ranked detections: 0.9 TP, 0.8 FP, 0.7 TP (IoU 0.64 with its box).
TRUTH = [t([[0, 0, 10, 10]], [0]), t([[20, 20, 30, 30]], [0])]
PRED = [
    p([[0, 0, 10, 10], [50, 50, 60, 60]], [0.9, 0.8], [0, 0]),
    p([[20, 20, 30, 26.4]], [0.7], [0]),
]


def test_map_against_a_hand_computed_case():
    s = detection_scores(TRUTH, PRED, ["a"], n_boot=0)
    # IoU <= 0.64: precision 1 up to recall 0.5, then 2/3 up to recall 1; COCO samples
    # 101 recall points: 51 at precision 1 and 50 at 2/3.
    ap_hit = (51 * 1.0 + 50 * 2 / 3) / 101
    # IoU > 0.64: the second box is missed; precision 1 up to recall 0.5, nothing after.
    ap_miss = 51 / 101
    assert s["map50"]["value"] == pytest.approx(ap_hit)
    # thresholds .50 .55 .60 match the 0.64 box; the seven from .65 to .95 do not
    assert s["map"]["value"] == pytest.approx((3 * ap_hit + 7 * ap_miss) / 10)
    assert s["map75"] == pytest.approx(ap_miss)
    assert s["n_boxes"] == 2 and s["n_predictions"] == 3
    json.dumps(s)


def test_class_absent_from_truth_has_no_ap_and_stays_out_of_the_mean():
    truth = [t([[0, 0, 10, 10]], [0]), t([], [])]
    pred = [p([[0, 0, 10, 10]], [0.9], [0]), p([[5, 5, 15, 15]], [0.5], [1])]
    s = detection_scores(truth, pred, ["a", "b"], n_boot=20)
    assert s["map50"]["value"] == pytest.approx(1.0)
    a, b = s["per_class"]
    assert a["ap50"]["value"] == pytest.approx(1.0) and b["ap50"]["value"] is None
    assert b["n_predictions"] == 1 and b["n_boxes"] == 0


def test_bootstrap_resample_of_all_images_reproduces_the_point_value():
    ev = evaluate(TRUTH, PRED, 1)
    same = _resampled(ev, np.arange(2))
    assert np.allclose(same, ev.eval["precision"][:, :, :, 0, -1])
    # an image drawn twice counts twice: image 0 alone, twice, gives AP 1 at IoU 0.5
    # (the FP at 0.8 ranks below its TP at 0.9)
    twice = _resampled(ev, np.array([0, 0]))
    assert twice[0, :, 0].mean() == pytest.approx(1.0)
    s = detection_scores(TRUTH, PRED, ["a"], n_boot=50)
    lo, hi = s["map50"]["ci_low"], s["map50"]["ci_high"]
    assert lo <= s["map50"]["value"] <= hi and "bootstrap" in s["map50"]["method"]


VOC_XML = """<annotation>
	<folder>VOC2007</folder>
	<filename>000005.jpg</filename>
	<source>
		<database>The VOC2007 Database</database>
		<annotation>PASCAL VOC2007</annotation>
		<image>flickr</image>
	</source>
	<size>
		<width>120</width>
		<height>90</height>
		<depth>3</depth>
	</size>
	<segmented>0</segmented>
	<object>
		<name>chair</name>
		<pose>Rear</pose>
		<truncated>0</truncated>
		<difficult>0</difficult>
		<bndbox>
			<xmin>26</xmin>
			<ymin>19</ymin>
			<xmax>61</xmax>
			<ymax>70</ymax>
		</bndbox>
	</object>
	<object>
		<name>bottle</name>
		<pose>Unspecified</pose>
		<truncated>1</truncated>
		<difficult>0</difficult>
		<bndbox>
			<xmin>80.5</xmin>
			<ymin>10</ymin>
			<xmax>100</xmax>
			<ymax>55.5</ymax>
		</bndbox>
	</object>
</annotation>
"""


def _jpeg(path, w=120, h=90):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def test_real_format_voc_file_reaches_the_detector_truth(tmp_path):
    root = tmp_path / "VOC2007"
    _jpeg(root / "JPEGImages" / "000005.jpg")
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "000005.xml").write_text(VOC_XML)
    rec = next(r for r in scan_dataset(root).records if r.boxes)
    inputs, truths = _whole_frames([rec], {"bottle": 0, "chair": 1}, 64)
    order = np.argsort(truths[0]["labels"])
    assert truths[0]["labels"][order].tolist() == [0, 1]
    assert truths[0]["boxes"][order] == pytest.approx(
        np.array([[80.5, 10, 100, 55.5], [26, 19, 61, 70]])
    )
    # letterboxed: the longer side (120 px) becomes 64 px, boxes scale alike
    assert inputs.source[0][3] == pytest.approx(64 / 120)
    assert inputs.boxes[0][order][1] == pytest.approx(np.array([26, 19, 61, 70]) * 64 / 120)


def test_real_format_coco_file_reaches_the_detector_truth(tmp_path):
    root = tmp_path / "coco"
    _jpeg(root / "images" / "a.jpg")
    _jpeg(root / "images" / "b.jpg")
    coco = {
        "info": {"description": "sample", "version": "1.0", "year": 2024},
        "licenses": [{"id": 1, "name": "CC BY 4.0", "url": "https://creativecommons.org"}],
        "images": [
            {"id": 10, "file_name": "a.jpg", "width": 120, "height": 90, "license": 1},
            {"id": 11, "file_name": "b.jpg", "width": 120, "height": 90, "license": 1},
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 10,
                "category_id": 3,
                "bbox": [10.0, 20.0, 30.0, 40.0],
                "area": 1200.0,
                "iscrowd": 0,
                "segmentation": [[10, 20, 40, 20, 40, 60, 10, 60]],
            },
            {
                "id": 2,
                "image_id": 10,
                "category_id": 5,
                "bbox": [60, 5, 20, 10],
                "area": 200,
                "iscrowd": 0,
                "segmentation": [],
            },
        ],
        "categories": [
            {"id": 3, "name": "car", "supercategory": "vehicle"},
            {"id": 5, "name": "person", "supercategory": "person"},
        ],
    }
    (root / "annotations").mkdir()
    (root / "annotations" / "instances_val.json").write_text(json.dumps(coco))
    records = {r.path.name: r for r in scan_dataset(root).records}
    assert records["b.jpg"].boxes == []  # listed in the file, no object: annotated empty
    _, truths = _whole_frames([records["a.jpg"], records["b.jpg"]], {"car": 0, "person": 1}, 64)
    order = np.argsort(truths[0]["labels"])
    assert truths[0]["boxes"][order] == pytest.approx(np.array([[10, 20, 40, 60], [60, 5, 80, 15]]))
    assert truths[1]["boxes"].shape == (0, 4)


def test_tiles_keep_boxes_they_hold_and_merge_back():
    xyxy = np.array([[10, 10, 30, 30], [55, 0, 70, 20]], np.float32)
    lab = np.array([0, 1])
    b, lb = crop_boxes(xyxy, lab, 50, 0, 50, 50)  # second box whole, first outside
    assert lb.tolist() == [1] and b[0].tolist() == [5, 0, 20, 20]
    b, lb = crop_boxes(xyxy, lab, 25, 0, 50, 50)  # first box: a quarter visible -> out
    assert lb.tolist() == [1]
    # the same object seen by two overlapping tiles is one detection after the merge
    inp = Inputs(np.zeros((2, 8, 8, 3), np.uint8), [], [], [(0, 0, 0, 1.0), (0, 40, 0, 1.0)])
    same = {
        "boxes": np.array([[50.0, 0, 70, 20]]),
        "scores": np.array([0.9]),
        "labels": np.array([1]),
    }
    merged = merge_per_image([same, {**same, "scores": np.array([0.8])}], inp, 1)
    assert merged[0]["scores"].tolist() == [0.9]


def test_tiled_inputs_cover_a_large_frame(tmp_path):
    root = shapes_detection_sample(tmp_path / "s", n=2, size=96)
    records = [r for r in scan_dataset(root).records if r.boxes]
    tiles = _tiles(records[:1], {"disc": 0, "square": 1}, 64, 48, 0.2, False, 0, 0)
    assert len(tiles) == 9  # 3 x 3 tiles of 48 px over 96 px with 20 % overlap
    assert all(s[3] == pytest.approx(64 / 48) for s in tiles.source)


def _random_predictions(truths, n_classes, size, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in truths:
        xy = rng.uniform(0, size - 24, (10, 2))
        wh = rng.uniform(14, 24, (10, 2))
        out.append(
            p(np.hstack([xy, xy + wh]), rng.uniform(0, 1, 10), rng.integers(0, n_classes, 10))
        )
    return out


def test_detector_finds_planted_shapes(tmp_path):
    root = shapes_detection_sample(tmp_path / "shapes", n=24, size=96)
    records = [r for r in scan_dataset(root).records if r.boxes is not None]
    config = DetectorConfig(
        input_size=96,
        start_stage=7,
        budget_seconds=None,
        max_epochs=30,
        min_epochs=1,
        tiling="off",
        n_boot=100,
        n_overlays=2,
    )
    res = run_detector_finetune(records, config)
    run = res["runs"][0]
    m = run["metrics"]
    assert res["classes"] == ["disc", "square"] and res["best_run"] == "whole_frame"
    assert run["encoder"] == "frozen_encoder" and run["epochs"] == 30
    # chance: ten random boxes of the objects' sizes per held-out image, random classes
    # and scores, scored against the same held-out truth
    _, held = stratified_split(records, config.val_fraction, seed=config.seed)
    _, truths = _whole_frames(held, {"disc": 0, "square": 1}, 96)
    assert len(truths) == m["n_images"] == res["split"]["n_val"]
    chance = detection_scores(truths, _random_predictions(truths, 2, 96), res["classes"], n_boot=0)[
        "map50"
    ]["value"]
    assert chance < 0.2
    assert m["map50"]["ci_low"] > chance + 0.3
    assert m["map"]["value"] > 0.2
    assert {c["class"] for c in m["per_class"]} == {"disc", "square"}
    png = base64.b64decode(res["overlays"][0]["png_base64"])
    with Image.open(io.BytesIO(png)) as im:
        assert im.width > 2 * im.height - 10  # two panels side by side
    gpu = res["gpu_estimate"]
    assert gpu["training_flops_per_input"] > 0 and gpu["speedup"] > 0
    json.dumps(res)


def test_a_budget_too_small_lists_the_detector_as_skipped(tmp_path):
    root = shapes_detection_sample(tmp_path / "shapes", n=12, size=96)
    records = [r for r in scan_dataset(root).records if r.boxes is not None]
    config = DetectorConfig(
        input_size=96, start_stage=7, budget_seconds=0.5, min_epochs=50, tiling="off", n_overlays=0
    )
    res = run_detector_finetune(records, config)
    assert res["runs"] == [] and res["best_run"] is None
    skipped = res["skipped"]
    assert [s["encoder"] for s in skipped] == ["frozen_encoder"]
    for s in skipped:
        assert s["estimated_seconds"] > s["budget_seconds"]
        assert "50 epochs" in s["reason"] and s["cost"]["train_seconds_per_input"] > 0
    assert res["gpu_estimate"]["gpu_seconds_min_epochs"] > 0
