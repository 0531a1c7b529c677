"""Which images to show in the per-class sample grid (paths only)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engines.intake.records import ImageRecord, natural_key

UNLABELED = "(unlabeled)"


def pick_samples(
    records: Sequence[ImageRecord],
    per_class: int = 8,
    max_classes: int = 40,
    seed: int = 0,
    exclude: set[Path] | None = None,
) -> dict[str, list[Path]]:
    """Pick a few images per class for a sample grid, deterministically.

    Classes are ordered by size (largest first, then name) so that with thousands of
    classes the grid shows the ones that matter; images are drawn at random with the
    seed, then shown in name order.

    Args:
        records: Records of a scanned dataset.
        per_class: Images per class at most.
        max_classes: Classes shown at most.
        seed: Seed of the draw.
        exclude: Paths not to show (e.g. flagged duplicates).

    Returns:
        ``{label: [path, ...]}``; unlabeled images under ``"(unlabeled)"``.

    """
    exclude = exclude or set()
    groups: dict[str, list[Path]] = defaultdict(list)
    for r in records:
        if r.path in exclude:
            continue
        groups[r.label if r.label is not None else UNLABELED].append(r.path)
    order = sorted(groups, key=lambda k: (-len(groups[k]), natural_key(k)))[:max_classes]
    rng = np.random.default_rng(seed)
    out: dict[str, list[Path]] = {}
    for label in sorted(order, key=natural_key):
        paths = sorted(groups[label], key=lambda p: natural_key(str(p)))
        if len(paths) > per_class:
            chosen = rng.choice(len(paths), size=per_class, replace=False)
            paths = [paths[i] for i in sorted(chosen)]
        out[label] = paths
    return out
