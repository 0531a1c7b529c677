"""Train / held-out split of the uploaded records, for the quick validation."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence

import numpy as np

from engines.intake.records import ImageRecord, natural_key


def stratified_split(
    records: Sequence[ImageRecord],
    val_fraction: float = 0.25,
    seed: int = 0,
    groups: Sequence[Hashable] | None = None,
) -> tuple[list[ImageRecord], list[ImageRecord]]:
    """Split records into a training part and a held-out part.

    When the upload has its own split folders (at least one training and one
    validation or test image), they are used: ``train`` trains, ``val`` and ``test``
    are held out, images with no split train. Otherwise the split is stratified by
    label: each class with at least two units gives ``round(n * val_fraction)`` units
    (at least one, at most ``n - 1``) to the held-out part; a class with one image
    stays in training. Unlabeled images are split as one group.

    A unit is one image, or, when ``groups`` is given, all images sharing a group id
    (e.g. copies found by the health check, see
    :func:`engines.health.duplicate_group_ids`), so that near-duplicates never sit on
    both sides and inflate the measured accuracy. A group counts for its most common
    label.

    Args:
        records: The records to split.
        val_fraction: Share held out per class, strictly between 0 and 1.
        seed: Seed of the shuffle; the same seed gives the same split.
        groups: One group id per record, or None (every image its own unit).

    Returns:
        ``(train, held_out)``, each in the order of ``records``.

    Raises:
        ValueError: ``val_fraction`` is not strictly between 0 and 1, or ``groups``
            does not have one entry per record.

    """
    if not 0.0 < float(val_fraction) < 1.0:
        raise ValueError(
            f"val_fraction must be between 0 and 1 (got {val_fraction}); use e.g. 0.25."
        )
    if groups is not None and len(groups) != len(records):
        raise ValueError(
            f"Got {len(groups)} group ids for {len(records)} records; pass one per record."
        )
    splits = {r.split for r in records}
    if "train" in splits and splits & {"val", "test"}:
        train = [r for r in records if r.split not in {"val", "test"}]
        held = [r for r in records if r.split in {"val", "test"}]
        return train, held
    unit_ids: list[Hashable] = list(groups) if groups is not None else list(range(len(records)))
    members: dict[Hashable, list[int]] = defaultdict(list)
    for i, g in enumerate(unit_ids):
        members[g].append(i)
    by_label: dict[str | None, list[Hashable]] = defaultdict(list)
    for g, idx in members.items():
        counts = Counter(records[i].label for i in idx)
        label = min(counts, key=lambda k: (-counts[k], natural_key(str(k))))
        by_label[label].append(g)
    rng = np.random.default_rng(seed)
    held_idx: set[int] = set()
    for label in sorted(by_label, key=lambda k: natural_key("" if k is None else str(k))):
        units = sorted(by_label[label], key=lambda g: natural_key(str(records[members[g][0]].path)))
        n = len(units)
        if n < 2:
            continue
        n_held = min(n - 1, max(1, int(round(n * val_fraction))))
        order = rng.permutation(n)
        for j in order[:n_held]:
            held_idx.update(members[units[j]])
    train = [r for i, r in enumerate(records) if i not in held_idx]
    held = [r for i, r in enumerate(records) if i in held_idx]
    return train, held
