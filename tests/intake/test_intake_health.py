"""Health findings on uploads with planted duplicates, label swaps and broken files.

Precision and recall of each planted problem are printed in the test summary.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from messy_uploads import class_image, make_class_tree, save
from PIL import Image, ImageFilter

from advisor.messages import finding_text
from engines.health import (
    build_health_report,
    find_exact_duplicates,
    find_label_issues,
    find_near_duplicates,
    pixel_features,
)
from engines.intake import pick_samples, profile_dataset, scan_dataset

# -- synthetic embeddings --------------------------------------------------------------


def _clusters(n_per_class: int = 60, k: int = 4, d: int = 32, seed: int = 0, spread: float = 2.2):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (k, d)) * spread
    y = np.repeat(np.arange(k), n_per_class)
    x = centres[y] + rng.normal(0, 1, (len(y), d))
    return x.astype(np.float32), y, rng


def test_label_issues_on_planted_swaps(planted_score) -> None:
    x, y, rng = _clusters()
    names = np.array(["cat", "dog", "fox", "owl"])
    swapped = rng.choice(len(y), size=12, replace=False)
    noisy = y.copy()
    for i in swapped:
        noisy[i] = (y[i] + rng.integers(1, 4)) % 4
    labels = list(names[noisy])
    result = find_label_issues(x, labels, seed=0)
    precision, recall = planted_score(
        "label swaps (synthetic embeddings)", set(swapped.tolist()), set(result.indices)
    )
    # Swapped images the model is only moderately sure about stay below the per-class
    # thresholds: confident learning trades that recall for precision.
    assert recall >= 0.7 and precision >= 0.8
    assert result.n_folds == 5 and result.oof_accuracy > 0.8
    assert 0.02 < result.estimated_noise_rate < 0.15
    for issue in result.issues:
        if issue.index in set(swapped.tolist()):
            assert issue.suggested_label == names[y[issue.index]]
    again = find_label_issues(x, labels, seed=0)
    assert again.indices == result.indices  # deterministic


def test_label_issues_skip_gracefully() -> None:
    x = np.zeros((5, 4), np.float32)
    assert find_label_issues(x, ["a"] * 5).skipped_reason.startswith("needs at least two")
    r = find_label_issues(np.random.default_rng(0).normal(size=(5, 4)), ["a", "a", "b", "b", "c"])
    assert r.excluded_classes == ["c"]
    with pytest.raises(ValueError, match="one label per row"):
        find_label_issues(x, ["a"] * 4)
    with pytest.raises(ValueError, match="NaN"):
        find_label_issues(np.full((4, 2), np.nan), ["a", "a", "b", "b"])


def test_near_duplicates_on_planted_copies(planted_score) -> None:
    # Embedding-like geometry: distinct images of a class are related (cosine about 0.5),
    # copies are near-identical.
    x, y, rng = _clusters(n_per_class=50, d=128, spread=1.0)
    labels = [f"c{v}" for v in y]
    n = len(labels)
    within_src = rng.choice(n, size=15, replace=False)
    copies = x[within_src] + rng.normal(0, 0.05, (15, x.shape[1])).astype(np.float32)
    cross_src = rng.choice(np.setdiff1d(np.arange(n), within_src), size=5, replace=False)
    cross = x[cross_src] + rng.normal(0, 0.05, (5, x.shape[1])).astype(np.float32)
    feats = np.vstack([x, copies, cross])
    all_labels = (
        labels + [labels[i] for i in within_src] + [f"c{(y[i] + 1) % 4}" for i in cross_src]
    )
    result = find_near_duplicates(feats, all_labels)
    assert result.method == "cosine-centred" and result.threshold == 0.90
    planted_within = {frozenset((int(s), n + j)) for j, s in enumerate(within_src)}
    planted_cross = {frozenset((int(s), n + 15 + j)) for j, s in enumerate(cross_src)}
    found_within = {frozenset(g.members) for g in result.within_class}
    found_cross = {frozenset(g.members) for g in result.across_classes}
    p1, r1 = planted_score(
        "near-duplicates within class (embeddings)", planted_within, found_within
    )
    p2, r2 = planted_score(
        "near-duplicates across classes (embeddings)", planted_cross, found_cross
    )
    assert min(p1, r1, p2, r2) == 1.0
    assert result.n_redundant == 20


def test_exact_duplicates_grouping() -> None:
    result = find_exact_duplicates(
        ["a", "b", "a", "c", "a", "b", None], ["x", "x", "x", "y", "y", "x", "x"]
    )
    groups = {tuple(g.members): g.cross_class for g in result.groups}
    assert groups == {(0, 2, 4): True, (1, 5): False}
    assert result.n_redundant == 3


# -- a messy image upload with everything planted ---------------------------------------


@pytest.fixture(scope="module")
def planted_upload(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("planted") / "upload"
    classes = {"scratch": 24, "dent": 24, "stain": 24, "ok": 24}
    make_class_tree(root, classes, size=72, ext=".png", seed=1)
    rng = np.random.default_rng(5)
    names = list(classes)
    planted: dict[str, set[str]] = {
        k: set()
        for k in (
            "exact_within",
            "exact_across",
            "near_within",
            "swaps",
            "corrupt",
            "dark",
            "blurry",
            "low_res",
        )
    }
    # Label swaps: move images into another class folder.
    for k, label in enumerate(names):
        for i in rng.choice(range(4, 24), size=2, replace=False):
            src = root / label / f"{label}_{i}.png"
            dst_label = names[(k + 1 + int(i) % 3) % 4]
            dst = root / dst_label / f"moved_{label}_{i}.png"
            shutil.move(src, dst)
            planted["swaps"].add(f"{dst_label}/{dst.name}")
    # Exact duplicates within a class and across classes.
    for label in names:
        src = root / label / f"{label}_0.png"
        shutil.copy(src, root / label / f"copy_of_{label}_0.png")
        planted["exact_within"].add(f"{label}/copy_of_{label}_0.png")
    for label in names[:3]:
        src = root / label / f"{label}_1.png"
        other = names[(names.index(label) + 2) % 4]
        shutil.copy(src, root / other / f"also_{label}_1.png")
        planted["exact_across"].add(f"{other}/also_{label}_1.png")
    # Near duplicates: resized and re-encoded as JPEG.
    for label in names:
        src = Image.open(root / label / f"{label}_2.png").convert("RGB")
        brighter = Image.fromarray(np.clip(np.asarray(src, np.int16) + 6, 0, 255).astype(np.uint8))
        save(brighter, root / label / f"near_{label}_2.jpg", quality=85)
        planted["near_within"].add(f"{label}/near_{label}_2.jpg")
    # Corrupt files.
    good = (root / "ok" / "ok_3.png").read_bytes()
    (root / "ok" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "dent" / "zero.png").write_bytes(b"")
    (root / "stain" / "page.jpg").write_bytes(b"<html><body>404</body></html>")
    (root / "scratch" / "lying.png").write_bytes(b"GIF89a" + b"\x00" * 40)
    planted["corrupt"] = {
        "ok/truncated.png",
        "dent/zero.png",
        "stain/page.jpg",
        "scratch/lying.png",
    }
    # Quality problems.
    for j, label in enumerate(names):
        dark = np.asarray(class_image(j, 900 + j, 72), np.float32) * 0.07
        save(Image.fromarray(dark.astype(np.uint8)), root / label / f"dark_{j}.png")
        planted["dark"].add(f"{label}/dark_{j}.png")
        blurry = class_image(j, 800 + j, 72).filter(ImageFilter.GaussianBlur(4))
        save(blurry, root / label / f"blurry_{j}.png")
        planted["blurry"].add(f"{label}/blurry_{j}.png")
    for j, label in enumerate(names[:3]):
        save(class_image(j, 700 + j, 24), root / label / f"tiny_{j}.png")
        planted["low_res"].add(f"{label}/tiny_{j}.png")
    index = scan_dataset(root)
    # Stand-in embeddings: thumbnails (copies) beside colour and stripe orientation
    # (what tells these synthetic classes apart), as a backbone's features would hold both.
    paths = [r.path for r in index.records]
    features = np.hstack([pixel_features(paths), 2.0 * _colour_orientation(paths)])
    report = build_health_report(index, features, claimed_n_images=10_000)
    return {"index": index, "report": report, "planted": planted, "features": features}


def _colour_orientation(paths: list[Path]) -> np.ndarray:
    """Chromaticity and a gradient-orientation histogram per image, L2-normalised."""
    from engines.images import load_rgb

    rows = []
    for p in paths:
        arr = np.asarray(load_rgb(p).resize((48, 48)), np.float32)
        chroma = arr.reshape(-1, 3).mean(0)
        chroma = chroma / max(chroma.sum(), 1e-6)
        gray = arr.mean(axis=2)
        gy, gx = np.gradient(gray)
        angle = np.mod(np.arctan2(gy, gx), np.pi)
        hist, _ = np.histogram(angle, bins=12, range=(0, np.pi), weights=np.hypot(gx, gy))
        hist = hist / max(hist.sum(), 1e-6)
        row = np.concatenate([chroma, hist]).astype(np.float32)
        rows.append(row / max(float(np.linalg.norm(row)), 1e-6))
    return np.vstack(rows)


def _finding(report: dict, fid: str) -> dict | None:
    return next((f for f in report["findings"] if f["id"] == fid), None)


def _paths_of_groups(index, groups) -> set[str]:
    out = set()
    for g in groups:
        for i in g["members"]:
            out.add(index.relpath(index.records[i].path))
    return out


def test_planted_corrupt_files(planted_upload, planted_score) -> None:
    index, planted = planted_upload["index"], planted_upload["planted"]
    found = {s.path for s in index.skipped}
    precision, recall = planted_score(
        "corrupt files (listed as skipped)", planted["corrupt"], found
    )
    assert precision == 1.0 and recall == 1.0
    finding = _finding(planted_upload["report"], "unusable-files")
    assert finding["numbers"]["n_broken_images"] == 4


def test_planted_exact_duplicates(planted_upload, planted_score) -> None:
    index, report, planted = (planted_upload[k] for k in ("index", "report", "planted"))
    groups = report["duplicates"]["exact"]["groups"]
    within = _paths_of_groups(index, [g for g in groups if not g["cross_class"]])
    across = _paths_of_groups(index, [g for g in groups if g["cross_class"]])
    # Each group also holds the original the copy was made from: score the copies.
    names = ("scratch", "dent", "stain", "ok")
    within_originals = {f"{c}/{c}_0.png" for c in names}
    across_originals = {f"{c}/{c}_1.png" for c in names[:3]}
    assert within_originals <= within and across_originals <= across
    p1, r1 = planted_score(
        "exact duplicates within class", planted["exact_within"], within - within_originals
    )
    p2, r2 = planted_score(
        "exact duplicates across classes", planted["exact_across"], across - across_originals
    )
    assert min(p1, r1, p2, r2) == 1.0
    assert _finding(report, "exact-duplicates-across-classes")["severity"] == "critical"


def test_planted_near_duplicates_pixels(planted_upload, planted_score) -> None:
    index, report, planted = (planted_upload[k] for k in ("index", "report", "planted"))
    groups = report["duplicates"]["near"]["groups"]
    flagged = _paths_of_groups(index, groups)
    originals = {p.replace("near_", "").replace(".jpg", ".png") for p in planted["near_within"]}
    found_copies = {p for p in flagged if p not in originals}
    precision, recall = planted_score(
        "near-duplicates within class (pixel features)", planted["near_within"], found_copies
    )
    assert recall >= 0.75 and precision >= 0.75


def test_planted_label_swaps_pixels(planted_upload, planted_score) -> None:
    index, report, planted = (planted_upload[k] for k in ("index", "report", "planted"))
    issues = report["label_issues"]["issues"]
    found = {index.relpath(index.records[i["index"]].path) for i in issues}
    # A file copied under another class is a label conflict: which side is wrong cannot be
    # told from the image, so both sides count as planted label problems.
    conflicts = set()
    for copy in planted["exact_across"]:
        source = copy.split("/")[1].removeprefix("also_")
        conflicts |= {copy, f"{source.rsplit('_', 1)[0]}/{source}"}
    precision, recall = planted_score(
        "label swaps + conflicts (simple pixel features)", planted["swaps"] | conflicts, found
    )
    assert recall >= 0.8 and precision >= 0.6
    finding = _finding(report, "suspected-label-errors")
    assert finding["severity"] in {"warning", "critical"}
    assert "Northcutt" in finding["meaning"]["en"]
    assert "Northcutt" in finding_text(finding, "meaning", "ko")


def test_planted_quality(planted_upload, planted_score) -> None:
    from engines.health import assess_quality

    index, planted = planted_upload["index"], planted_upload["planted"]
    quality = assess_quality(index.records)
    for key, name in (("dark", "dark"), ("blurry", "blurry"), ("low_resolution", "low_res")):
        found = {index.relpath(index.records[i].path) for i in quality[key]}
        precision, recall = planted_score(f"{key.replace('_', ' ')} images", planted[name], found)
        assert precision == 1.0 and recall == 1.0, (key, found)


def test_report_shape_effective_amount_and_texts(planted_upload) -> None:
    index, report = planted_upload["index"], planted_upload["report"]
    n = len(index.records)
    assert report["n_images"] == n
    # 4 within + 3 across exact copies, 4 near copies: 11 redundant
    assert report["effective_n_images"] == n - 11
    amount = report["findings"][0]
    assert amount["id"] == "amount"
    assert "10,000" in amount["meaning"]["en"] and "10,000" in finding_text(amount, "meaning", "ko")
    assert amount["numbers"]["band"] == "very_few"
    for finding in report["findings"]:
        assert finding["severity"] in {"info", "warning", "critical"}
        assert not re.search("[\uac00-\ud7a3]", json.dumps(finding, ensure_ascii=False))
        for part in ("title", "meaning", "action"):
            en, ko = finding_text(finding, part, "en"), finding_text(finding, part, "ko")
            # the stored English is what the English locale file renders
            assert en == finding[part]["en"] and ko and ko != en
            assert "{" not in en + ko
    ids = {f["id"] for f in report["findings"]}
    assert {
        "exact-duplicates-within-class",
        "near-duplicates-within-class",
        "dark-images",
        "blurry-images",
        "low-resolution-images",
        "suspected-label-errors",
    } <= ids
    json.dumps(report, ensure_ascii=False)  # JSON-ready
    profile = profile_dataset(index)
    profile.health = report
    profile.effective_n_images = report["effective_n_images"]
    assert json.loads(json.dumps(profile.to_dict()))["health"]["version"] == 1


def test_report_without_features_uses_hash_and_says_label_check_not_run(
    planted_upload,
) -> None:
    index = planted_upload["index"]
    report = build_health_report(index)
    assert report["duplicates"]["near"]["method"] == "dhash"
    assert _finding(report, "label-check-not-run") is not None
    assert report["label_issues"] is None
    # The pixel hash is a hint only: the effective amount subtracts exact copies alone.
    assert report["effective_n_images"] == len(index.records) - 7
    assert report["effective_basis"].startswith("exact duplicates only")
    hint = _finding(report, "possible-near-duplicates")
    assert hint is not None and hint["severity"] == "info"
    assert hint["numbers"]["n_groups"] >= 4


def test_report_on_imbalanced_single_image_class(tmp_path: Path) -> None:
    make_class_tree(tmp_path / "d", {"common": 30, "rare": 1})
    report = build_health_report(scan_dataset(tmp_path / "d"))
    ids = {f["id"]: f for f in report["findings"]}
    assert ids["class-imbalance"]["severity"] == "critical"
    assert ids["class-imbalance"]["numbers"]["ratio"] == 30.0
    assert ids["small-classes"]["severity"] == "critical"
    one = tmp_path / "one"
    make_class_tree(one, {"only": 4})
    report = build_health_report(scan_dataset(one))
    assert any(f["id"] == "single-class" for f in report["findings"])


def test_report_rejects_misaligned_features(planted_upload) -> None:
    with pytest.raises(ValueError, match="one row per record"):
        build_health_report(planted_upload["index"], np.zeros((3, 4), np.float32))


def test_sample_picker(planted_upload) -> None:
    index = planted_upload["index"]
    samples = pick_samples(index.records, per_class=5, seed=1)
    assert set(samples) == {"dent", "ok", "scratch", "stain"}
    assert all(len(v) == 5 for v in samples.values())
    assert samples == pick_samples(index.records, per_class=5, seed=1)
    few = pick_samples(index.records, per_class=2, max_classes=2)
    assert len(few) == 2


def test_group_aware_split_keeps_copies_together(planted_upload) -> None:
    from engines.health import duplicate_group_ids
    from engines.intake import stratified_split

    index, report = planted_upload["index"], planted_upload["report"]
    groups = duplicate_group_ids(report)
    assert len(groups) == len(index.records)
    train, held = stratified_split(index.records, 0.3, seed=2, groups=groups)
    side = {r.path: "train" for r in train} | {r.path: "held" for r in held}
    for kind in ("exact", "near"):
        for g in report["duplicates"][kind]["groups"]:
            assert len({side[index.records[i].path] for i in g["members"]}) == 1
    assert len(held) > 0.2 * len(index.records)
    with pytest.raises(ValueError, match="group ids"):
        stratified_split(index.records, groups=[0])


def test_weak_label_model_caveat() -> None:
    from engines.health.label_issues import LabelIssue, LabelIssueResult
    from engines.health.report import _label_findings
    from engines.intake.records import DatasetIndex, ImageRecord

    index = DatasetIndex(
        Path("/r"),
        [ImageRecord(Path(f"/r/{i}.png")) for i in range(10)],
        [],
        "flat",
        "paired",
        None,
    )
    result = LabelIssueResult(
        issues=[LabelIssue(i, "a", "b", 0.1, 0.8) for i in range(5)],
        n_evaluated=10,
        oof_accuracy=0.55,
        estimated_noise_rate=0.4,
    )
    finding = _label_findings(index, result, None)[0]
    assert finding["severity"] == "warning"
    assert "Caution" in finding["meaning"]["en"]
    assert "주의" in finding_text(finding, "meaning", "ko")
    assert finding_text(finding, "meaning", "en") == finding["meaning"]["en"]
