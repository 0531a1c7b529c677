"""Evidence for samples without labels: natural groups, or the gap between two domains."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engines.clustering import cluster_report
from engines.device import describe_device, resolve_device
from engines.domain_gap import proxy_a_distance
from engines.progress import CancelToken, Deadline, Progress, ProgressCallback, ignore_progress
from engines.results.base import message
from engines.validation.config import ValidationConfig, display_path
from engines.validation.embed import embed_images, feature_record, similarity_or_reason


def run_unlabeled_validation(
    paths: Sequence[Path],
    config: ValidationConfig,
    root: Path | None = None,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Input-only sample: how many natural groups, how separable, what labeling costs.

    No accuracy can be measured without labels; this says whether the pretrained
    features already group the images (so labeling a few per group goes far) and how
    close the images are to what the backbone knows.

    Args:
        paths: The images.
        config: Run settings (backbone, device, cache, seed, budget).
        root: Upload root, for the paths shown.
        progress: Progress callback.
        cancel: Cancellation token.

    Returns:
        ``{"task": "unlabeled", "device", "backbone", "similarity", "clusters",
        "experiments": [], "budget", "warnings"}``; cluster representatives are given
        as paths relative to the upload.

    """
    deadline = Deadline(config.budget_seconds)
    feats = embed_images(
        paths, config.backbone, config.device, config.cache_dir, config.batch_size, progress, cancel
    )
    progress(Progress("clusters", 0.9, "Looking for natural groups"))
    clusters = cluster_report(feats.features, seed=config.seed)
    names = [display_path(p, root) for p in paths]
    for cluster in clusters.get("clusters", []):
        cluster["representatives"] = [names[i] for i in cluster.get("representatives", [])]
    progress(Progress("done", 1.0, f"{clusters['k']} natural groups"))
    return {
        "task": "unlabeled",
        "device": describe_device(resolve_device(config.device)),
        "backbone": {"name": config.backbone},
        "feature_extraction": feature_record(feats),
        "similarity": similarity_or_reason(
            feats.logits, feats.features, config.backbone, paths=list(paths)
        ),
        "clusters": clusters,
        "experiments": [],
        "budget": {"seconds": config.budget_seconds, "used_seconds": round(deadline.elapsed, 3)},
        "warnings": [
            "No labels: accuracy cannot be measured on this sample; label a few "
            "images per group found to measure it."
        ],
        "warning_codes": [message("no_labels")],
    }


def run_unpaired_validation(
    collections: Mapping[str, Sequence[Path]],
    config: ValidationConfig,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Two unlinked collections: how far apart they are, and how each relates to ImageNet.

    Args:
        collections: Exactly two named collections of images (e.g. "A" and "B").
        config: Run settings.
        progress: Progress callback.
        cancel: Cancellation token.

    Returns:
        ``{"task": "unpaired", "device", "backbone", "domain_gap" (proxy A-distance
        with interval), "similarity": {name: ...}, "experiments": [], "budget",
        "warnings"}``.

    Raises:
        ValueError: Not exactly two collections, or one has fewer than two images.

    """
    if len(collections) != 2:
        raise ValueError(
            f"An unpaired sample needs exactly two collections; got {len(collections)} "
            f"({', '.join(collections) or 'none'}). Put them in two folders, e.g. "
            "domain_a/ and domain_b/."
        )
    small = [name for name, p in collections.items() if len(p) < 2]
    if small:
        raise ValueError(f"Collection {small[0]!r} has fewer than two images: add more.")
    deadline = Deadline(config.budget_seconds)
    (name_a, paths_a), (name_b, paths_b) = collections.items()
    all_paths = list(paths_a) + list(paths_b)
    feats = embed_images(
        all_paths,
        config.backbone,
        config.device,
        config.cache_dir,
        config.batch_size,
        progress,
        cancel,
    )
    n_a = len(paths_a)
    fa, fb = feats.features[:n_a], feats.features[n_a:]
    la = feats.logits[:n_a] if feats.logits is not None else None
    lb = feats.logits[n_a:] if feats.logits is not None else None
    progress(Progress("domain_gap", 0.9, "Measuring the gap between the collections"))
    gap = proxy_a_distance(fa, fb, seed=config.seed)
    gap["collections"] = [name_a, name_b]
    progress(Progress("done", 1.0, f"Proxy A-distance {gap['pad']:.2f}"))
    return {
        "task": "unpaired",
        "device": describe_device(resolve_device(config.device)),
        "backbone": {"name": config.backbone},
        "feature_extraction": feature_record(feats),
        "domain_gap": gap,
        "similarity": {
            name_a: similarity_or_reason(la, fa, config.backbone, paths=list(paths_a)),
            name_b: similarity_or_reason(lb, fb, config.backbone, paths=list(paths_b)),
        },
        "experiments": [],
        "budget": {"seconds": config.budget_seconds, "used_seconds": round(deadline.elapsed, 3)},
        "warnings": [
            "Unpaired data: no input-to-label accuracy can be measured; the "
            "distance says how much a model trained on one collection must adapt "
            "to the other."
        ],
        "warning_codes": [message("unpaired_data")],
    }
