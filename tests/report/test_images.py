"""Thumbnails: embedded where the file exists under the upload root, never outside it."""

from __future__ import annotations

import pytest

from advisor.report.images import embed, safe_path, samples_from_folders
from tests.report.report_helpers import make_images


@pytest.fixture
def image_root(tmp_path):
    root = tmp_path / "upload"
    make_images(root, ["val/crack/crack_003.png", "train/normal/normal_000.png"])
    return root


def test_embed_makes_a_small_jpeg_data_uri(image_root):
    uri = embed(image_root, "val/crack/crack_003.png", 32)
    assert uri and uri.startswith("data:image/jpeg;base64,")


def test_paths_leaving_the_root_are_never_opened(image_root):
    secret = image_root.parent / "secret.png"
    secret.write_bytes((image_root / "val/crack/crack_003.png").read_bytes())
    for rel in ("../secret.png", str(secret), "val/../../secret.png", ""):
        assert safe_path(image_root, rel) is None, rel
        assert embed(image_root, rel) is None
    link = image_root / "link.png"
    link.symlink_to(secret)
    assert safe_path(image_root, "link.png") is None


def test_missing_or_broken_files_give_no_thumbnail(image_root):
    assert embed(image_root, "val/crack/none.png") is None
    assert embed(None, "val/crack/crack_003.png") is None
    broken = image_root / "broken.jpg"
    broken.write_bytes(b"not an image")
    assert embed(image_root, "broken.jpg") is None


def test_samples_are_found_by_class_folder(image_root):
    found = samples_from_folders(image_root, ["crack", "normal", "nothing"], per_class=1)
    assert set(found) == {"crack", "normal"}
    assert all(len(v) == 1 for v in found.values())
