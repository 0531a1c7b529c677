"""How far the client's deployment-site images lie from the training sample.

The consultant may hold a folder of images taken where the model will run (the
"deployment site"). Comparing them with the prepared training sample answers the
domain-adaptation question of the decks: will a model trained on this sample meet the
same kind of images at the site? The measurement is the proxy A-distance between the
two collections in the backbone's feature space (:func:`engines.domain_gap.site_gap`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engines.domain_gap import site_gap_from_paths
from engines.intake import IntakeError, IntakeLimits, scan_dataset
from engines.progress import CancelToken, ProgressCallback, ignore_progress
from engines.similarity import DEFAULT_BACKBONE

if TYPE_CHECKING:
    from advisor.pipeline import PreparedDataset


def measure_site_gap(
    prepared: PreparedDataset,
    reference_dir: Path,
    *,
    backbone: str = DEFAULT_BACKBONE,
    device: str = "auto",
    cache_dir: Path | None = None,
    seed: int = 0,
    max_images: int = 500,
    limits: IntakeLimits | None = None,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Domain gap between a prepared sample and a folder of deployment-site images.

    The folder is scanned with the same guards as an upload (any layout; every usable
    image counts, labels are ignored).

    Args:
        prepared: The prepared training sample (:func:`advisor.pipeline.prepare_dataset`).
        reference_dir: Folder of site images.
        backbone: Backbone that embeds both collections.
        device: "auto", "cpu", "cuda" or "mps".
        cache_dir: Feature cache shared with the validation (None: no cache).
        seed: Seed of the subsets and folds.
        max_images: Most images used per side.
        limits: Intake limits for the scan of the folder.
        progress: Progress callback.
        cancel: Cancellation token.

    Returns:
        JSON-ready ``{"gap", "ci_low", "ci_high", "interpretation": "same"|"shifted"|
        "different", "interval_spans_readings", "n_train", "n_site", "n_site_given",
        "n_site_skipped", "note", "backbone", "reference": folder name,
        "proxy_a_distance"}``.

    Raises:
        engines.intake.IntakeError: When the folder is missing, not a folder, or holds
            fewer than two usable images (the message says what to do).

    """
    index = scan_dataset(Path(reference_dir), limits)
    site = [record.path for record in index.records]
    if len(site) < 2:
        raise IntakeError(
            f"The reference folder '{Path(reference_dir).name}' holds {len(site)} usable "
            "image(s); give at least two (twenty or more for a clear answer)."
        )
    train = [record.path for record in prepared.index.records]
    out = site_gap_from_paths(
        train,
        site,
        backbone=backbone,
        device=device,
        cache_dir=cache_dir,
        seed=seed,
        max_images=max_images,
        progress=progress,
        cancel=cancel,
    )
    out["reference"] = Path(reference_dir).name
    out["n_site_skipped"] = len(index.skipped)
    return out
