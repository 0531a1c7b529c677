"""The dataset health report: every finding with its numbers, meaning and action.

``build_health_report`` runs the checks on a scanned dataset and returns plain,
JSON-ready data that the pipeline stores in ``DatasetProfile.health`` (and so in
result.json and the feasibility report); ``effective_n_images`` goes beside it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from engines.health.duplicates import (
    DuplicateResult,
    find_exact_duplicates,
    find_hash_near_duplicates,
    find_near_duplicates,
    merge_redundant,
)
from engines.health.label_issues import LabelIssueResult, find_label_issues
from engines.health.messages import english, phrase, render
from engines.health.quality import assess_quality
from engines.intake.records import DatasetIndex

REPORT_VERSION = 1
IMBALANCE_WARNING = 3.0
IMBALANCE_CRITICAL = 10.0
SMALL_CLASS_IMAGES = 10
LABEL_MODEL_MIN_ACCURACY = 0.8
"""Below this cross-validated accuracy the label flags carry a caveat and are at most a
warning: the model is too weak to tell a wrong label from a hard image."""
MAX_EXAMPLES = 20

_BANDS = (
    (10_000, "a_lot", "a lot: 10,000 or more"),
    (1_000, "few", "few: 1,000 to 9,999"),
    (0, "very_few", "very few: under 1,000"),
)
_LABEL_SKIP_CODES = {
    "no embeddings were given": "label_check_no_embeddings",
    "needs at least two classes with two or more images each": "label_check_too_few_classes",
    "too few images per class for cross-validation": "label_check_too_few_per_class",
    "the data has no labels": "label_check_no_labels",
}
_NOT_IMAGE_PREFIXES = (
    "not an image file",
    "archive inside",
    "table without",
    "XML file",
    "JSON file",
    "second table",
    "symbolic link",
    "not listed",
    "image outside",
    "mask without",
    "path leads",
    "entry without",
    "name ",
)


def amount_band(n: int) -> tuple[str, str]:
    """Name the amount band of the consulting method: a lot (>= 10^4), few, very few (< 10^3).

    Returns:
        ``(key, English text)``; other languages: locale key ``engine.health_band_<key>``.

    """
    for floor, key, en in _BANDS:
        if n >= floor:
            return key, en
    return _BANDS[-1][1:]  # pragma: no cover


def _finding(
    fid: str,
    severity: str,
    numbers: dict[str, Any],
    examples: list[Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    texts = render(fid, **numbers, **extra)
    # ``id`` is the code and ``params`` fill the locale texts engine.health.<id>.*;
    # the English texts stay beside them for readers that do not know the code.
    return {
        "id": fid,
        "severity": severity,
        **texts,
        "params": {**numbers, **extra},
        "numbers": {
            k: english(v)
            for k, v in numbers.items()
            if not isinstance(v, str) or k in {"label", "largest", "smallest"}
        },
        "examples": examples or [],
    }


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def _severity_by_share(share: float, warn: float, critical: float | None = None) -> str:
    if critical is not None and share >= critical:
        return "critical"
    return "warning" if share >= warn else "info"


def _group_examples(index: DatasetIndex, result: DuplicateResult, cross: bool) -> list[Any]:
    groups = result.across_classes if cross else result.within_class
    out = []
    for g in groups[:MAX_EXAMPLES]:
        out.append(
            {
                "paths": [index.relpath(index.records[i].path) for i in g.members],
                "labels": g.labels,
                "similarity": g.similarity,
            }
        )
    return out


def _method_text(result: DuplicateResult) -> dict[str, Any]:
    if result.method == "sha256":
        return phrase("dup_method_sha256")
    if result.method == "dhash":
        return phrase("dup_method_dhash", bits=int(result.threshold or 0))
    centred = result.method == "cosine-centred"
    return phrase(
        "dup_method_cosine_centred" if centred else "dup_method_cosine",
        threshold=float(result.threshold or 0),
    )


def _duplicate_findings(
    index: DatasetIndex, result: DuplicateResult, kind: str, n: int
) -> list[dict[str, Any]]:
    findings = []
    method = _method_text(result)
    within = result.within_class
    if within:
        redundant = sum(len(g.members) - 1 for g in within)
        share = redundant / n
        findings.append(
            _finding(
                f"{kind}-duplicates-within-class",
                _severity_by_share(share, 0.01 if kind == "exact" else 0.05, 0.25),
                {
                    "n_groups": len(within),
                    "n_redundant": redundant,
                    "percent": _pct(redundant, n),
                    "method": method,
                },
                _group_examples(index, result, cross=False),
            )
        )
    across = result.across_classes
    if across:
        involved = sum(len(g.members) for g in across)
        findings.append(
            _finding(
                f"{kind}-duplicates-across-classes",
                "critical" if kind == "exact" or involved / n >= 0.02 else "warning",
                {
                    "n_groups": len(across),
                    "n_images": involved,
                    "percent": _pct(involved, n),
                    "method": method,
                },
                _group_examples(index, result, cross=True),
            )
        )
    return findings


def _class_findings(counts: Counter[str], n_labeled: int) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = []
    if not counts:
        return findings
    if len(counts) == 1:
        label = next(iter(counts))
        findings.append(
            _finding("single-class", "critical", {"label": label, "n_images": n_labeled})
        )
        return findings
    largest, largest_count = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    smallest, smallest_count = min(counts.items(), key=lambda kv: (kv[1], kv[0]))
    ratio = largest_count / max(1, smallest_count)
    if ratio >= IMBALANCE_WARNING:
        findings.append(
            _finding(
                "class-imbalance",
                "critical" if ratio >= IMBALANCE_CRITICAL else "warning",
                {
                    "ratio": round(ratio, 2),
                    "largest": largest,
                    "largest_count": largest_count,
                    "smallest": smallest,
                    "smallest_count": smallest_count,
                },
            )
        )
    small = sorted(
        (c for c, k in counts.items() if k < SMALL_CLASS_IMAGES), key=lambda c: (counts[c], c)
    )
    if small:
        findings.append(
            _finding(
                "small-classes",
                "critical" if counts[small[0]] < 2 else "warning",
                {
                    "n_small": len(small),
                    "min_images": SMALL_CLASS_IMAGES,
                    "smallest": small[0],
                    "smallest_count": counts[small[0]],
                },
                [{"label": c, "count": counts[c]} for c in small[:MAX_EXAMPLES]],
            )
        )
    return findings


def _quality_findings(index: DatasetIndex, quality: dict[str, Any], n: int) -> list[dict]:
    t = quality["thresholds"]
    spec = (
        ("dark", "dark-images", t["dark_brightness_below"]),
        ("overexposed", "overexposed-images", t["overexposed_brightness_above"]),
        ("blank", "blank-images", t["blank_contrast_below"]),
        (
            "blurry",
            "blurry-images",
            max(
                t["blurry_sharpness_below"],
                (quality["median_sharpness"] or 0) * t["blurry_relative_to_median_below"],
            ),
        ),
        ("low_resolution", "low-resolution-images", t["low_resolution_min_side_below"]),
    )
    findings = []
    for key, fid, threshold in spec:
        idx = quality[key]
        if not idx:
            continue
        findings.append(
            _finding(
                fid,
                _severity_by_share(len(idx) / n, 0.05),
                {
                    "n": len(idx),
                    "percent": _pct(len(idx), n),
                    "threshold": round(float(threshold), 2),
                },
                [index.relpath(index.records[i].path) for i in idx[:MAX_EXAMPLES]],
            )
        )
    return findings


def _label_findings(
    index: DatasetIndex, result: LabelIssueResult | None, reason: str | None
) -> list[dict[str, Any]]:
    if result is None or result.skipped_reason:
        why = cast(str, reason or (result.skipped_reason if result else "no embeddings were given"))
        code = _LABEL_SKIP_CODES.get(why)
        return [
            _finding(
                "label-check-not-run",
                "info",
                {},
                reason=phrase(code) if code else phrase("label_check_other", error=why),
            )
        ]
    if not result.issues:
        return []
    n_issues = len(result.issues)
    share = n_issues / max(1, result.n_evaluated)
    weak = (result.oof_accuracy or 0.0) < LABEL_MODEL_MIN_ACCURACY
    caveat = None
    if weak:
        caveat = phrase(
            "label_caveat_weak_model", accuracy_percent=100 * (result.oof_accuracy or 0)
        )
    examples = [
        {
            "path": index.relpath(index.records[i.index].path),
            "given": i.given_label,
            "suggested": i.suggested_label,
            "self_confidence": i.self_confidence,
        }
        for i in result.issues[:MAX_EXAMPLES]
    ]
    severity = _severity_by_share(share, 0.02, 0.10)
    if weak and severity == "critical":
        severity = "warning"
    return [
        _finding(
            "suspected-label-errors",
            severity,
            {
                "n_issues": n_issues,
                "n_evaluated": result.n_evaluated,
                "percent": _pct(n_issues, result.n_evaluated),
                "noise_percent": round(100 * (result.estimated_noise_rate or 0.0), 2),
                "oof_accuracy": result.oof_accuracy,
            },
            examples,
            caveat=caveat,
        )
    ]


def build_health_report(
    index: DatasetIndex,
    features: np.ndarray | None = None,
    labels: Sequence[str | None] | None = None,
    *,
    near_duplicate_threshold: float | None = None,
    claimed_n_images: int | None = None,
    seed: int = 0,
    quality_thresholds: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Check a scanned dataset's health and explain each finding in Korean and English.

    Checks: broken files (from the scan), class counts and imbalance, exact duplicates
    (SHA-256 of the bytes), near duplicates (embedding cosine when ``features`` is given,
    else a strict difference-hash fallback), suspected label errors (confident
    learning, Northcutt et al., JAIR 2021; needs ``features``), and dark, overexposed,
    blank, blurry and low-resolution images. Duplicates are split into within-class
    (inflated amount) and across-class (label conflict). Checks also never fail the
    report: one that cannot run says why.

    Args:
        index: The scanned dataset.
        features: Embeddings from a pretrained backbone, one row per
            ``index.records`` entry (float32, n x d), or None.
        labels: Labels to judge, one per record; default: the records' labels.
        near_duplicate_threshold: Cosine threshold; default 0.90 on mean-centred
            embeddings (see :mod:`engines.health.duplicates`).
        claimed_n_images: How many images the client said they have, to compare.
        seed: Seed of the label check's cross-validation.
        quality_thresholds: Overrides of :data:`engines.health.quality.QUALITY_THRESHOLDS`.

    Returns:
        A JSON-ready dict: ``version``, ``n_images``, ``effective_n_images``,
        ``amount_band``, ``findings`` (each with ``id``, ``severity``, ``title``,
        ``meaning`` and ``action`` in ``en``/``ko``, ``numbers`` and ``examples``),
        ``duplicates``, ``label_issues``, ``quality``, ``thresholds`` and ``methods``.

    Raises:
        ValueError: ``features`` or ``labels`` do not have one entry per record.

    """
    records = index.records
    n = len(records)
    labs = list(labels) if labels is not None else [r.label for r in records]
    if len(labs) != n:
        raise ValueError(f"Got {len(labs)} labels for {n} records; pass one per record.")
    feats = None
    if features is not None:
        feats = np.asarray(features, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[0] != n:
            raise ValueError(
                f"features must have one row per record ({n}); got shape "
                f"{feats.shape}. Compute them for index.records in order."
            )
    exact = find_exact_duplicates([r.info.sha256 if r.info else None for r in records], labs)
    if feats is not None:
        near = find_near_duplicates(feats, labs, threshold=near_duplicate_threshold)
    else:
        near = find_hash_near_duplicates([r.info.dhash if r.info else None for r in records], labs)
    # An exact copy is also a near copy: report near groups that add something.
    exact_sets = [set(g.members) for g in exact.groups]
    near.groups = [g for g in near.groups if not any(set(g.members) <= s for s in exact_sets)]
    # The pixel hash is only a hint (textures that look alike collide): it never
    # lowers the effective amount; embeddings do.
    redundant = merge_redundant(n, exact, near) if feats is not None else exact.n_redundant
    effective = n - redundant
    basis = (
        "exact duplicates and embedding near-duplicates"
        if feats is not None
        else "exact duplicates only (near-duplicates need the embeddings)"
    )

    label_result: LabelIssueResult | None = None
    label_reason = None
    if not any(lab is not None for lab in labs):
        label_reason = "the data has no labels"
    elif feats is None:
        label_reason = "no embeddings were given"
    else:
        label_result = find_label_issues(feats, labs, seed=seed)

    quality = assess_quality(records, quality_thresholds)
    counts = Counter(lab for lab in labs if lab is not None)

    band, _ = amount_band(effective)
    findings: list[dict[str, Any]] = [
        _finding(
            "amount",
            "warning" if redundant / max(1, n) >= 0.1 else "info",
            {
                "n_images": n,
                "effective_n_images": effective,
                "n_redundant": redundant,
                "claimed_n_images": claimed_n_images,
            },
            claimed=phrase("health_claimed", n=claimed_n_images) if claimed_n_images else None,
            band=phrase(f"health_band_{band}"),
        )
    ]
    findings[0]["numbers"]["band"] = band

    if index.skipped:
        other = sum(1 for s in index.skipped if s.reason.startswith(_NOT_IMAGE_PREFIXES))
        broken = len(index.skipped) - other
        findings.append(
            _finding(
                "unusable-files",
                _severity_by_share(broken / max(1, n + broken), 0.01, 0.2),
                {
                    "n_skipped": len(index.skipped),
                    "n_broken_images": broken,
                    "n_other": other,
                    "n_images": n,
                },
                [{"path": s.path, "reason": s.reason} for s in index.skipped[:MAX_EXAMPLES]],
            )
        )
    findings += _class_findings(counts, sum(counts.values()))
    n_unlabeled = sum(1 for lab in labs if lab is None)
    if counts and n_unlabeled:
        findings.append(_finding("unlabeled-images", "warning", {"n": n_unlabeled, "n_images": n}))
    findings += _duplicate_findings(index, exact, "exact", n)
    if feats is not None:
        findings += _duplicate_findings(index, near, "near", n)
    elif near.groups:
        involved = sum(len(g.members) for g in near.groups)
        findings.append(
            _finding(
                "possible-near-duplicates",
                "info",
                {
                    "n_groups": len(near.groups),
                    "n_images": involved,
                    "n_cross_class": len(near.across_classes),
                    "method": _method_text(near),
                },
                _group_examples(index, near, cross=False)[:10]
                + _group_examples(index, near, cross=True)[:10],
            )
        )
    findings += _label_findings(index, label_result, label_reason)
    findings += _quality_findings(index, quality, n)
    findings += _format_findings(index, n)

    order = {"critical": 0, "warning": 1, "info": 2}
    findings[1:] = sorted(findings[1:], key=lambda f: order[f["severity"]])
    return {
        "version": REPORT_VERSION,
        "n_images": n,
        "effective_n_images": effective,
        "effective_basis": basis,
        "amount_band": band,
        "claimed_n_images": claimed_n_images,
        "findings": findings,
        "duplicates": {
            "exact": {
                "method": exact.method,
                "n_groups": len(exact.groups),
                "n_redundant": exact.n_redundant,
                "groups": [g.to_dict() for g in exact.groups],
            },
            "near": {
                "method": near.method,
                "threshold": near.threshold,
                "n_groups": len(near.groups),
                "n_redundant": near.n_redundant,
                "groups": [g.to_dict() for g in near.groups],
            },
        },
        "label_issues": label_result.to_dict() if label_result is not None else None,
        "quality": {
            k: (v if k in {"thresholds", "median_sharpness"} else len(v))
            for k, v in quality.items()
        },
        "thresholds": {
            "near_duplicate_cosine": near.threshold if feats is not None else None,
            "dhash_max_bits": near.threshold if feats is None else None,
            "imbalance_warning": IMBALANCE_WARNING,
            "imbalance_critical": IMBALANCE_CRITICAL,
            "small_class_images": SMALL_CLASS_IMAGES,
            "label_model_min_accuracy": LABEL_MODEL_MIN_ACCURACY,
            **quality["thresholds"],
        },
        "methods": {
            "exact_duplicates": "SHA-256 of the file bytes",
            "near_duplicates": near.method,
            "label_issues": (label_result.method if label_result is not None else None),
            "sharpness": "variance of the Laplacian (Pech-Pacheco et al., ICPR 2000)",
        },
    }


def _format_findings(index: DatasetIndex, n: int) -> list[dict[str, Any]]:
    findings = []
    infos = [r.info for r in index.records if r.info is not None]
    gray = sum(1 for i in infos if i.channels in (1, 2) or i.mode.startswith("DICOM MONO"))
    colour = len(infos) - gray
    if gray and colour and min(gray, colour) / max(1, len(infos)) >= 0.01:
        findings.append(_finding("mixed-channels", "info", {"n_gray": gray, "n_colour": colour}))
    if index.task_hint in {"segmentation", "detection"}:
        if index.task_hint == "segmentation":
            missing = sum(1 for r in index.records if r.mask_path is None)
            what = phrase("annotation_mask")
        else:
            missing = sum(1 for r in index.records if not r.boxes)
            what = phrase("annotation_box")
        if missing:
            findings.append(
                _finding(
                    "images-without-annotation",
                    _severity_by_share(missing / max(1, n), 0.2),
                    {"n": missing, "n_images": n},
                    what=what,
                )
            )
    return findings


def duplicate_group_ids(report: dict[str, Any]) -> list[int]:
    """Give each record a group id so that copies stay on one side of a split.

    Records in one exact or near-duplicate group of the report (merged when groups
    overlap) share an id; every other record has its own. Pass the result as
    ``groups`` to :func:`engines.intake.stratified_split`.

    Args:
        report: What :func:`build_health_report` returned.

    Returns:
        One integer per record, in record order.

    """
    n = int(report["n_images"])
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for kind in ("exact", "near"):
        section = report.get("duplicates", {}).get(kind, {})
        if kind == "near" and section.get("method") == "dhash":
            continue  # a hint only, like for the effective amount
        for group in section.get("groups", []):
            members = group["members"]
            for m in members[1:]:
                ra, rb = find(members[0]), find(m)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
    return [find(i) for i in range(n)]
