"""Domain similarity to ImageNet, measured from the pretrained model's own view.

Instead of asking the consultant whether the client's images "look like ImageNet", the
sample is shown to the pretrained backbone and four kinds of evidence are read off:

1. **Its ImageNet head** — the median maximum softmax probability (MSP; Hendrycks &
   Gimpel 2017, "A Baseline for Detecting Misclassified and Out-of-Distribution
   Examples", ICLR) and the mean energy ``-logsumexp(logits)`` (Liu, Wang, Owens & Li
   2020, "Energy-based Out-of-distribution Detection", NeurIPS). Familiar images get
   confident, low-energy outputs.
2. **Its features** — the share of near-zero activations (channels tuned to ImageNet
   patterns stay silent on unfamiliar images) and the effective rank (Roy & Vetterli
   2007, "The effective rank: a measure of effective dimensionality", EUSIPCO) of 32
   images' centred features, divided by 31 (a collapsed, low-rank view means the
   features hardly tell the images apart).
3. **Linear probe vs k-NN** — when labels exist: if the raw feature geometry already
   groups the classes, k-NN is close to the linear probe; a large gap means the
   classes are separable only after a learned re-weighting, a sign that the features
   fit the domain less well.

Each signal becomes a sub-score in (0, 1) — ``sigmoid(direction * (value - threshold) /
scale)``, 1 meaning "similar" — and the score is their weighted mean; ``call`` is
"similar" when the score is at least 0.5.

How the thresholds were set (configuration as data, the table :data:`THRESHOLDS`).
Run ``bench/calibrate_similarity.py`` for a backbone. For EfficientNet-Lite0 (bundled
weights, mean = std = 0.5 preprocessing) it used 28 samples of 32 images each:
*similar* — 8 samples of augmented crops of the natural photos scikit-image ships
(astronaut, chelsea, coffee, rocket, motorcycle, camera, clock, coins); *different* —
14 samples of non-photo images (scikit-image's immunohistochemistry, retina, Hubble deep
field, cells, page, text, Shepp–Logan phantom, blobs, checkerboard, microaneurysms, and
generated white noise, 1/f noise, gratings, rectangles) and 6 samples of the
magnetic-tile defect dataset (Huang, Qiu & Yuan 2020; one per class folder). Each
threshold is the cut that best separates the two groups (Youden's J, noted per row);
each scale is the pooled within-group standard deviation; the weights are a choice
(head energy and near-zero share 1, the correlated MSP and the weaker effective rank
0.5), close to the relative weights a logistic regression gave on the same samples
(leave-one-out accuracy 82–86 %). The combined call was right on 22 of the 28
calibration samples (in-sample, so optimistic): all 8 similar and 14 of 20 different;
it called immunohistochemistry, retina, Hubble, blobs, phantom and microaneurysms
"similar", so read "similar" as "not clearly different" and "different" as the
stronger statement. The linear-probe/k-NN gap is a judgement: on the calibration tasks it
was 0.00 (natural photos as classes), 0.02 (non-photo sources) and 0.04 (magnetic-tile
defects, 6 classes), too few to fit a cut, so it carries a lower weight.

The same run for EfficientNet-Lite1 and -Lite2 separated the groups poorly (Youden's J
at most 0.55 for every signal; the call right on 15 and 13 of 28 with Lite0's table),
so no table is kept for them: measure domain similarity with Lite0, whichever backbone
is then fine-tuned.

Limits. Crops of a few photos stand in for "close to ImageNet"; the head signals
measure overlap with ImageNet's classes as much as with its domain (a natural photo of
an object ImageNet lacks looks "less similar"). Thresholds hold for the backbone they
were measured on; another backbone falls back to Lite0's table and the result says it
is uncalibrated.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import logsumexp, softmax

DEFAULT_BACKBONE = "efficientnet_lite0"
FEATURE_SUBSAMPLE = 32
FEATURE_DRAWS = 5

# signal -> threshold, scale, weight, direction (higher_is_similar), youden_j on the
# calibration samples. Values from bench/calibrate_similarity.py (see docstring).
THRESHOLDS: dict[str, dict[str, dict[str, Any]]] = {
    "efficientnet_lite0": {
        "energy_mean": {
            "threshold": -8.34,
            "scale": 0.81,
            "weight": 1.0,
            "higher_is_similar": False,
            "youden_j": 0.70,
        },
        "msp_median": {
            "threshold": 0.31,
            "scale": 0.23,
            "weight": 0.5,
            "higher_is_similar": True,
            "youden_j": 0.65,
        },
        "near_zero_fraction": {
            "threshold": 0.637,
            "scale": 0.098,
            "weight": 1.0,
            "higher_is_similar": False,
            "youden_j": 0.65,
        },
        "erank_ratio": {
            "threshold": 0.724,
            "scale": 0.053,
            "weight": 0.5,
            "higher_is_similar": True,
            "youden_j": 0.55,
        },
        "lp_knn_gap": {
            "threshold": 0.08,
            "scale": 0.04,
            "weight": 0.5,
            "higher_is_similar": False,
            "youden_j": None,
        },
    },
}

DESCRIPTIONS = {
    "energy_mean": "Mean energy -logsumexp(logits) of the ImageNet head (Liu et al. 2020); "
    "lower = more familiar.",
    "msp_median": "Median top-1 softmax probability of the ImageNet head (Hendrycks & "
    "Gimpel 2017); higher = more familiar.",
    "near_zero_fraction": "Share of pooled feature activations below 1% of their RMS; "
    "higher = more ImageNet-tuned channels stay silent.",
    "erank_ratio": "Effective rank (Roy & Vetterli 2007) of 32 images' centred features / 31; "
    "lower = the features hardly tell the images apart.",
    "lp_knn_gap": "Linear-probe minus k-NN accuracy; larger = classes separable only after "
    "re-weighting the features.",
}


def head_statistics(logits: np.ndarray) -> dict[str, float]:
    """ImageNet-head signals of a sample: median MSP and mean energy.

    Args:
        logits: (n, C) logits of the pretrained classifier (C = 1000 for ImageNet-1k).

    Returns:
        ``{"msp_median", "energy_mean"}`` as floats.

    Raises:
        ValueError: On a non-2-D, empty or non-finite array.

    """
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] < 2:
        raise ValueError(f"logits must be (n, C) with n >= 1 and C >= 2, got {z.shape}.")
    if not np.all(np.isfinite(z)):
        raise ValueError("logits hold NaN or infinite values.")
    p = softmax(z, axis=1)
    return {
        "msp_median": float(np.median(p.max(axis=1))),
        "energy_mean": float(np.mean(-logsumexp(z, axis=1))),
    }


def effective_rank(x: np.ndarray) -> float:
    """Effective rank exp(H(p)), p = normalised singular values (Roy & Vetterli 2007).

    Args:
        x: (n, d) matrix (centre it first for a covariance view).

    Returns:
        A float between 1 and min(n, d) (0 for an all-zero matrix).

    """
    s = np.linalg.svd(np.asarray(x, dtype=np.float64), compute_uv=False)
    total = s.sum()
    if total <= 0:
        return 0.0
    p = s / total
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def feature_statistics(features: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Feature signals of a sample: near-zero share and effective-rank ratio.

    The effective rank is averaged over a few random subsets of
    ``FEATURE_SUBSAMPLE`` images, so samples of different sizes compare.

    Args:
        features: (n, d) pooled features, n >= 3.
        seed: Seed of the subsets.

    Returns:
        ``{"near_zero_fraction", "erank_ratio"}`` as floats.

    Raises:
        ValueError: On bad shapes, fewer than three images or non-finite values.

    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 3:
        raise ValueError("features must be (n, d) with at least three images.")
    if not np.all(np.isfinite(x)):
        raise ValueError("features hold NaN or infinite values.")
    rng = np.random.default_rng(seed)
    m = min(FEATURE_SUBSAMPLE, x.shape[0])
    ratios = []
    for _ in range(FEATURE_DRAWS if x.shape[0] > m else 1):
        sub = x[rng.permutation(x.shape[0])[:m]]
        ratios.append(effective_rank(sub - sub.mean(axis=0)) / (m - 1))
    rms = math.sqrt(float(np.mean(x * x)))
    return {
        "near_zero_fraction": float(np.mean(np.abs(x) < 0.01 * rms)) if rms > 0 else 1.0,
        "erank_ratio": float(np.mean(ratios)),
    }


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(v, 50.0), -50.0)))


def domain_similarity(
    imagenet_logits: np.ndarray | None,
    features: np.ndarray | None,
    labels: np.ndarray | None = None,
    lp_accuracy: float | None = None,
    knn_accuracy: float | None = None,
    backbone: str = DEFAULT_BACKBONE,
    seed: int = 0,
) -> dict[str, Any]:
    """Say whether the sample is similar to what the pretrained backbone knows.

    Methods: energy score (Liu et al. 2020, NeurIPS), maximum softmax probability
    (Hendrycks & Gimpel 2017, ICLR), effective rank (Roy & Vetterli 2007), and the
    linear-probe vs k-NN gap; thresholds from :data:`THRESHOLDS` (see the module
    docstring for the data they come from).

    Args:
        imagenet_logits: (n, 1000) ImageNet logits of the sample, or None when the
            backbone has no ImageNet head.
        features: (n, d) pooled features, or None.
        labels: (n,) labels, if any; only used to report the number of classes.
        lp_accuracy: Linear-probe validation accuracy, if measured.
        knn_accuracy: k-NN validation accuracy on the same split, if measured.
        backbone: Name of the backbone that produced logits and features.
        seed: Seed of the feature subsets.

    Returns:
        ``{"call": "similar"|"different", "score": 0..1, "confidence": "low"|"medium"|
        "high", "evidence": [{name, value, threshold, points_to, weight, sub_score,
        description}], "backbone", "calibrated": bool, "thresholds_note", "n_images"}``.

    Raises:
        ValueError: When no signal can be computed, or on inconsistent inputs.

    """
    table = THRESHOLDS.get(backbone, THRESHOLDS[DEFAULT_BACKBONE])
    calibrated = backbone in THRESHOLDS
    values: dict[str, float] = {}
    n_images = None
    if imagenet_logits is not None:
        stats = head_statistics(imagenet_logits)
        values.update(stats)
        n_images = int(np.asarray(imagenet_logits).shape[0])
    if features is not None:
        f = np.asarray(features)
        if n_images is not None and f.shape[0] != n_images:
            raise ValueError("imagenet_logits and features must have the same rows.")
        values.update(feature_statistics(f, seed=seed))
        n_images = int(f.shape[0])
    if labels is not None and n_images is not None and np.asarray(labels).shape[0] != n_images:
        raise ValueError("labels must have one entry per image.")
    if (lp_accuracy is None) != (knn_accuracy is None):
        raise ValueError("Give both lp_accuracy and knn_accuracy, or neither.")
    if lp_accuracy is not None and knn_accuracy is not None:
        for v in (lp_accuracy, knn_accuracy):
            if not 0.0 <= v <= 1.0:
                raise ValueError("Accuracies must lie in [0, 1].")
        values["lp_knn_gap"] = float(lp_accuracy - knn_accuracy)
    if not values:
        raise ValueError("No evidence: give ImageNet logits, features, or both accuracies.")

    evidence = []
    total_w = 0.0
    score = 0.0
    for name, value in values.items():
        spec = table[name]
        direction = 1.0 if spec["higher_is_similar"] else -1.0
        sub = _sigmoid(direction * (value - spec["threshold"]) / spec["scale"])
        total_w += spec["weight"]
        score += spec["weight"] * sub
        evidence.append(
            {
                "name": name,
                "value": float(value),
                "threshold": float(spec["threshold"]),
                "points_to": "similar" if sub >= 0.5 else "different",
                "weight": float(spec["weight"]),
                "sub_score": float(sub),
                "description": DESCRIPTIONS[name],
            }
        )
    score /= total_w
    agree = sum(e["points_to"] == ("similar" if score >= 0.5 else "different") for e in evidence)
    margin = abs(score - 0.5)
    if margin >= 0.2 and agree == len(evidence):
        confidence = "high"
    elif margin >= 0.1 and agree * 2 > len(evidence):
        confidence = "medium"
    else:
        confidence = "low"
    note = (
        f"Thresholds measured for {backbone} on natural-photo crops vs non-photo and "
        "industrial images (bench/calibrate_similarity.py); the linear-probe/k-NN "
        "threshold is a judgement."
        if calibrated
        else f"No thresholds measured for {backbone}: {DEFAULT_BACKBONE}'s are used, so "
        "the call is indicative only. Run bench/calibrate_similarity.py for it."
    )
    return {
        "call": "similar" if score >= 0.5 else "different",
        "score": float(score),
        "confidence": confidence,
        "evidence": evidence,
        "backbone": backbone,
        "calibrated": bool(calibrated),
        "thresholds_note": note,
        "n_images": n_images,
        "n_classes": int(np.unique(np.asarray(labels)).size) if labels is not None else None,
    }
