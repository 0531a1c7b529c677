"""Masks read from real PNG encodings: palette, 0/255 binary, gray class ids."""

import numpy as np
import pytest
from PIL import Image

from engines.segmentation.masks import (
    IGNORE_INDEX,
    MaskError,
    load_mask,
    resolve_mask_encoding,
)


def save_palette(path, arr):
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    im = Image.frombytes("P", (arr.shape[1], arr.shape[0]), arr.tobytes())
    im.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (768 - 9))
    im.save(path)
    return path


def test_palette_mask_keeps_indices_and_void(tmp_path):
    arr = np.zeros((6, 8), np.uint8)
    arr[1:3, 1:3] = 1
    arr[4:, 5:] = 2
    arr[0, :] = 255  # VOC void border
    path = save_palette(tmp_path / "m.png", arr)
    spec = resolve_mask_encoding([path])
    assert spec == {
        "encoding": "index",
        "n_classes": 3,
        "values": [0, 1, 2, 255],
        "ignore_index": 255,
    }
    out = load_mask(path, "index", 3, ignore_index=255)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, arr)


def test_binary_0_255_mask_and_soft_edges_threshold_at_128(tmp_path):
    arr = np.array([[0, 37, 127], [128, 200, 255]], np.uint8)
    Image.fromarray(arr).save(tmp_path / "soft.png")
    Image.fromarray(np.array([[0, 255]], np.uint8)).save(tmp_path / "hard.png")
    spec = resolve_mask_encoding([tmp_path / "hard.png"])
    assert spec["encoding"] == "binary" and spec["n_classes"] == 2
    out = load_mask(tmp_path / "soft.png", "binary", 2)
    np.testing.assert_array_equal(out, [[0, 0, 0], [1, 1, 1]])


def test_many_gray_values_are_read_as_soft_binary_masks(tmp_path):
    arr = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (4, 1))  # 64 distinct values
    Image.fromarray(arr).save(tmp_path / "m.png")
    assert resolve_mask_encoding([tmp_path / "m.png"])["encoding"] == "binary"


def test_gray_class_ids_and_a_clear_error_when_names_are_too_few(tmp_path):
    arr = np.array([[0, 1], [2, 2]], np.uint8)
    Image.fromarray(arr).save(tmp_path / "m.png")
    spec = resolve_mask_encoding([tmp_path / "m.png"])
    assert spec["encoding"] == "index" and spec["n_classes"] == 3
    with pytest.raises(MaskError, match="class ids up to 2.*only 2 class names"):
        resolve_mask_encoding([tmp_path / "m.png"], n_classes=2)
    with pytest.raises(MaskError, match="binary"):
        Image.fromarray(np.array([[0, 255]], np.uint8)).save(tmp_path / "b.png")
        resolve_mask_encoding([tmp_path / "b.png"], n_classes=4)


def test_colour_masks_are_refused_and_gray_rgb_is_accepted(tmp_path):
    colour = np.zeros((2, 2, 3), np.uint8)
    colour[0, 0] = (255, 0, 0)
    Image.fromarray(colour).save(tmp_path / "c.png")
    with pytest.raises(MaskError, match="colour image"):
        resolve_mask_encoding([tmp_path / "c.png"])
    gray = np.repeat(np.array([[0, 1], [1, 0]], np.uint8)[..., None], 3, axis=2)
    Image.fromarray(gray).save(tmp_path / "g.png")
    np.testing.assert_array_equal(load_mask(tmp_path / "g.png", "index", 2), [[0, 1], [1, 0]])


def test_nearest_resize_invents_no_class(tmp_path):
    arr = np.zeros((10, 10), np.uint8)
    arr[:, 5:] = 2
    arr[0, 0] = 255
    path = save_palette(tmp_path / "m.png", arr)
    out = load_mask(path, "index", 3, size=(23, 7), ignore_index=255)
    assert out.shape == (7, 23)
    assert set(np.unique(out).tolist()) <= {0, 2, IGNORE_INDEX}


def test_mask_of_an_exif_rotated_image_is_turned_with_it(tmp_path):
    img = Image.new("RGB", (6, 4), (10, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated by 90 degrees clockwise
    img.save(tmp_path / "i.jpg", exif=exif)
    arr = np.zeros((4, 6), np.uint8)
    arr[0, 0] = 1  # top-left of the stored pixels
    Image.fromarray(arr).save(tmp_path / "m.png")
    out = load_mask(tmp_path / "m.png", "index", 2, image_path=tmp_path / "i.jpg")
    assert out.shape == (6, 4)
    # Orientation 6 turns the stored top-left corner to the displayed top-right.
    assert out[0, 3] == 1 and out.sum() == 1


def test_unreadable_mask_says_which(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(MaskError, match="bad.png"):
        resolve_mask_encoding([tmp_path / "bad.png"])
    with pytest.raises(MaskError, match="No image has a mask"):
        resolve_mask_encoding([])


def test_a_few_soft_edge_values_still_read_as_binary(tmp_path):
    arr = np.array([[0, 64, 128], [191, 255, 255]], np.uint8)  # 5 values, anti-aliased
    Image.fromarray(arr).save(tmp_path / "m.png")
    spec = resolve_mask_encoding([tmp_path / "m.png"])
    assert spec["encoding"] == "binary"
    np.testing.assert_array_equal(
        load_mask(tmp_path / "m.png", "binary", 2), [[0, 0, 1], [1, 1, 1]]
    )
