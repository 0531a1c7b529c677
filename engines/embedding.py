"""A 2-D map of a sample in a pretrained backbone's feature space, for the Data page.

Each image is embedded by the bundled backbone (through the feature cache the
validation shares, so the map pre-warms the validation and a second look is free),
then projected to two dimensions: PCA (Pearson 1901; a linear view that keeps the
largest variance) or t-SNE (van der Maaten & Hinton, JMLR 2008; keeps neighbourhoods,
distorts distances). The map also marks near-duplicate groups (cosine of the
embeddings, :func:`engines.health.find_near_duplicates`) and suspected label errors
(confident learning, :func:`engines.health.find_label_issues`), so the consultant sees
where they lie among the classes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engines.backbones import DEFAULT_BACKBONE
from engines.health import find_label_issues, find_near_duplicates
from engines.progress import CancelToken, ProgressCallback, ignore_progress

PROJECTIONS: tuple[str, ...] = ("pca", "tsne")
MIN_POINTS = 3
TSNE_ITERATIONS = 500
"""t-SNE optimisation steps: past the early-exaggeration phase (250) the layout is
settled enough for a look at the classes, at half the default's time."""


def project_2d(features: np.ndarray, method: str = "pca", seed: int = 0) -> tuple[np.ndarray, dict]:
    """Project embeddings to two dimensions.

    Args:
        features: One row per image (n x d), n >= 3.
        method: "pca" or "tsne".
        seed: Seed of t-SNE's initialisation and of PCA's solver.

    Returns:
        ``(coords, info)``: coordinates (n x 2) and what the projection was: its
        ``method``, and for PCA the ``explained_variance`` share of each axis, for
        t-SNE the ``perplexity`` used.

    Raises:
        ValueError: Unknown method, fewer than three rows, or non-finite values.

    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if method not in PROJECTIONS:
        raise ValueError(f"Unknown projection {method!r}: use one of {', '.join(PROJECTIONS)}.")
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < MIN_POINTS:
        raise ValueError(
            f"A map needs at least {MIN_POINTS} images with features; got shape {x.shape}."
        )
    if not np.isfinite(x).all():
        raise ValueError("The features contain NaN or infinite values; recompute them.")
    n_components = min(2, x.shape[1])
    pca = PCA(n_components=n_components, random_state=seed)
    coords = pca.fit_transform(x)
    info: dict[str, Any] = {
        "method": "pca",
        "explained_variance": [round(float(v), 4) for v in pca.explained_variance_ratio_],
    }
    if method == "tsne":
        # t-SNE on the top principal components (the authors' recommended first step).
        reduced = PCA(
            n_components=min(50, x.shape[0], x.shape[1]), random_state=seed
        ).fit_transform(x)
        perplexity = float(min(30.0, max(2.0, (x.shape[0] - 1) / 3)))
        coords = TSNE(
            n_components=2,
            perplexity=perplexity,
            init="pca",
            random_state=seed,
            learning_rate="auto",
            max_iter=TSNE_ITERATIONS,
        ).fit_transform(reduced)
        info = {"method": "tsne", "perplexity": round(perplexity, 2)}
    if coords.shape[1] == 1:
        coords = np.hstack([coords, np.zeros_like(coords)])
    return coords.astype(np.float32), info


def embedding_map(
    paths: Sequence[Path],
    labels: Sequence[str | None],
    names: Sequence[str] | None = None,
    *,
    method: str = "pca",
    backbone: str = DEFAULT_BACKBONE,
    device: str = "auto",
    cache_dir: Path | None = None,
    seed: int = 0,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Embed images, project them to 2-D and mark duplicates and suspicious labels.

    Args:
        paths: Image files.
        labels: The given label of each image (None where unlabeled).
        names: Display name of each image (default: the file name).
        method: "pca" or "tsne".
        backbone: Backbone that embeds the images (the bundled default unless given).
        device: "auto", "cpu", "cuda" or "mps".
        cache_dir: The feature cache (shared with the validation); None: no cache.
        seed: Seed of the projection and the label check.
        progress: Progress callback while embedding.
        cancel: Cancellation token.

    Returns:
        JSON-ready: ``points`` (one per image: ``x``, ``y``, ``label``, ``name``,
        ``duplicate_group`` (None or the group's number), ``label_issue`` (None or
        ``{"suggested", "self_confidence"}``)), ``projection`` (see
        :func:`project_2d`), ``backbone``, ``n_duplicate_groups``,
        ``near_duplicate_threshold``, ``label_check`` (the method, or why it did not
        run), ``n_label_issues`` and ``seconds``.

    Raises:
        ValueError: Fewer than three images, or paths and labels of different lengths.

    """
    from engines.validation.embed import embed_images

    paths = [Path(p) for p in paths]
    if len(labels) != len(paths):
        raise ValueError(f"Got {len(labels)} labels for {len(paths)} images; pass one each.")
    if len(paths) < MIN_POINTS:
        raise ValueError(f"A map needs at least {MIN_POINTS} images; the sample has {len(paths)}.")
    if method not in PROJECTIONS:
        raise ValueError(f"Unknown projection {method!r}: use one of {', '.join(PROJECTIONS)}.")
    names = list(names) if names is not None else [p.name for p in paths]
    start = time.monotonic()
    feats = embed_images(paths, backbone, device, cache_dir, progress=progress, cancel=cancel)
    coords, info = project_2d(feats.features, method, seed)
    labs = list(labels)
    near = find_near_duplicates(feats.features, labs)
    group_of: dict[int, int] = {}
    for number, group in enumerate(near.groups, start=1):
        for member in group.members:
            group_of[member] = number
    issues: dict[int, dict[str, Any]] = {}
    label_check: dict[str, Any] = {"ran": False, "reason": "the data has no labels"}
    if any(lab is not None for lab in labs):
        checked = find_label_issues(feats.features, labs, seed=seed)
        if checked.skipped_reason:
            label_check = {"ran": False, "reason": checked.skipped_reason}
        else:
            label_check = {
                "ran": True,
                "method": checked.method,
                "oof_accuracy": checked.oof_accuracy,
            }
            for issue in checked.issues:
                issues[issue.index] = {
                    "suggested": issue.suggested_label,
                    "self_confidence": round(issue.self_confidence, 4),
                }
    points = [
        {
            "x": float(coords[i, 0]),
            "y": float(coords[i, 1]),
            "label": labs[i],
            "name": names[i],
            "duplicate_group": group_of.get(i),
            "label_issue": issues.get(i),
        }
        for i in range(len(paths))
    ]
    return {
        "points": points,
        "projection": info,
        "backbone": backbone,
        "n_duplicate_groups": len(near.groups),
        "near_duplicate_threshold": near.threshold,
        "near_duplicate_method": near.method,
        "label_check": label_check,
        "n_label_issues": len(issues),
        "seconds": round(time.monotonic() - start, 3),
    }
