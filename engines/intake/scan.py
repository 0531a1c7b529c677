"""Scanning a dataset folder: recognise its layout, verify every image, keep the good.

Layouts recognised, in this order (the first that fits wins):

1. ``coco`` — a COCO JSON (``images``/``annotations``/``categories``) and its images.
2. ``voc`` — Pascal VOC XML files (``<annotation>`` with ``<object>`` boxes).
3. ``segmentation_masks`` — ``images/`` beside ``masks/`` (or ``gt/``, ``labels/``,
   ``SegmentationClass/``...), paired by relative path and name (``x.jpg`` ↔ ``x.png``
   or ``x_mask.png``); also ``x.jpg`` + ``x_mask.png`` in one folder.
4. ``manifest`` — a CSV/TSV/Excel table naming the files (and labels, splits).
5. ``unpaired`` — two collections: ``domain_a/`` + ``domain_b/``, ``trainA/`` +
   ``trainB/`` (CycleGAN style), ``source/`` + ``target/`` (each may hold classes).
6. ``split_class_folders`` — ``train/``, ``val/``, ``test/`` (any case and usual
   variants) each holding class folders.
7. ``class_folders`` — one folder per class (a single folder with a generic name such
   as ``images/`` or ``photos/`` is read as unlabeled images instead).
8. ``flat`` — images with no folders: input only.

Every image is verified (header, pixel count, full decode) and measured by
:func:`engines.images.inspect_image`; a file that fails is listed in ``skipped`` with its
reason and the rest is kept.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.images import (
    IMAGE_SUFFIXES,
    ImageDecodeError,
    decoded_bytes,
    inspect_image,
    sniff_format,
)
from engines.intake.annotations import read_coco, read_voc
from engines.intake.limits import IntakeError, IntakeLimits
from engines.intake.manifest import TABLE_SUFFIXES, read_manifest
from engines.intake.records import (
    DatasetIndex,
    ImageRecord,
    is_junk,
    natural_key,
    nfc,
    normalize_split,
)
from engines.intake.unpack import OWN_FILES, read_unpack_skipped
from engines.profile import SkippedFile
from engines.progress import Progress, ProgressCallback, ignore_progress

ARCHIVE_SUFFIXES = frozenset({".zip", ".rar", ".7z", ".tar", ".gz", ".tgz", ".bz2", ".xz"})
IMAGE_DIR_NAMES = frozenset(
    {
        "images",
        "image",
        "imgs",
        "img",
        "jpegimages",
        "inputs",
        "input",
        "photos",
        "pictures",
        "originals",
        "raw",
        "x",
        "이미지",
    }
)
MASK_DIR_NAMES = frozenset(
    {
        "masks",
        "mask",
        "segmentations",
        "segmentation",
        "segmentationclass",
        "segmentationobject",
        "gt",
        "ground_truth",
        "groundtruth",
        "ground-truth",
        "annotations",
        "labels",
        "label",
        "targets",
        "y",
        "마스크",
    }
)
MASK_SUFFIXES = (
    "_mask",
    "_masks",
    "-mask",
    "_seg",
    "_segmentation",
    "_gt",
    "_label",
    "_labels",
    "_anno",
    "_annotation",
)
GENERIC_FOLDER_NAMES = frozenset(
    {
        "images",
        "image",
        "imgs",
        "img",
        "photos",
        "photo",
        "pictures",
        "pics",
        "data",
        "dataset",
        "samples",
        "sample",
        "unlabeled",
        "unlabelled",
        "raw",
        "input",
        "inputs",
        "all",
        "upload",
        "uploads",
        "files",
        "jpg",
        "png",
        "jpeg",
        "사진",
        "이미지",
        "데이터",
    }
)
_DOMAIN_PATTERNS = (
    re.compile(r"^(train|test|val|valid)[_\- ]?([ab])$", re.IGNORECASE),
    re.compile(r"^domain[_\- ]?([a-z0-9]+)$", re.IGNORECASE),
    re.compile(r"^(source|target|src|tgt)(?:[_\- ]?(train|test|val))?$", re.IGNORECASE),
)
_SPLIT_TOKEN = re.compile(r"(train|val|valid|validation|test)", re.IGNORECASE)


@dataclass
class _Inventory:
    images: list[Path] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)
    xmls: list[Path] = field(default_factory=list)
    jsons: list[Path] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    n_ignored: int = 0
    n_files: int = 0


@dataclass
class _Plan:
    layout: str
    data_type: str
    task_hint: str | None
    records: list[ImageRecord]
    skipped: list[SkippedFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    annotations: dict[str, Any] = field(default_factory=dict)


def scan_dataset(
    root: Path,
    limits: IntakeLimits | None = None,
    progress: ProgressCallback | None = None,
) -> DatasetIndex:
    """Index a dataset folder: layout, labels, splits, and every image verified.

    Args:
        root: The dataset root (a folder; for an upload, what
            :func:`engines.intake.unpack_upload` returned).
        limits: Limits; ``max_image_pixels`` guards each decode and ``max_members``
            the number of files.
        progress: Called with :class:`engines.progress.Progress` (stage "scan") while
            images are verified.

    Returns:
        The index. Broken or unusable files are in ``skipped`` with their reasons;
        "one class only" is not an error here (see ``DatasetIndex.classes``).

    Raises:
        IntakeError: The root is missing, not a folder, holds too many files, or holds
            no usable image (the message says what was found instead).

    """
    limits = limits or IntakeLimits()
    report = progress or ignore_progress
    root = Path(root)
    if not root.exists():
        raise IntakeError(f"The folder '{root}' was not found. Check the path and try again.")
    if not root.is_dir():
        raise IntakeError(
            f"'{root.name}' is a file, not a folder. Unpack it first (a .zip is unpacked "
            "by the upload step) or point to the folder that holds the images."
        )
    inv = _inventory(root, limits)
    plan = _plan(root, inv)
    skipped = read_unpack_skipped(root) + inv.skipped + plan.skipped
    records: list[ImageRecord] = []
    total = len(plan.records)
    step = max(1, total // 100)
    for n, record in enumerate(plan.records):
        if n % step == 0:
            report(Progress("scan", n / max(1, total), f"Checking image {n + 1:,} of {total:,}"))
        try:
            record.info = inspect_image(
                record.path, limits.max_image_pixels, max_decoded_bytes=limits.max_decoded_bytes
            )
        except ImageDecodeError as exc:
            skipped.append(SkippedFile(path=_rel(root, record.path), reason=str(exc)))
            continue
        records.append(record)
    report(Progress("scan", 1.0, f"Checked {total:,} images"))
    if plan.layout == "segmentation_masks":
        _verify_masks(root, records, skipped, plan.annotations, limits, plan.notes)
    if not records:
        raise IntakeError(_nothing_usable_message(root, inv, skipped))
    data_type, task_hint = plan.data_type, plan.task_hint
    if plan.layout in {"class_folders", "split_class_folders", "manifest"} and not any(
        r.label for r in records
    ):
        data_type, task_hint = "input_only", None
    if inv.n_ignored:
        plan.notes.append(
            f"Ignored {inv.n_ignored} system or hidden files (__MACOSX, .DS_Store...)."
        )
    skipped.sort(key=lambda s: natural_key(s.path))
    skipped = [SkippedFile(s.path, without_paths(s.reason)) for s in skipped]
    return DatasetIndex(
        root=root,
        records=records,
        skipped=skipped,
        layout=plan.layout,
        data_type=data_type,
        task_hint=task_hint,
        notes=plan.notes,
        annotations=plan.annotations,
    )


# -- inventory -----------------------------------------------------------------------


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _inventory(root: Path, limits: IntakeLimits) -> _Inventory:
    inv = _Inventory()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        kept_dirs = []
        for d in sorted(dirnames, key=natural_key):
            if is_junk(d):
                inv.n_ignored += 1
                continue
            if (here / d).is_symlink():
                inv.skipped.append(SkippedFile(_rel(root, here / d), "symbolic link; not followed"))
                continue
            kept_dirs.append(d)
            inv.dirs.append(here / d)
        dirnames[:] = kept_dirs
        for name in sorted(filenames, key=natural_key):
            if name in OWN_FILES:
                continue
            if is_junk(name):
                inv.n_ignored += 1
                continue
            inv.n_files += 1
            if inv.n_files > limits.max_members:
                raise IntakeError(
                    f"The folder holds more than {limits.max_members:,} files. Upload a "
                    "sample of the images (a few hundred per class is enough for the advice)."
                )
            _classify_file(root, here / name, inv)
    return inv


def _classify_file(root: Path, path: Path, inv: _Inventory) -> None:
    rel = _rel(root, path)
    if path.is_symlink():
        inv.skipped.append(SkippedFile(rel, "symbolic link; not followed"))
        return
    try:
        size = path.stat().st_size
    except OSError as exc:
        inv.skipped.append(SkippedFile(rel, f"cannot read the file ({exc.strerror})"))
        return
    if size == 0:
        inv.skipped.append(SkippedFile(rel, "empty file (0 bytes)"))
        return
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        inv.images.append(path)
    elif suffix in TABLE_SUFFIXES:
        inv.tables.append(path)
    elif suffix == ".xml":
        inv.xmls.append(path)
    elif suffix == ".json":
        inv.jsons.append(path)
    elif suffix in ARCHIVE_SUFFIXES:
        inv.skipped.append(
            SkippedFile(rel, "archive inside the upload; unpack it and upload its content")
        )
    else:
        try:
            with path.open("rb") as fh:
                head = fh.read(132)
        except OSError:
            head = b""
        if sniff_format(head) is not None:
            inv.images.append(path)  # an image under a wrong or missing ending
        else:
            kind = suffix or "no extension"
            inv.skipped.append(SkippedFile(rel, f"not an image file ({kind})"))


# -- matching names from annotation files to image files --------------------------------


class _Matcher:
    """Find the image file an annotation or manifest row refers to."""

    def __init__(self, root: Path, images: Iterable[Path]) -> None:
        self.root = root
        self.by_rel: dict[str, Path] = {}
        self.by_name: dict[str, list[Path]] = defaultdict(list)
        self.by_stem: dict[str, list[Path]] = defaultdict(list)
        for p in images:
            self.by_rel[_rel(root, p).lower()] = p
            self.by_name[nfc(p.name).lower()].append(p)
            self.by_stem[nfc(p.stem).lower()].append(p)

    def match(self, ref: str, base: Path | None = None) -> tuple[Path | None, str]:
        ref = nfc(ref.strip().replace("\\", "/"))
        if not ref:
            return None, "empty"
        candidates = []
        if base is not None:
            candidates.append(_rel(self.root, base) + "/" + ref if base != self.root else ref)
        candidates.append(ref.lstrip("./"))
        for cand in candidates:
            parts = [p for p in cand.split("/") if p not in ("", ".")]
            key = "/".join(parts).lower()
            if key in self.by_rel:
                return self.by_rel[key], "ok"
        name = ref.rsplit("/", 1)[-1].lower()
        hits = self.by_name.get(name, [])
        if len(hits) == 1:
            return hits[0], "ok"
        if len(hits) > 1:
            return None, "ambiguous"
        stem_hits = self.by_stem.get(name, []) if "." not in name else []
        if not stem_hits and "." in name:
            stem_hits = self.by_stem.get(name.rsplit(".", 1)[0], [])
            stem_hits = stem_hits if len(stem_hits) == 1 else []
        if len(stem_hits) == 1:
            return stem_hits[0], "ok"
        if len(stem_hits) > 1:
            return None, "ambiguous"
        return None, "missing"


# -- layout planning ---------------------------------------------------------------


def _plan(root: Path, inv: _Inventory) -> _Plan:
    for planner in (_plan_coco, _plan_voc, _plan_masks, _plan_manifest):
        plan = planner(root, inv)
        if plan is not None:
            return plan
    _skip_unused_annotation_files(root, inv, inv.skipped)
    return _plan_folders(root, inv)


def _skip_unused_annotation_files(root: Path, inv: _Inventory, skipped: list[SkippedFile]) -> None:
    for p in inv.tables:
        if p.suffix.lower() == ".txt":
            skipped.append(SkippedFile(_rel(root, p), "not an image file (.txt)"))
        else:
            skipped.append(SkippedFile(_rel(root, p), _unused_table_reason(p)))
    for p in inv.xmls:
        skipped.append(SkippedFile(_rel(root, p), "XML file that is not a Pascal VOC annotation"))
    for p in inv.jsons:
        skipped.append(SkippedFile(_rel(root, p), "JSON file that is not a COCO annotation"))


_SEPARATORS = re.compile(r"[\\/]")
_QUOTED_PATH = re.compile(r"""(['"])((?:[A-Za-z]:)?[\\/][^'"]*?)\1""")
_BARE_PATH = re.compile(
    r"(?<![\w.])((?:[A-Za-z]:)?[\\/](?:[^\s\\/'\"():,]+[\\/])+)([^\s\\/'\"():,]*)"
)


def _last_part(match: re.Match[str]) -> str:
    return match[1] + _SEPARATORS.split(match[2])[-1] + match[1]


def without_paths(reason: str) -> str:
    """A skip reason with absolute paths cut to their last part.

    Library messages name files by their full path ("[Errno 36] File name too long:
    '/tmp/fa-upload-x1/unpacked/...'"): the consultant and the report must see neither
    this machine's folders nor the temporary ones the upload was unpacked into.
    """
    return _BARE_PATH.sub(lambda m: m[2], _QUOTED_PATH.sub(_last_part, reason))


def _unused_table_reason(table: Path) -> str:
    """Why a table was not used as the manifest: no file column, or no name matched."""
    try:
        manifest = read_manifest(table)
    except IntakeError as exc:
        return f"table that could not be read ({exc}); not used"
    if manifest is None or not manifest.rows:
        return "table without a file-name column; not used"
    first = manifest.rows[0].file
    return (
        f"table whose {len(manifest.rows):,} file names (e.g. '{first[:60]}') match no "
        "image in the upload; check the names or zip the images with it; not used"
    )


def _split_from_parts(parts: Iterable[str]) -> str | None:
    for part in parts:
        split = normalize_split(part)
        if split:
            return split
    return None


def _split_from_filename(name: str) -> str | None:
    match = _SPLIT_TOKEN.search(name)
    return normalize_split(match.group(1)) if match else None


def _plan_coco(root: Path, inv: _Inventory) -> _Plan | None:
    cocos = [c for c in (read_coco(p) for p in inv.jsons) if c is not None]
    if not cocos:
        return None
    matcher = _Matcher(root, inv.images)
    boxes_of: dict[Path, list] = {}
    split_of: dict[Path, str | None] = {}
    missing: list[str] = []
    categories: set[str] = set()
    n_ann = n_seg = 0
    for coco in cocos:
        categories.update(coco.categories.values())
        n_ann += coco.n_annotations
        n_seg += coco.n_with_segmentation
        file_split = _split_from_filename(coco.path.stem)
        for name, boxes in coco.images.items():
            path, status = matcher.match(name, base=coco.path.parent)
            if path is None:
                missing.append(name)
                continue
            boxes_of.setdefault(path, []).extend(boxes)
            split_of[path] = file_split or _split_from_parts(Path(_rel(root, path)).parts[:-1])
    if not boxes_of:
        return None
    used = {c.path for c in cocos}
    plan = _Plan("coco", "paired", "detection", [])
    for p in inv.images:
        if p in boxes_of:
            plan.records.append(ImageRecord(path=p, split=split_of.get(p), boxes=boxes_of[p]))
        else:
            plan.records.append(
                ImageRecord(path=p, split=_split_from_parts(Path(_rel(root, p)).parts[:-1]))
            )
    n_unannotated = len(inv.images) - len(boxes_of)
    plan.annotations["coco"] = {
        "files": [_rel(root, c.path) for c in cocos],
        "categories": sorted(categories, key=natural_key),
        "n_annotations": n_ann,
        "n_with_segmentation": n_seg,
        "n_missing_images": len(missing),
        "missing_images": missing[:20],
        "n_images_without_annotation_entry": n_unannotated,
    }
    plan.notes.append(
        f"Detection annotations (COCO) found in {len(cocos)} file(s): "
        f"{n_ann:,} boxes in {len(categories)} categories."
    )
    if missing:
        plan.notes.append(f"{len(missing)} images named in the COCO file were not in the upload.")
    if n_seg:
        plan.notes.append(f"{n_seg:,} annotations also carry instance segmentation polygons.")
    if n_unannotated:
        plan.notes.append(f"{n_unannotated} images are not listed in any COCO file.")
    others = [p for p in inv.jsons if p not in used]
    plan.skipped += [
        SkippedFile(_rel(root, p), "JSON file that is not a COCO annotation") for p in others
    ]
    return plan


def _plan_voc(root: Path, inv: _Inventory) -> _Plan | None:
    vocs = [v for v in (read_voc(p) for p in inv.xmls) if v is not None]
    if not vocs:
        return None
    matcher = _Matcher(root, inv.images)
    boxes_of: dict[Path, list] = {}
    missing: list[str] = []
    for voc in vocs:
        path = None
        if voc.filename:
            path, _status = matcher.match(voc.filename, base=voc.path.parent)
        if path is None:
            path, _status = matcher.match(voc.path.stem)
        if path is None:
            missing.append(voc.filename or voc.path.name)
            continue
        boxes_of.setdefault(path, []).extend(voc.boxes)
    if not boxes_of:
        return None
    plan = _Plan("voc", "paired", "detection", [])
    for p in inv.images:
        split = _split_from_parts(Path(_rel(root, p)).parts[:-1])
        plan.records.append(ImageRecord(path=p, split=split, boxes=boxes_of.get(p)))
    classes = sorted({b.label for boxes in boxes_of.values() for b in boxes}, key=natural_key)
    plan.annotations["voc"] = {
        "n_files": len(vocs),
        "categories": classes,
        "n_annotations": sum(len(b) for b in boxes_of.values()),
        "n_missing_images": len(missing),
        "missing_images": missing[:20],
    }
    plan.notes.append(
        f"Detection annotations (Pascal VOC) found: {len(vocs)} XML files, {len(classes)} classes."
    )
    if missing:
        plan.notes.append(f"{len(missing)} VOC files name an image that is not in the upload.")
    xml_used = {v.path for v in vocs}
    plan.skipped += [
        SkippedFile(_rel(root, p), "XML file that is not a Pascal VOC annotation")
        for p in inv.xmls
        if p not in xml_used
    ]
    return plan


def _strip_mask_suffix(stem: str) -> str:
    low = stem.lower()
    for suffix in MASK_SUFFIXES:
        if low.endswith(suffix) and len(low) > len(suffix):
            return low[: -len(suffix)]
    return low


def _plan_masks(root: Path, inv: _Inventory) -> _Plan | None:
    images_set = set(inv.images)
    pairs: dict[Path, Path] = {}
    in_image_dirs: list[tuple[Path, Path]] = []  # (image, image_dir)
    mask_files: set[Path] = set()
    children_of: dict[Path, dict[str, Path]] = defaultdict(dict)
    for d in inv.dirs:
        children_of[d.parent][d.name.lower()] = d
    for parent in [root, *inv.dirs]:
        children = children_of.get(parent, {})
        img_dirs = [children[n] for n in children if n in IMAGE_DIR_NAMES]
        mask_dirs = [children[n] for n in children if n in MASK_DIR_NAMES]
        if not img_dirs or not mask_dirs:
            continue
        for img_dir in img_dirs:
            imgs = [p for p in inv.images if p.is_relative_to(img_dir)]
            for mask_dir in mask_dirs:
                masks = [p for p in inv.images if p.is_relative_to(mask_dir)]
                if not masks:
                    continue
                index = {}
                for m in masks:
                    rel_parent = m.parent.relative_to(mask_dir).as_posix().lower()
                    index[(rel_parent, _strip_mask_suffix(nfc(m.stem)))] = m
                mask_files.update(masks)
                for p in imgs:
                    key = (p.parent.relative_to(img_dir).as_posix().lower(), nfc(p.stem).lower())
                    if key in index:
                        pairs[p] = index[key]
            in_image_dirs += [(p, img_dir) for p in imgs]
    layout_note = "images/ and masks/ folders"
    if not pairs:
        # Same-folder pairs: x.jpg with x_mask.png.
        by_folder: dict[tuple[Path, str], Path] = {}
        for p in inv.images:
            by_folder[(p.parent, nfc(p.stem).lower())] = p
        for p in inv.images:
            stem = nfc(p.stem).lower()
            base = _strip_mask_suffix(stem)
            if base != stem and (p.parent, base) in by_folder:
                pairs[by_folder[(p.parent, base)]] = p
                mask_files.add(p)
        n_candidates = len(images_set) - len(mask_files)
        if not pairs or len(pairs) < 0.5 * max(1, n_candidates):
            return None
        in_image_dirs = [(p, root) for p in inv.images if p not in mask_files]
        layout_note = "image files beside *_mask files"
    if not pairs:
        return None
    plan = _Plan("segmentation_masks", "paired", "segmentation", [])
    seen: set[Path] = set()
    for p, img_dir in in_image_dirs:
        if p in seen or p in mask_files:
            continue
        seen.add(p)
        under = p.relative_to(img_dir).parts
        label = nfc(under[0]) if len(under) > 1 else None
        split = _split_from_parts(Path(_rel(root, p)).parts[:-1])
        plan.records.append(ImageRecord(path=p, label=label, split=split, mask_path=pairs.get(p)))
    paired_masks = set(pairs.values())
    for m in sorted(mask_files - paired_masks, key=lambda q: natural_key(str(q))):
        plan.skipped.append(SkippedFile(_rel(root, m), "mask without a matching image"))
    for p in inv.images:
        if p not in seen and p not in mask_files:
            plan.skipped.append(
                SkippedFile(_rel(root, p), "image outside the images/ and masks/ folders; not used")
            )
    n_without = sum(1 for r in plan.records if r.mask_path is None)
    plan.annotations["masks"] = {"n_pairs": len(pairs), "n_images_without_mask": n_without}
    plan.notes.append(f"Segmentation layout ({layout_note}): {len(pairs):,} image/mask pairs.")
    if n_without:
        plan.notes.append(f"{n_without} images have no mask.")
    _skip_unused_annotation_files(root, inv, plan.skipped)
    return plan


def _plan_manifest(root: Path, inv: _Inventory) -> _Plan | None:
    matcher = _Matcher(root, inv.images)
    best = None
    for table in inv.tables:
        manifest = read_manifest(table)
        if manifest is None or not manifest.rows:
            continue
        matched = [(row, *matcher.match(row.file, base=table.parent)) for row in manifest.rows]
        n_ok = sum(1 for _, p, _ in matched if p is not None)
        if n_ok and (best is None or n_ok > best[2]):
            best = (manifest, matched, n_ok)
    if best is None:
        return None
    manifest, matched, _n_ok = best
    plan = _Plan("manifest", "paired", "classification", [])
    label_of: dict[Path, ImageRecord] = {}
    missing: list[str] = []
    ambiguous: list[str] = []
    conflicts = 0
    unknown_splits: Counter[str] = Counter()
    for row, path, status in matched:
        if path is None:
            (ambiguous if status == "ambiguous" else missing).append(row.file)
            continue
        split = normalize_split(row.split)
        if row.split and split is None:
            unknown_splits[row.split] += 1
        if path in label_of:
            if label_of[path].label != row.label:
                conflicts += 1
            continue
        label_of[path] = ImageRecord(path=path, label=row.label, split=split)
    for p in inv.images:
        if p in label_of:
            plan.records.append(label_of[p])
        else:
            plan.skipped.append(
                SkippedFile(_rel(root, p), f"not listed in the manifest '{manifest.path.name}'")
            )
    if manifest.label_column is None:
        plan.data_type, plan.task_hint = "input_only", None
    rel_manifest = _rel(root, manifest.path)
    plan.annotations["manifest"] = {
        "file": rel_manifest,
        "file_column": manifest.file_column,
        "label_column": manifest.label_column,
        "split_column": manifest.split_column,
        "n_rows": len(manifest.rows),
        "n_missing_files": len(missing),
        "missing_files": missing[:20],
        "n_ambiguous_names": len(ambiguous),
        "n_conflicting_rows": conflicts,
    }
    plan.notes.append(
        f"Manifest '{rel_manifest}': files from column '{manifest.file_column}'"
        + (
            f", labels from '{manifest.label_column}'"
            if manifest.label_column
            else ", no label column"
        )
        + (f", splits from '{manifest.split_column}'" if manifest.split_column else "")
        + "."
    )
    if missing:
        plan.notes.append(
            f"{len(missing)} files listed in the manifest are not in the upload "
            f"(e.g. {', '.join(missing[:3])})."
        )
    if ambiguous:
        plan.notes.append(
            f"{len(ambiguous)} manifest names match several files; give their "
            "folder in the manifest."
        )
    if conflicts:
        plan.notes.append(
            f"{conflicts} files are listed twice with different labels; the first row was used."
        )
    if unknown_splits:
        plan.notes.append(
            "Split values not understood (treated as no split): "
            + ", ".join(sorted(unknown_splits))
            + "."
        )
    other_tables = [t for t in inv.tables if t != manifest.path]
    plan.skipped += [
        SkippedFile(_rel(root, t), "second table; not used as the manifest") for t in other_tables
    ]
    plan.skipped += [SkippedFile(_rel(root, p), "XML file that is not used") for p in inv.xmls]
    plan.skipped += [SkippedFile(_rel(root, p), "JSON file that is not used") for p in inv.jsons]
    return plan


def _domain_of(name: str) -> tuple[str, str | None] | None:
    """Return (domain, split) when a folder name names one collection of an unpaired set."""
    for i, pattern in enumerate(_DOMAIN_PATTERNS):
        match = pattern.match(nfc(name))
        if not match:
            continue
        if i == 0:
            return match.group(2).upper(), normalize_split(match.group(1))
        if i == 1:
            return match.group(1).upper() if len(match.group(1)) == 1 else match.group(1), None
        word = match.group(1).lower()
        domain = {"src": "source", "tgt": "target"}.get(word, word)
        return domain, normalize_split(match.group(2))
    return None


def _plan_folders(root: Path, inv: _Inventory) -> _Plan:
    top: dict[str, list[tuple[Path, tuple[str, ...]]]] = defaultdict(list)
    loose: list[Path] = []
    for p in inv.images:
        parts = p.relative_to(root).parts
        if len(parts) == 1:
            loose.append(p)
        else:
            top[parts[0]].append((p, parts[1:]))
    top_names = list(top)

    domains = {n: _domain_of(n) for n in top_names}
    if len(top_names) >= 2 and all(domains.values()):
        distinct = {d[0] for d in domains.values() if d}
        if len(distinct) >= 2:
            return _plan_unpaired(root, top, domains, loose)

    splits = {n: normalize_split(n) for n in top_names}
    if top_names and all(splits.values()):
        plan = _Plan("split_class_folders", "paired", "classification", [])
        for name, items in top.items():
            for p, rest in items:
                label = nfc(rest[0]) if len(rest) > 1 else None
                plan.records.append(ImageRecord(path=p, label=label, split=splits[name]))
        n_unlabeled = sum(1 for r in plan.records if r.label is None)
        if n_unlabeled == len(plan.records):
            plan.layout, plan.data_type, plan.task_hint = "split_flat", "input_only", None
            plan.notes.append(
                "Split folders hold images directly (no class folders): read as unlabeled."
            )
        elif n_unlabeled:
            plan.notes.append(
                f"{n_unlabeled} images sit directly in a split folder, outside "
                "any class folder: kept as unlabeled."
            )
        _skip_loose(root, loose, plan, "outside the split folders")
        plan.notes.append(
            "Split folders found: "
            + ", ".join(f"{n} → {splits[n]}" for n in sorted(top_names, key=natural_key))
            + "."
        )
        return plan

    if top_names:
        if len(top_names) == 1 and not loose and top_names[0].lower() in GENERIC_FOLDER_NAMES:
            plan = _Plan("flat", "input_only", None, [])
            plan.records = [ImageRecord(path=p) for p, _ in top[top_names[0]]]
            plan.notes.append(
                f"One folder named '{top_names[0]}' with no class folders: read "
                "as unlabeled images (input only). If it is one class, say so."
            )
            return plan
        plan = _Plan("class_folders", "paired", "classification", [])
        for name, items in top.items():
            for p, rest in items:
                split = normalize_split(rest[0]) if len(rest) > 1 else None
                plan.records.append(ImageRecord(path=p, label=nfc(name), split=split))
        _skip_loose(root, loose, plan, "outside any class folder")
        if len(top_names) == 1:
            plan.notes.append(
                f"Only one class folder ('{nfc(top_names[0])}'): a classifier "
                "needs at least two classes. If the images are unlabeled, "
                "mark the data as input only."
            )
        return plan

    plan = _Plan("flat", "input_only", None, [ImageRecord(path=p) for p in loose])
    plan.notes.append("Images with no folders: read as unlabeled images (input only).")
    return plan


def _skip_loose(root: Path, loose: list[Path], plan: _Plan, where: str) -> None:
    for p in loose:
        plan.skipped.append(SkippedFile(_rel(root, p), f"image {where}; not used"))


def _plan_unpaired(
    root: Path,
    top: dict[str, list[tuple[Path, tuple[str, ...]]]],
    domains: dict[str, tuple[str, str | None] | None],
    loose: list[Path],
) -> _Plan:
    plan = _Plan("unpaired", "unpaired", None, [])
    for name, items in top.items():
        domain, split = domains[name] or (name, None)
        for p, rest in items:
            label = nfc(rest[0]) if len(rest) > 1 else None
            plan.records.append(ImageRecord(path=p, label=label, split=split, domain=domain))
    labeled = Counter(r.domain for r in plan.records if r.label)
    if labeled:
        plan.task_hint = "classification"
        plan.notes.append(
            "Unpaired collections; labeled classes in: "
            + ", ".join(sorted(str(d) for d in labeled))
            + " (domain adaptation)."
        )
    else:
        plan.notes.append(
            "Two unpaired collections with no labels (image-to-image translation "
            "or domain adaptation)."
        )
    _skip_loose(root, loose, plan, "outside the collection folders")
    return plan


# -- masks ---------------------------------------------------------------------------


def _verify_masks(
    root: Path,
    records: list[ImageRecord],
    skipped: list[SkippedFile],
    annotations: dict[str, Any],
    limits: IntakeLimits,
    notes: list[str],
) -> None:
    import numpy as np
    from PIL import Image

    values: Counter[int] = Counter()
    fractions: list[float] = []
    n_empty = n_bad = 0
    for record in records:
        if record.mask_path is None or record.info is None:
            continue
        reason = None
        try:
            with Image.open(record.mask_path) as mask:
                w, h = mask.size
                if w * h > limits.max_image_pixels:
                    reason = "mask has too many pixels"
                elif decoded_bytes(w, h, mask.mode) > limits.max_decoded_bytes:
                    reason = "mask too large to decode safely"
                elif {(w, h)} & {
                    (record.info.width, record.info.height),
                    (record.info.height, record.info.width),
                } == set():
                    reason = (
                        f"mask size {w}x{h} differs from its image "
                        f"{record.info.width}x{record.info.height}"
                    )
                else:
                    mask.load()
                    arr = np.asarray(
                        mask.convert("L") if mask.mode not in {"L", "P", "1"} else mask
                    )
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            reason = f"mask unreadable ({str(exc)[:80]})"
        if reason is not None:
            skipped.append(
                SkippedFile(_rel(root, record.mask_path), reason + "; image kept without mask")
            )
            record.mask_path = None
            n_bad += 1
            continue
        uniq, counts = np.unique(arr, return_counts=True)
        for v, _c in zip(uniq.tolist(), counts.tolist(), strict=True):
            values[int(v)] += 1
        fg = float((arr != 0).mean())
        fractions.append(fg)
        if fg == 0.0:
            n_empty += 1
    if len(values) > 32:
        notes.append(
            f"Masks hold {len(values)} distinct values (soft edges or JPEG "
            "artefacts), not class indices: threshold them before training."
        )
    summary = annotations.setdefault("masks", {})
    summary.update(
        {
            "n_pairs": len(fractions),
            "n_images_without_mask": sum(1 for r in records if r.mask_path is None),
            "n_unusable_masks": n_bad,
            "n_empty_masks": n_empty,
            "mask_values": sorted(values) if len(values) <= 32 else None,
            "n_mask_values": len(values),
            "mask_kind": (
                "binary" if len(values) <= 2 else "class_index" if len(values) <= 32 else "soft"
            ),
            "foreground_fraction_mean": round(float(np.mean(fractions)), 4) if fractions else None,
            "foreground_fraction_median": (
                round(float(np.median(fractions)), 4) if fractions else None
            ),
        }
    )


def _nothing_usable_message(root: Path, inv: _Inventory, skipped: list[SkippedFile]) -> str:
    if inv.n_files == 0:
        return (
            f"The folder '{root.name}' holds no files. Upload a zip of image folders "
            "(one folder per class) or a folder of images."
        )
    reasons = Counter(s.reason.split(" (")[0] for s in skipped)
    found = "; ".join(f"{n} × {r}" for r, n in reasons.most_common(4))
    return (
        f"No usable image in '{root.name}' ({inv.n_files} files: {found}). Upload JPEG, "
        "PNG, BMP, GIF, TIFF, WebP or DICOM images, one folder per class."
    )
