"""The embedding map of an uploaded sample, for the Data page.

Chooses which images go on the map (all of them up to :data:`MAX_POINTS`, else an
even draw per class, seeded), then asks the engines for features, the 2-D projection
and the duplicate and label flags (:func:`engines.embedding.embedding_map`). Never
imports torch itself: the engines are loaded when a map is made.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engines.progress import ProgressCallback, ignore_progress

MAX_POINTS = 1500
"""Most images on one PCA map: beyond this the map is unreadable and slow to draw."""
TSNE_MAX_POINTS = 800
"""Most images on one t-SNE map (its cost grows faster than linearly with the points)."""


def choose_points(
    labels: Sequence[str | None], max_points: int = MAX_POINTS, seed: int = 0
) -> list[int]:
    """Pick which images go on the map: all, or an even, seeded draw per class.

    Args:
        labels: The label of each image (None where unlabeled).
        max_points: Most images to keep.
        seed: Seed of the draw.

    Returns:
        Indices of the kept images, in their original order.

    Raises:
        ValueError: ``max_points`` is below 1.

    """
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}.")
    n = len(labels)
    if n <= max_points:
        return list(range(n))
    by_class: dict[str | None, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_class[label].append(i)
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    share = max_points / n
    for members in by_class.values():
        take = max(1, int(round(len(members) * share)))
        keep += rng.choice(members, size=min(take, len(members)), replace=False).tolist()
    return sorted(keep)[:max_points] if len(keep) > max_points else sorted(keep)


def sample_embedding_map(
    root: Path,
    records: Sequence[tuple[str, str | None]],
    *,
    method: str = "pca",
    cache_dir: Path | None = None,
    device: str = "auto",
    backbone: str | None = None,
    max_points: int = MAX_POINTS,
    seed: int = 0,
    progress: ProgressCallback = ignore_progress,
) -> dict[str, Any]:
    """Make the embedding map of a sample.

    Args:
        root: The unpacked sample root.
        records: ``(relative path, label)`` of each image of the sample.
        method: "pca" or "tsne".
        cache_dir: The feature cache shared with the validation.
        device: "auto", "cpu" or "cuda".
        backbone: Backbone name; None for the bundled default.
        max_points: Most images on the map.
        seed: Seed of the draw, the projection and the label check.
        progress: Progress callback while embedding.

    Returns:
        :func:`engines.embedding.embedding_map`'s map, plus ``n_total`` (images in the
        sample) and ``n_shown`` (images on the map).

    Raises:
        ValueError: Fewer than three images, or an unknown method.

    """
    from engines.backbones import DEFAULT_BACKBONE
    from engines.embedding import embedding_map

    labels = [label for _, label in records]
    if method == "tsne":
        max_points = min(max_points, TSNE_MAX_POINTS)
    keep = choose_points(labels, max_points, seed)
    chosen = [records[i] for i in keep]
    result = embedding_map(
        [Path(root) / rel for rel, _ in chosen],
        [label for _, label in chosen],
        [rel for rel, _ in chosen],
        method=method,
        backbone=backbone or DEFAULT_BACKBONE,
        device=device,
        cache_dir=cache_dir,
        seed=seed,
        progress=progress,
    )
    return {**result, "n_total": len(records), "n_shown": len(chosen)}
