"""Layouts: each messy-but-valid upload is recognised, and the profile says so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from messy_uploads import class_image, make_class_tree, save, write_dicom
from PIL import Image

from engines.intake import (
    IntakeError,
    profile_dataset,
    scan_dataset,
    stratified_split,
    unpack_upload,
)
from engines.profile import DatasetProfile


def test_class_folders(two_class_tree: Path) -> None:
    index = scan_dataset(two_class_tree)
    assert (index.layout, index.data_type, index.task_hint) == (
        "class_folders",
        "paired",
        "classification",
    )
    profile = profile_dataset(index)
    assert profile.n_images == 12 and profile.n_classes == 2
    assert profile.class_counts == {"cat": 6, "dog": 6}
    assert profile.image_stats["formats"] == {"PNG": 12}
    assert profile.image_stats["width"]["median"] == 48
    again = DatasetProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert again == profile


@pytest.mark.parametrize(
    ("folders", "expected"),
    [
        (("train", "val", "test"), {"train", "val", "test"}),
        (("Training", "Validation"), {"train", "val"}),
        (("TRAIN", "valid", "TEST"), {"train", "val", "test"}),
    ],
)
def test_split_folders_any_case(
    tmp_path: Path, folders: tuple[str, ...], expected: set[str]
) -> None:
    for i, f in enumerate(folders):
        make_class_tree(tmp_path / "d", {"a": 3, "b": 3}, split=f, seed=i)
    index = scan_dataset(tmp_path / "d")
    assert index.layout == "split_class_folders"
    assert {r.split for r in index.records} == expected
    assert index.classes == ["a", "b"]
    profile = profile_dataset(index)
    assert sum(profile.split_counts.values()) == profile.n_images
    train, held = stratified_split(index.records)
    assert all(r.split == "train" for r in train)
    assert all(r.split in {"val", "test"} for r in held)


def test_flat_folder_is_input_only(tmp_path: Path) -> None:
    for i in range(5):
        save(class_image(0, i, 32), tmp_path / "flat" / f"{i}.jpg")
    index = scan_dataset(tmp_path / "flat")
    assert (index.layout, index.data_type, index.task_hint) == ("flat", "input_only", None)
    assert profile_dataset(index).n_classes == 0


def test_single_generic_folder_is_input_only_but_named_folder_is_one_class(
    tmp_path: Path,
) -> None:
    for i in range(4):
        save(class_image(0, i, 32), tmp_path / "u1" / "photos" / f"{i}.jpg")
        save(class_image(0, i, 32), tmp_path / "u2" / "scratch" / f"{i}.jpg")
    assert scan_dataset(tmp_path / "u1").data_type == "input_only"
    one = scan_dataset(tmp_path / "u2")
    assert one.layout == "class_folders" and one.classes == ["scratch"]
    assert profile_dataset(one).n_classes == 1
    assert any("Only one class" in n for n in one.notes)


def test_one_class_zip_keeps_its_class_name(tmp_path: Path) -> None:
    from messy_uploads import zip_dir

    make_class_tree(tmp_path / "src", {"crack": 3})
    root = unpack_upload(zip_dir(tmp_path / "src", tmp_path / "u.zip"), tmp_path / "out")
    index = scan_dataset(root)
    assert index.classes == ["crack"]


def test_class_with_one_image_and_thousands_of_classes(tmp_path: Path) -> None:
    root = tmp_path / "many"
    for k in range(1500):
        p = root / f"class_{k:04d}" / "x.png"
        p.parent.mkdir(parents=True)
        Image.new("RGB", (8, 8), (k % 256, k // 256, 7)).save(p)
    make_class_tree(root, {"big": 5})
    index = scan_dataset(root)
    profile = profile_dataset(index)
    assert profile.n_classes == 1501 and profile.min_class_count == 1
    assert profile.imbalance_ratio == 5.0
    train, held = stratified_split(index.records)
    held_labels = {r.label for r in held}
    assert held_labels == {"big"}  # one-image classes stay in training
    assert len(train) + len(held) == len(index.records)


def test_broken_files_listed_rest_kept(tmp_path: Path) -> None:
    root = tmp_path / "d"
    make_class_tree(root, {"a": 4, "b": 4})
    good = (root / "a" / "a_0.png").read_bytes()
    (root / "a" / "cut.png").write_bytes(good[: len(good) // 3])
    (root / "b" / "zero.jpg").write_bytes(b"")
    (root / "b" / "fake.jpg").write_bytes(b"<html>not an image</html>" * 4)
    (root / "b" / "notes.txt").write_text("labels were made by an intern")
    save(class_image(1, 99, 32), root / "b" / "liar.jpg", fmt="PNG")
    index = scan_dataset(root)
    reasons = {s.path: s.reason for s in index.skipped}
    assert reasons["b/zero.jpg"] == "empty file (0 bytes)"
    assert reasons["b/notes.txt"] == "not an image file (.txt)"
    assert "not a readable image" in reasons["b/fake.jpg"]
    assert "a/cut.png" in reasons
    assert len(index.records) == 9  # 8 good + the PNG-in-.jpg
    profile = profile_dataset(index)
    assert profile.image_stats["n_extension_mismatch"] == 1
    assert {s.path for s in profile.skipped} >= {"a/cut.png", "b/zero.jpg", "b/fake.jpg"}


def test_nothing_usable_says_what_was_found(tmp_path: Path) -> None:
    root = tmp_path / "d"
    root.mkdir()
    (root / "a.txt").write_text("x")
    (root / "b.jpg").write_bytes(b"")
    with pytest.raises(IntakeError, match="No usable image .*empty file.*Upload JPEG"):
        scan_dataset(root)
    (tmp_path / "e").mkdir()
    with pytest.raises(IntakeError, match="holds no files"):
        scan_dataset(tmp_path / "e")
    with pytest.raises(IntakeError, match="not found"):
        scan_dataset(tmp_path / "missing")


def test_csv_manifest_with_splits(tmp_path: Path) -> None:
    root = tmp_path / "m"
    rows = ["file_name,Label,Split"]
    for i in range(8):
        label = "ok" if i % 2 else "ng"
        save(class_image(i % 2, i, 32), root / "imgs" / f"im{i}.jpg")
        rows.append(f"im{i}.jpg,{label},{'Train' if i < 6 else 'VALID'}")
    rows.append("missing.jpg,ok,train")
    save(class_image(0, 50, 32), root / "imgs" / "unlisted.jpg")
    (root / "labels.csv").write_text("\n".join(rows), encoding="utf-8")
    index = scan_dataset(root)
    assert index.layout == "manifest" and index.classes == ["ng", "ok"]
    assert {r.split for r in index.records} == {"train", "val"}
    assert index.annotations["manifest"]["n_missing_files"] == 1
    assert any("not listed in the manifest" in s.reason for s in index.skipped)


def test_excel_and_cp949_manifests(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    root = tmp_path / "x"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["이미지", "라벨"])
    for i in range(6):
        save(class_image(i % 2, i, 32), root / f"{i}.png")
        sheet.append([f"{i}.png", "정상" if i % 2 else "불량"])
    book.save(root / "목록.xlsx")
    index = scan_dataset(root)
    assert index.layout == "manifest" and index.classes == ["불량", "정상"]
    (root / "목록.xlsx").unlink()
    text = "파일명,클래스\n" + "\n".join(f"{i}.png,{'정상' if i % 2 else '불량'}" for i in range(6))
    (root / "labels.csv").write_bytes(text.encode("cp949"))
    assert scan_dataset(root).classes == ["불량", "정상"]


def test_unpaired_domains(tmp_path: Path) -> None:
    for i in range(3):
        save(class_image(0, i, 32), tmp_path / "u" / "trainA" / f"{i}.jpg")
        save(class_image(1, i, 32), tmp_path / "u" / "trainB" / f"{i}.jpg")
        save(class_image(2, i, 32), tmp_path / "u" / "testA" / f"{i}.jpg")
    index = scan_dataset(tmp_path / "u")
    assert (index.layout, index.data_type, index.task_hint) == ("unpaired", "unpaired", None)
    profile = profile_dataset(index)
    assert profile.domain_counts == {"A": 6, "B": 3}
    assert profile.split_counts == {"train": 6, "test": 3}


def test_source_labeled_target_unlabeled(tmp_path: Path) -> None:
    make_class_tree(tmp_path / "da" / "source", {"ok": 3, "ng": 3})
    for i in range(4):
        save(class_image(3, i, 32), tmp_path / "da" / "target" / f"t{i}.png")
    index = scan_dataset(tmp_path / "da")
    assert index.data_type == "unpaired" and index.task_hint == "classification"
    assert {(r.domain, r.label is None) for r in index.records} == {
        ("source", False),
        ("target", True),
    }


def test_segmentation_masks_paired_by_name(tmp_path: Path) -> None:
    root = tmp_path / "seg"
    for i in range(5):
        img = class_image(0, i, 40)
        save(img, root / "images" / "crack" / f"s{i}.jpg")
        mask = np.zeros((40, 40), np.uint8)
        mask[10:20, 5:30] = 255 if i else 0
        save(Image.fromarray(mask), root / "masks" / "crack" / f"s{i}.png")
    save(Image.new("L", (40, 40)), root / "masks" / "crack" / "orphan.png")
    save(Image.new("L", (20, 20)), root / "masks" / "crack" / "s4_bad.png")
    save(class_image(0, 9, 40), root / "images" / "crack" / "nomask.jpg")
    index = scan_dataset(root)
    assert (index.layout, index.task_hint, index.data_type) == (
        "segmentation_masks",
        "segmentation",
        "paired",
    )
    assert len(index.records) == 6 and index.classes == ["crack"]
    masks = index.annotations["masks"]
    assert masks["n_pairs"] == 5 and masks["n_images_without_mask"] == 1
    assert masks["n_empty_masks"] == 1 and masks["mask_values"] == [0, 255]
    reasons = {s.path: s.reason for s in index.skipped}
    assert reasons["masks/crack/orphan.png"] == "mask without a matching image"


def test_segmentation_mask_size_mismatch_keeps_image(tmp_path: Path) -> None:
    root = tmp_path / "seg"
    for i in range(3):
        save(class_image(0, i, 40), root / "train" / "images" / f"{i}.png")
        size = 40 if i else 24
        save(Image.new("L", (size, size), 1), root / "train" / "masks" / f"{i}_mask.png")
    index = scan_dataset(root)
    assert index.layout == "segmentation_masks" and len(index.records) == 3
    assert {r.split for r in index.records} == {"train"}
    assert sum(r.mask_path is not None for r in index.records) == 2
    assert any("differs from its image" in s.reason for s in index.skipped)


def test_voc_detection_profile(tmp_path: Path) -> None:
    root = tmp_path / "voc"
    for i in range(4):
        save(class_image(0, i, 64), root / "JPEGImages" / f"{i:03d}.jpg")
        objects = "".join(
            f"<object><name>{name}</name><bndbox><xmin>{x}</xmin><ymin>5</ymin>"
            f"<xmax>{x + 20}</xmax><ymax>30</ymax></bndbox></object>"
            for name, x in (("scratch", 2), ("dent", 30))[: 1 + i % 2]
        )
        xml = (
            f"<annotation><filename>{i:03d}.jpg</filename><size><width>64</width>"
            f"<height>64</height></size>{objects}</annotation>"
        )
        (root / "Annotations").mkdir(parents=True, exist_ok=True)
        (root / "Annotations" / f"{i:03d}.xml").write_text(xml)
    index = scan_dataset(root)
    assert (index.layout, index.task_hint) == ("voc", "detection")
    det = profile_dataset(index).annotations["detection"]
    assert det["n_boxes"] == 6 and det["class_counts"] == {"dent": 2, "scratch": 4}
    assert det["boxes_per_image"]["max"] == 2 and det["size_buckets"]["small"] == 6


def test_coco_detection_profile(tmp_path: Path) -> None:
    root = tmp_path / "coco"
    images, anns = [], []
    for i in range(3):
        save(class_image(1, i, 64), root / "images" / f"{i}.jpg")
        images.append({"id": i + 1, "file_name": f"{i}.jpg", "width": 64, "height": 64})
        anns.append(
            {
                "id": i + 1,
                "image_id": i + 1,
                "category_id": 7,
                "bbox": [1, 1, 50, 40],
                "segmentation": [[1, 1, 50, 1, 50, 40]],
            }
        )
    anns.append({"id": 9, "image_id": 1, "category_id": 8, "bbox": [0, 0, 10, 10]})
    images.append({"id": 99, "file_name": "gone.jpg"})
    coco = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": 7, "name": "person"}, {"id": 8, "name": "helmet"}],
    }
    (root / "annotations").mkdir()
    (root / "annotations" / "instances_train.json").write_text(json.dumps(coco))
    index = scan_dataset(root)
    assert (index.layout, index.task_hint) == ("coco", "detection")
    assert {r.split for r in index.records} == {"train"}
    profile = profile_dataset(index)
    det = profile.annotations["detection"]
    assert det["n_boxes"] == 4 and det["class_counts"] == {"helmet": 1, "person": 3}
    assert profile.annotations["coco"]["n_missing_images"] == 1
    assert profile.annotations["coco"]["n_with_segmentation"] == 3


def test_dicom_folder(tmp_path: Path) -> None:
    for i in range(3):
        write_dicom(tmp_path / "d" / "normal" / f"{i}.dcm", modality="MR")
        write_dicom(tmp_path / "d" / "lesion" / f"{i}.dcm", modality="MR")
    profile = profile_dataset(scan_dataset(tmp_path / "d"))
    assert profile.n_images == 6
    assert profile.image_stats["modalities"] == {"MR": 6}
    assert profile.image_stats["formats"] == {"DICOM": 6}


def test_class_folder_symlink_not_followed(tmp_path: Path) -> None:
    make_class_tree(tmp_path / "d", {"a": 2, "b": 2})
    outside = tmp_path / "secret"
    make_class_tree(outside, {"x": 2})
    (tmp_path / "d" / "c").symlink_to(outside / "x", target_is_directory=True)
    index = scan_dataset(tmp_path / "d")
    assert index.classes == ["a", "b"]
    assert any(s.reason.startswith("symbolic link") for s in index.skipped)


def test_stratified_split_deterministic(two_class_tree: Path) -> None:
    records = scan_dataset(two_class_tree).records
    a = stratified_split(records, 0.25, seed=3)
    b = stratified_split(records, 0.25, seed=3)
    assert [r.path for r in a[1]] == [r.path for r in b[1]]
    assert sorted(r.label for r in a[1]) == ["cat", "cat", "dog", "dog"]
    with pytest.raises(ValueError, match="between 0 and 1"):
        stratified_split(records, 1.5)


def test_real_magnetic_tile_dataset(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
    zip_path = src / "magnetic_tile_seg.zip"
    if not zip_path.is_file():
        pytest.skip("the shared magnetic-tile dataset zip is not present on this machine")
    shutil.copy(zip_path, tmp_path / "u.zip")
    index = scan_dataset(unpack_upload(tmp_path / "u.zip", tmp_path / "out"))
    profile = profile_dataset(index)
    assert index.layout == "segmentation_masks" and profile.n_images == 492
    assert profile.n_classes == 6 and index.annotations["masks"]["n_pairs"] == 492
    from engines.health import build_health_report

    report = build_health_report(index)
    assert report["effective_n_images"] == 492 - report["duplicates"]["exact"]["n_redundant"]
    assert {f["id"] for f in report["findings"]} >= {"amount", "class-imbalance"}


def test_pixel_bomb_in_upload_is_skipped_rest_kept(tmp_path: Path) -> None:
    from messy_uploads import png_header_only

    make_class_tree(tmp_path / "d", {"a": 2, "b": 2})
    (tmp_path / "d" / "a" / "huge.png").write_bytes(png_header_only(40_000, 40_000))
    index = scan_dataset(tmp_path / "d")
    reasons = {s.path: s.reason for s in index.skipped}
    assert "too many pixels" in reasons["a/huge.png"] and len(index.records) == 4


def test_other_non_ascii_names(tmp_path: Path) -> None:
    labels = ["ねこ", "café", "🐶 dogs", "Ünïcødé"]
    for k, label in enumerate(labels):
        for i in range(2):
            save(class_image(k, i, 32), tmp_path / "d" / label / f"写真 {i} é.png")
    index = scan_dataset(tmp_path / "d")
    assert set(index.classes) == set(labels) and len(index.records) == 8


def test_consultant_corrects_inferred_type(two_class_tree: Path) -> None:
    from engines.intake import correct_profile

    profile = profile_dataset(scan_dataset(two_class_tree))
    fixed = correct_profile(profile, data_type="input_only", clear_task_hint=True)
    assert (fixed.data_type, fixed.task_hint) == ("input_only", None)
    assert profile.data_type == "paired"  # the original is untouched
    assert any("corrected by the consultant" in n for n in fixed.notes)
    with pytest.raises(IntakeError, match="Unknown task 'pose'. Choose one of"):
        correct_profile(profile, task_hint="pose")


def test_command_line(two_class_tree: Path, tmp_path: Path, capsys) -> None:
    from engines.intake.__main__ import main

    assert main([str(two_class_tree), "--samples", "2", "--claimed", "50"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_images"] == 12 and out["health"]["claimed_n_images"] == 50
    assert sorted(out["samples"]) == ["cat", "dog"]
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    assert main([str(bad), "--work", str(tmp_path / "w")]) == 2
    assert "error: 'bad.zip' is not a zip archive" in capsys.readouterr().err


def test_memory_benchmark_runs_small(tmp_path: Path) -> None:
    import importlib.util

    bench = Path(__file__).resolve().parents[2] / "bench" / "intake_memory.py"
    spec = importlib.util.spec_from_file_location("intake_memory_bench", bench)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    zpath = module.generate(tmp_path, 120)
    result = module.measure(zpath, tmp_path / "work", with_features=True)
    assert result["n_images"] == 120 and result["effective_n_images"] < 120
    assert result["peak_rss_mb"] > 0
