"""Dice and IoU against hand-computed values, with bootstrap intervals over images."""

import numpy as np
import pytest

from engines.segmentation.masks import IGNORE_INDEX
from engines.segmentation.scores import image_counts, segmentation_scores

NAMES = ["background", "defect"]


def square(size, top, left, side):
    m = np.zeros((size, size), np.uint8)
    m[top : top + side, left : left + side] = 1
    return m


def score(pairs, **kw):
    rows = [image_counts(p, t, 2) for p, t in pairs]
    return segmentation_scores(
        np.stack([r[0] for r in rows]), [r[1] for r in rows], NAMES, **{"n_boot": 300, **kw}
    )


def test_counts_of_one_image_by_hand():
    truth = square(4, 0, 0, 2)  # 4 defect pixels
    pred = np.zeros((4, 4), np.uint8)
    pred[0, 0:3] = 1
    pred[1, 0:3] = 1  # 6 predicted, 4 of them right
    counts, n_valid = image_counts(pred, truth, 2)
    assert n_valid == 16
    np.testing.assert_array_equal(counts, [[10, 10, 12], [4, 6, 4]])


def test_pooled_dice_and_iou_by_hand():
    # Image 1: truth 4 px, prediction 6 px, 4 shared. Image 2: truth 4 px, prediction 2 px
    # inside it. Pooled: |P ∩ T| = 6, |P| = 8, |T| = 8 -> Dice 12/16, IoU 6/10.
    t1, t2 = square(4, 0, 0, 2), square(4, 2, 2, 2)
    p1 = t1.copy()
    p1[0, 2] = p1[1, 2] = 1
    p2 = np.zeros((4, 4), np.uint8)
    p2[2, 2:4] = 1
    res = score([(p1, t1), (p2, t2)])
    assert res["dice"]["value"] == pytest.approx(0.75)
    assert res["iou"]["value"] == pytest.approx(0.6)
    defect = res["per_class"][1]
    assert defect["pixels_true"] == 8 and defect["pixels_pred"] == 8
    assert defect["images_with_class"] == 2
    # Per-image Dice: 2*4/10 = 0.8 and 2*2/6 = 2/3.
    assert res["dice_per_image"]["value"] == pytest.approx((0.8 + 2 / 3) / 2)
    # Baseline: every pixel "defect": 2*8 / (8 + 32) = 0.4.
    assert res["baseline"]["dice"] == pytest.approx(0.4)
    assert res["per_class"][0]["is_background"] and not defect["is_background"]


def test_void_pixels_are_not_scored():
    truth = square(4, 0, 0, 2).astype(np.uint8)
    truth[3, :] = IGNORE_INDEX
    pred = truth.copy()
    pred[3, :] = 1  # predictions on void pixels do not count
    counts, n_valid = image_counts(pred, truth, 2)
    assert n_valid == 12
    assert counts[1].tolist() == [4, 4, 4]


def test_empty_images_count_in_the_per_image_score():
    clean = np.zeros((4, 4), np.uint8)
    alarm = square(4, 0, 0, 1)
    res = score([(clean, clean), (alarm, clean), (square(4, 0, 0, 2), square(4, 0, 0, 2))])
    # Correct empty: 1; false alarm on a clean image: 0; perfect: 1.
    assert res["dice_per_image"]["value"] == pytest.approx(2 / 3)
    # Pooled: |P ∩ T| = 4, |P| = 5, |T| = 4 -> 8/9.
    assert res["dice"]["value"] == pytest.approx(8 / 9)


def test_intervals_contain_the_value_and_collapse_for_identical_images():
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(30):
        t = square(16, *rng.integers(0, 8, size=2), 6)
        p = t.copy()
        p[rng.random((16, 16)) < 0.05] ^= 1
        pairs.append((p, t))
    res = score(pairs, n_boot=500, seed=1)
    d = res["dice"]
    assert d["ci_low"] < d["value"] < d["ci_high"]
    assert d["ci_high"] - d["ci_low"] < 0.2
    assert res["better_than_baseline"] is True
    assert score(pairs, n_boot=500, seed=1)["dice"] == d  # same seed, same interval
    same = score([pairs[0]] * 10)
    assert same["dice"]["ci_low"] == pytest.approx(same["dice"]["value"])
    assert same["dice"]["ci_high"] == pytest.approx(same["dice"]["value"])


def test_a_class_absent_everywhere_has_no_score():
    clean = np.zeros((4, 4), np.uint8)
    res = score([(clean, clean)])
    assert res["dice"]["value"] is None and res["dice"]["ci_low"] is None
    assert res["per_class"][1]["dice"]["value"] is None
    assert "undefined" in res["note"]
    assert res["better_than_baseline"] is False


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="differ in shape"):
        image_counts(np.zeros((2, 2)), np.zeros((3, 3)), 2)
    with pytest.raises(ValueError, match="empty"):
        segmentation_scores(np.zeros((0, 2, 3)), [], NAMES)
    with pytest.raises(ValueError, match="3 classes but 2 class names"):
        segmentation_scores(np.zeros((1, 3, 3)), [1], NAMES)
