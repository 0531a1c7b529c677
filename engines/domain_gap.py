"""The gap between two unpaired image collections, measured in feature space.

Proxy A-distance (PAD): train a classifier to tell collection A from collection B; if
it cannot, the two look alike to the backbone. With ε the classifier's held-out error,
``PAD = 2 (1 - 2ε)``: 0 when the domains are indistinguishable, 2 when perfectly
separable. The A-distance bounds how much a model trained on one domain can lose on the
other (Ben-David, Blitzer, Crammer & Pereira 2007, "Analysis of Representations for
Domain Adaptation", NeurIPS; Ben-David et al. 2010, "A theory of learning from different
domains", Machine Learning 79:151–175); the proxy with a linear classifier is the one
used by Ganin et al. (2016, JMLR, "Domain-Adversarial Training of Neural Networks").

Here ε is the *balanced* out-of-fold error of a linear probe (stratified k-fold), so
unequal collection sizes do not inflate the distance (chance stays at ε = 0.5). Its
interval is the Wilson interval of the error over all held-out predictions, mapped
through ``2 (1 - 2ε)``. The reading of the value (``level``) uses the cut points of
:data:`PAD_LEVELS`, a judgement: below 0.5 the collections overlap heavily, above 1.5
they are nearly separable by a linear classifier.

:func:`site_gap` applies it to the client's own reference images from the deployment
site against the training sample, and reads the value as "same", "shifted" or
"different"; :func:`site_gap_from_paths` embeds both first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engines.linear_probe import kfold_predict
from engines.metrics import wilson_interval
from engines.progress import CancelToken, ProgressCallback, ignore_progress

PAD_LEVELS: tuple[dict[str, Any], ...] = (
    {"below": 0.5, "level": "small"},
    {"below": 1.5, "level": "moderate"},
)
"""Reading of PAD values: the first entry whose ``below`` exceeds the value; else "large"."""

CITATIONS = [
    "Ben-David, Blitzer, Crammer & Pereira (2007), Analysis of Representations for Domain "
    "Adaptation, NeurIPS.",
    "Ben-David et al. (2010), A theory of learning from different domains, Machine "
    "Learning 79:151-175.",
]


def _level(pad: float) -> str:
    for entry in PAD_LEVELS:
        if pad < entry["below"]:
            return str(entry["level"])
    return "large"


def proxy_a_distance(
    features_a: np.ndarray,
    features_b: np.ndarray,
    seed: int = 0,
    n_splits: int = 5,
    confidence: float = 0.95,
    C: float = 0.1,
) -> dict[str, Any]:
    """Proxy A-distance between two feature collections, with an interval.

    Ben-David et al. (2007, NeurIPS; 2010, Machine Learning): ``PAD = 2(1 - 2ε)`` with ε
    the balanced, cross-validated error of a linear domain classifier.

    Args:
        features_a: (n_a, d) features of collection A.
        features_b: (n_b, d) features of collection B.
        seed: Seed of the fold assignment.
        n_splits: Folds of the cross-validation (reduced to the smaller collection's
            size when needed).
        confidence: Level of the interval.
        C: Inverse L2 strength of the linear probe.

    Returns:
        ``{"pad", "ci_low", "ci_high", "error", "error_a", "error_b", "level", "n_a",
        "n_b", "n_splits", "method", "citations"}``; ``pad`` is clipped at 0 (an error
        above chance means no detectable gap).

    Raises:
        ValueError: On non-2-D inputs, different feature sizes, or fewer than two
            images in a collection.

    """
    from engines.linear_probe import fit_linear_probe

    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError("features_a and features_b must be 2-D (n, d).")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"The collections have different feature sizes ({a.shape[1]} vs {b.shape[1]}): "
            "embed both with the same backbone."
        )
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise ValueError("Each collection needs at least two images.")
    k = int(min(n_splits, a.shape[0], b.shape[0]))
    if k < 2:
        raise ValueError("n_splits must be at least 2.")
    X = np.vstack([a, b])
    y = np.concatenate([np.zeros(a.shape[0], int), np.ones(b.shape[0], int)])
    oof = kfold_predict(
        X,
        y,
        fit_fn=lambda xs, ys, seed=0, classes=None: fit_linear_probe(
            xs, ys, seed=seed, C=C, classes=classes
        ),
        n_splits=k,
        seed=seed,
    )
    wrong = oof.pred != y
    err_a = float(wrong[y == 0].mean())
    err_b = float(wrong[y == 1].mean())
    err = (err_a + err_b) / 2
    # Interval of the balanced error: Wilson on each domain's error, combined by the
    # effective count of the balanced error (n_eff = 4 / (1/n_a + 1/n_b)).
    n_eff = int(round(4.0 / (1.0 / a.shape[0] + 1.0 / b.shape[0])))
    lo_err, hi_err = wilson_interval(int(round(err * n_eff)), n_eff, confidence)

    def pad_of(e: float) -> float:
        return max(0.0, 2.0 * (1.0 - 2.0 * e))

    pad = pad_of(err)
    return {
        "pad": float(pad),
        "ci_low": float(pad_of(hi_err)),
        "ci_high": float(pad_of(lo_err)),
        "error": float(err),
        "error_a": err_a,
        "error_b": err_b,
        "level": _level(pad),
        "n_a": int(a.shape[0]),
        "n_b": int(b.shape[0]),
        "n_splits": k,
        "confidence": float(confidence),
        "method": "2(1-2ε), ε = balanced out-of-fold error of a linear probe; Wilson interval",
        "citations": list(CITATIONS),
    }


SITE_READING = {"small": "same", "moderate": "shifted", "large": "different"}
"""How a proxy A-distance level reads for deployment-site images."""
SITE_MIN_IMAGES = 20
"""Below this many site images the interval is wide; the result says so."""


def site_gap(
    train_features: np.ndarray, site_features: np.ndarray, seed: int = 0
) -> dict[str, Any]:
    """Domain gap between the training sample and images from the deployment site.

    The client's own reference images ("deployment-site" images) against the training
    sample: the domain-adaptation situation when they differ. Proxy A-distance
    (Ben-David et al. 2007; 2010) with a linear domain classifier, read through
    :data:`PAD_LEVELS` as "same" (< 0.5), "shifted" (< 1.5) or "different".

    Args:
        train_features: (n_train, d) features of the training sample.
        site_features: (n_site, d) features of the site images, same backbone.
        seed: Seed of the folds.

    Returns:
        ``{"gap": PAD 0-2, "ci_low", "ci_high", "interpretation": "same"|"shifted"|
        "different", "interval_spans_readings": bool, "n_train", "n_site", "note",
        "proxy_a_distance": the full PAD record}``.

    Raises:
        ValueError: As :func:`proxy_a_distance` (fewer than two images on a side,
            different feature sizes).

    """
    pad = proxy_a_distance(train_features, site_features, seed=seed)
    reading = SITE_READING[pad["level"]]
    spans = len({_level(pad["ci_low"]), _level(pad["ci_high"])}) > 1
    notes = {
        "same": "The backbone cannot tell the site images from the training sample: a "
        "model trained on the sample should meet similar images at the site.",
        "shifted": "The site images differ measurably from the training sample: expect "
        "some loss at the site; include site images in training or validate "
        "on them (domain adaptation).",
        "different": "A linear classifier separates site images from the training sample "
        "almost perfectly: this is a domain-adaptation problem; the sample's "
        "accuracy will not carry over without site data.",
    }
    note = notes[reading]
    if pad["n_b"] < SITE_MIN_IMAGES:
        note += (
            f" Only {pad['n_b']} site images: the interval is wide; give at least "
            f"{SITE_MIN_IMAGES}."
        )
    return {
        "gap": pad["pad"],
        "ci_low": pad["ci_low"],
        "ci_high": pad["ci_high"],
        "interpretation": reading,
        "interval_spans_readings": bool(spans),
        "n_train": pad["n_a"],
        "n_site": pad["n_b"],
        "note": note,
        "proxy_a_distance": pad,
    }


def site_gap_from_paths(
    train_paths: Sequence[Path],
    site_paths: Sequence[Path],
    backbone: str = "efficientnet_lite0",
    device: str = "auto",
    cache_dir: Path | None = None,
    seed: int = 0,
    max_images: int = 500,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Embed the training sample and the site images, then measure :func:`site_gap`.

    Each side is capped at ``max_images`` (a seeded random subset) so a large sample
    does not make the check slow; features are shared with the validation's cache.

    Args:
        train_paths: Images of the training sample.
        site_paths: Images from the deployment site.
        backbone: Backbone that embeds both (the bundled default unless given).
        device: "auto", "cpu", "cuda" or "mps".
        cache_dir: Feature cache directory (None: no cache).
        seed: Seed of the subsets and folds.
        max_images: Most images used per side.
        progress: Progress callback.
        cancel: Cancellation token.

    Returns:
        :func:`site_gap`'s record plus ``"backbone"`` and ``"n_site_given"``.

    Raises:
        ValueError: When a side has fewer than two images, or ``max_images`` < 2.

    """
    if max_images < 2:
        raise ValueError("max_images must be at least 2.")
    if len(train_paths) < 2 or len(site_paths) < 2:
        raise ValueError(
            "The site comparison needs at least two training images and two site images; "
            f"got {len(train_paths)} and {len(site_paths)}."
        )
    from engines.validation.embed import embed_images

    rng = np.random.default_rng(seed)

    def cap(paths: Sequence[Path]) -> list[Path]:
        paths = list(paths)
        if len(paths) <= max_images:
            return paths
        return [paths[i] for i in sorted(rng.permutation(len(paths))[:max_images])]

    train, site = cap(train_paths), cap(site_paths)
    feats = embed_images(
        train + site, backbone, device, cache_dir, progress=progress, cancel=cancel
    )
    out = site_gap(feats.features[: len(train)], feats.features[len(train) :], seed=seed)
    out["backbone"] = backbone
    out["n_site_given"] = len(site_paths)
    return out
