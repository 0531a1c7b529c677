"""Domain similarity to ImageNet, measured on the sample and called by a fitted model.

The sample is shown to the pretrained backbone and its pixels are summarised; the
resulting *signals* go into a small logistic model fitted on real labelled sets.

Signals (each one number per sample):

1. **The ImageNet head** — the median maximum softmax probability (MSP; Hendrycks &
   Gimpel 2017, "A Baseline for Detecting Misclassified and Out-of-Distribution
   Examples", ICLR) and the mean energy ``-logsumexp(logits)`` (Liu, Wang, Owens & Li
   2020, "Energy-based Out-of-distribution Detection", NeurIPS).
2. **The features** — the share of near-zero activations, the effective rank (Roy &
   Vetterli 2007, "The effective rank: a measure of effective dimensionality",
   EUSIPCO) of 32 images' centred features divided by 31, and the *feature uniformity*:
   the mean cosine similarity between the images' pooled features (a narrow, uniform
   imaging domain gives near-parallel features).
3. **The pixels** — the share of greyscale images (colour is what most non-photo
   imaging lacks: X-ray, ultrasound, MRI, scans, line art) and the median luminance
   contrast of the colour images (the standard deviation of luminance within an image;
   camera photos of objects and scenes have a typical contrast that stained tissue and
   overhead imagery lack). The model reads contrast as its distance from the similar
   sets' median, ``|ln(x / median)|``, so both too little and too much count; a sample
   with no colour image sits at the median (the grey share speaks for it).
4. **Linear probe vs k-NN** — when labels exist: a large gap means the classes are
   separable only after a learned re-weighting of the features. Reported, not used by
   the model (it exists only for labelled samples and was not measured on the suite).

The call. A logistic regression over standardized signals (L2-regularised, classes
weighted equally; Hastie, Tibshirani & Friedman, *The Elements of Statistical
Learning*, 2nd ed., §4.4) gives the probability ``p`` that the sample is "similar". Its
inputs, standardization, weights and the per-set signal table it was fitted on are
data: ``engines/similarity_model.json``, written by ``bench/calibrate_similarity.py``
from the calibration suite (ten small real sets — four similar, five different, one
borderline — plus the magnetic-tile defects, 32 images each). The file holds several
models, one per set of available inputs; the first whose inputs are all measured is
used. With the pixels (the validation passes the image files) that is grey share,
colour contrast and feature uniformity: leave-one-set-out it was right on 9 of the 10
calibration sets and on the tiles (bench/README.md). Without pixels the backbone-only
model answers, right on only 6 of 11 held out, so its confidence is never above "low".
The ImageNet-head signals separated the suite's sets poorly (flowers and CIFAR-10 look
as unfamiliar to the head as ultrasound), which is why the issue's wrong calls came out
of a combination that trusted them.

``call`` is "borderline" when ``p`` lies within :data:`BORDERLINE_BAND` of 0.5,
else "similar"/"different". ``confidence`` is "low" when the call is borderline or the
:data:`K_NEIGHBOURS` fitted sets nearest to the sample (Euclidean distance over the
model's standardized inputs) have mixed labels or disagree with the call; "high" when
``p`` is beyond :data:`HIGH_AT` on either side and the neighbours agree; else
"medium". The band and the cut for "high" are judgements, stated in the result.

Every signal is also shown against a univariate threshold — the cut between the similar
and the different sets of the suite that best separates them (Youden's J) — so a
report can show which signals point which way; the call itself comes from the model.

Limits. Eleven sets are few, and the inputs and the regularisation were chosen on the
same suite: read the call as a measured prior, not a verdict. A greyscale set of
ordinary photos would read as "different"; a low resolution alone does not (the pixel
signals are measured on the images as they are, CIFAR's 32-pixel photos are in the
suite, and 28-pixel copies of the cat/dog and aerial sets keep their calls). The model
holds for the backbone it was fitted with; another backbone uses it too and the result
says it is uncalibrated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
from scipy.special import logsumexp, softmax

from engines.results.base import message

DEFAULT_BACKBONE = "efficientnet_lite0"
FEATURE_SUBSAMPLE = 32
FEATURE_DRAWS = 5
MODEL_PATH = Path(__file__).with_name("similarity_model.json")

BORDERLINE_BAND = 0.15
"""``|p - 0.5|`` below this is a "borderline" call (a judgement)."""
HIGH_AT = 0.30
"""``|p - 0.5|`` at least this, with agreeing neighbours, is "high" confidence."""
K_NEIGHBOURS = 3
"""Fitted sets compared with the sample for the confidence."""
WEAK_MODEL_BELOW = 0.8
"""A model right on fewer held-out sets than this share never gives more than "low"."""
GREY_CHROMA = 0.02
"""Mean chroma (opponent colour, 0-1 scale) below which an image counts as greyscale."""
THUMBNAIL = 64
"""Side of the thumbnails the pixel signals are measured on."""
PIXEL_IMAGES = 64
"""Images the pixel signals read at most (a seeded random subset beyond that)."""

DESCRIPTIONS = {
    "energy_mean": "Mean energy -logsumexp(logits) of the ImageNet head (Liu et al. 2020); "
    "lower = more familiar.",
    "msp_median": "Median top-1 softmax probability of the ImageNet head (Hendrycks & "
    "Gimpel 2017); higher = more familiar.",
    "near_zero_fraction": "Share of pooled feature activations below 1% of their RMS; "
    "higher = more ImageNet-tuned channels stay silent.",
    "erank_ratio": "Effective rank (Roy & Vetterli 2007) of 32 images' centred features / 31; "
    "lower = the features hardly tell the images apart.",
    "feature_uniformity": "Mean cosine similarity between the images' features; higher = "
    "a narrow, uniform imaging domain.",
    "grey_share": "Share of greyscale images; non-photo imaging (X-ray, ultrasound, MRI, "
    "scans, line art) is mostly grey.",
    "colour_contrast": "Median luminance contrast (std of luminance within an image, 0-1) "
    "of the colour images; camera photos of objects and scenes have a typical contrast, "
    "stained tissue and overhead imagery much less.",
    "lp_knn_gap": "Linear-probe minus k-NN accuracy; larger = classes separable only after "
    "re-weighting the features. Reported only: not an input of the model.",
}

LP_KNN_GAP = {"threshold": 0.08, "higher_is_similar": False}
"""The probe-gap reading kept from the earlier calibration (a judgement; see the bench)."""


# ------------------------------------------------------------------------ signals


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
    """Feature signals of a sample: near-zero share, effective-rank ratio, uniformity.

    The effective rank is averaged over a few random subsets of
    ``FEATURE_SUBSAMPLE`` images, so samples of different sizes compare.

    Args:
        features: (n, d) pooled features, n >= 3.
        seed: Seed of the subsets.

    Returns:
        ``{"near_zero_fraction", "erank_ratio", "feature_uniformity"}`` as floats.

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
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = x / np.where(norms > 0, norms, 1.0)
    n = x.shape[0]
    total = unit.sum(axis=0)
    # Mean off-diagonal cosine without the n x n matrix: (|sum u|^2 - sum |u|^2) / n(n-1).
    uniformity = (float(total @ total) - float((unit * unit).sum())) / (n * (n - 1))
    return {
        "near_zero_fraction": float(np.mean(np.abs(x) < 0.01 * rms)) if rms > 0 else 1.0,
        "erank_ratio": float(np.mean(ratios)),
        "feature_uniformity": float(uniformity),
    }


def image_statistics(images: Iterable[np.ndarray]) -> dict[str, float | None]:
    """Pixel signals of a sample: greyscale share and the colour images' contrast.

    Colour is measured in an opponent space (``(R-G)/sqrt 2``, ``(R+G-2B)/sqrt 6``);
    an image whose mean chroma is below :data:`GREY_CHROMA` counts as greyscale.
    Contrast is the standard deviation of luminance ``(R+G+B)/3`` within an image.

    Args:
        images: RGB uint8 arrays (h, w, 3), any size (thumbnails are enough).

    Returns:
        ``{"grey_share", "colour_contrast", "chroma_median", "n_pixel_images"}``;
        ``colour_contrast`` is the median contrast of the colour images (None when
        every image is grey).

    Raises:
        ValueError: When no image is given or one is not (h, w, 3).

    """
    chroma, contrast = [], []
    for img in images:
        a = np.asarray(img)
        if a.ndim != 3 or a.shape[2] != 3 or a.size == 0:
            raise ValueError(f"images must be (h, w, 3) RGB arrays, got {a.shape}.")
        a = a.astype(np.float64) / 255.0
        r, g, b = a[..., 0], a[..., 1], a[..., 2]
        o1 = (r - g) / math.sqrt(2.0)
        o2 = (r + g - 2.0 * b) / math.sqrt(6.0)
        chroma.append(float(np.mean(np.sqrt(o1 * o1 + o2 * o2))))
        contrast.append(float(np.std((r + g + b) / 3.0)))
    if not chroma:
        raise ValueError("No images to measure.")
    c = np.asarray(chroma)
    colour = np.asarray(contrast)[c >= GREY_CHROMA]
    return {
        "grey_share": float(np.mean(c < GREY_CHROMA)),
        "colour_contrast": float(np.median(colour)) if colour.size else None,
        "chroma_median": float(np.median(c)),
        "n_pixel_images": len(chroma),
    }


def thumbnail(path: Path, side: int = THUMBNAIL) -> np.ndarray:
    """Decode an image as an RGB uint8 array no larger than ``side`` on its long edge.

    Args:
        path: Image file (any format :func:`engines.images.load_rgb` reads).
        side: Longest side of the thumbnail.

    Returns:
        (h, w, 3) uint8 array.

    """
    from PIL import Image

    from engines.images import load_rgb

    img = load_rgb(Path(path), reduce_to=side)
    img.thumbnail((side, side), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def image_statistics_from_paths(
    paths: Sequence[Path], max_images: int = PIXEL_IMAGES, seed: int = 0
) -> dict[str, float | None]:
    """Pixel signals of image files (a seeded subset of at most ``max_images``).

    Files that do not decode are skipped; intake has already reported them.

    Args:
        paths: Image files.
        max_images: Most images read.
        seed: Seed of the subset.

    Returns:
        As :func:`image_statistics`.

    Raises:
        ValueError: When none of the files decodes.

    """
    from engines.errors import EngineError

    paths = list(paths)
    order = np.random.default_rng(seed).permutation(len(paths))[:max_images]
    thumbs = []
    for i in sorted(order):
        try:
            thumbs.append(thumbnail(paths[i]))
        except (OSError, ValueError, EngineError):
            continue
    return image_statistics(thumbs)


# -------------------------------------------------------------------------- model


@lru_cache(maxsize=4)
def _load_model_file(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text("utf-8"))


def load_model_file(path: Path | None = None) -> dict[str, Any]:
    """The fitted similarity models and the table they were fitted on.

    Args:
        path: A model file (default: :data:`MODEL_PATH`).

    Returns:
        The parsed file (``models``, ``table``, ``loso``, ``thresholds`` ...). Do not
        mutate it: it is cached.

    """
    return _load_model_file(str(path or MODEL_PATH))


CENTRED = ("colour_contrast",)
"""Inputs read as their distance from the similar sets' median, ``|ln(x / median)|``:
both too little and too much contrast are unlike camera photos."""


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def fit_model(
    table: Sequence[dict[str, Any]], inputs: Sequence[str], C: float = 1.0
) -> dict[str, Any]:
    """Fit the L2-regularised logistic model over standardized signals.

    Rows labelled "borderline" are left out of the fit. Classes are weighted equally.

    Args:
        table: Rows ``{"name", "label": "similar"|"different"|"borderline", "signals":
            {name: value}}``.
        inputs: Signal names used as inputs.
        C: Inverse L2 strength on the standardized inputs.

    Returns:
        ``{"inputs", "mean", "scale", "weights", "intercept", "centre", "C",
        "fitted_on"}``; ``centre`` holds the median of the similar sets for the inputs
        of :data:`CENTRED`, which enter as ``|ln(x / centre)|``.

    Raises:
        ValueError: With fewer than one similar and one different row, or a missing
            input in a row.

    """
    from sklearn.linear_model import LogisticRegression

    rows = [r for r in table if r["label"] in ("similar", "different")]
    y = np.array([r["label"] == "similar" for r in rows], dtype=int)
    if y.sum() == 0 or y.sum() == len(y):
        raise ValueError("Fitting needs at least one similar and one different set.")
    try:
        x = np.array([[_number(r["signals"][k]) for k in inputs] for r in rows])
    except KeyError as exc:
        raise ValueError(f"A fitted set lacks the input {exc.args[0]!r}.") from None
    centre = {}
    for j, key in enumerate(inputs):
        if key in CENTRED:
            # Distance from the typical value of the similar sets, on a log scale; a
            # sample without the signal (no colour image) sits at the centre.
            col = x[:, j]
            centre[key] = float(np.nanmedian(col[y == 1]))
            x[:, j] = np.where(
                np.isnan(col), 0.0, np.abs(np.log(np.maximum(col, 1e-6) / centre[key]))
            )
        elif np.isnan(x[:, j]).any():
            raise ValueError(f"The input {key!r} is missing in a fitted set.")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=1000)
    model.fit((x - mean) / scale, y)
    return {
        "inputs": list(inputs),
        "mean": [float(v) for v in mean],
        "scale": [float(v) for v in scale],
        "weights": [float(v) for v in model.coef_[0]],
        "intercept": float(model.intercept_[0]),
        "centre": centre,
        "C": float(C),
        "fitted_on": [r["name"] for r in rows],
    }


def _standardize(model: dict[str, Any], values: Mapping[str, float | None]) -> np.ndarray:
    centre = model.get("centre", {})
    x = np.array([_number(values[k]) for k in model["inputs"]])
    for j, key in enumerate(model["inputs"]):
        if key in centre:
            x[j] = 0.0 if math.isnan(x[j]) else abs(math.log(max(x[j], 1e-6) / centre[key]))
        elif math.isnan(x[j]):
            raise ValueError(f"The signal {key!r} has no value.")
    return (x - np.asarray(model["mean"])) / np.asarray(model["scale"])


def predict(model: dict[str, Any], values: Mapping[str, float | None]) -> tuple[float, list[float]]:
    """Probability of "similar" and each input's contribution to the logit.

    Args:
        model: A fitted model (:func:`fit_model`).
        values: Signal values; must hold every input of the model.

    Returns:
        ``(p, contributions)``, contributions in the order of ``model["inputs"]``.

    """
    z = _standardize(model, values)
    contrib = np.asarray(model["weights"]) * z
    logit = float(model["intercept"] + contrib.sum())
    return 1.0 / (1.0 + math.exp(-max(min(logit, 50.0), -50.0))), [float(c) for c in contrib]


def nearest_sets(
    model: dict[str, Any],
    table: Sequence[dict[str, Any]],
    values: Mapping[str, float | None],
    k: int = K_NEIGHBOURS,
) -> list[dict[str, Any]]:
    """The ``k`` labelled sets of ``table`` nearest to ``values`` in the model's space.

    Distance is Euclidean over the model's standardized inputs. Borderline rows and rows
    lacking an input are skipped.

    Returns:
        ``[{"name", "label", "distance"}]``, nearest first.

    """
    z = _standardize(model, values)
    found = []
    for row in table:
        if row["label"] not in ("similar", "different"):
            continue
        if any(key not in row["signals"] for key in model["inputs"]):
            continue
        d = float(np.linalg.norm(_standardize(model, row["signals"]) - z))
        found.append({"name": row["name"], "label": row["label"], "distance": round(d, 3)})
    return sorted(found, key=lambda r: (r["distance"], r["name"]))[:k]


def decide(p: float, neighbours: Sequence[dict[str, Any]]) -> tuple[str, str, str]:
    """Call and confidence from the probability and the nearest fitted sets.

    Args:
        p: Probability of "similar".
        neighbours: Nearest fitted sets (``label`` each).

    Returns:
        ``(call, confidence, reason)``.

    """
    if abs(p - 0.5) < BORDERLINE_BAND:
        return "borderline", "low", f"probability {p:.2f} lies within {BORDERLINE_BAND} of 0.5"
    call = "similar" if p > 0.5 else "different"
    labels = {n["label"] for n in neighbours}
    if len(labels) > 1:
        names = ", ".join(f"{n['name']} ({n['label']})" for n in neighbours)
        return call, "low", f"the nearest calibration sets disagree: {names}"
    if labels and labels != {call}:
        names = ", ".join(n["name"] for n in neighbours)
        return call, "low", f"the nearest calibration sets ({names}) are all {labels.pop()}"
    if abs(p - 0.5) >= HIGH_AT:
        return call, "high", f"probability {p:.2f} and the nearest calibration sets agree"
    return call, "medium", f"probability {p:.2f}; the nearest calibration sets agree"


def choose_model(models: Sequence[dict[str, Any]], available: Iterable[str]) -> dict[str, Any]:
    """The first model whose inputs are all available.

    Raises:
        ValueError: When no model can run on the available signals.

    """
    have = set(available)
    for model in models:
        if set(model["inputs"]) <= have:
            return model
    raise ValueError(
        "No similarity model fits the measured signals "
        f"({', '.join(sorted(have)) or 'none'}): give ImageNet logits and features."
    )


def leave_one_set_out(
    table: Sequence[dict[str, Any]],
    inputs: Sequence[str],
    C: float = 1.0,
    k: int = K_NEIGHBOURS,
) -> list[dict[str, Any]]:
    """Fit on every set but one and call the held-out one, for every set.

    Args:
        table: Rows as for :func:`fit_model`.
        inputs: Model inputs.
        C: Inverse L2 strength.
        k: Neighbours for the confidence.

    Returns:
        One row per set: ``{"name", "label", "p", "call", "confidence", "right",
        "neighbours"}``. ``right`` is True when the call equals the label; for a
        borderline set, when the call is "borderline" or the confidence is "low".

    """
    out = []
    for held in table:
        rest = [r for r in table if r["name"] != held["name"]]
        model = fit_model(rest, inputs, C=C)
        p, _ = predict(model, held["signals"])
        neighbours = nearest_sets(model, rest, held["signals"], k=k)
        call, confidence, _reason = decide(p, neighbours)
        if held["label"] == "borderline":
            right = call == "borderline" or confidence == "low"
        else:
            right = call == held["label"]
        out.append(
            {
                "name": held["name"],
                "label": held["label"],
                "p": round(p, 3),
                "call": call,
                "confidence": confidence,
                "right": bool(right),
                "neighbours": [n["name"] for n in neighbours],
            }
        )
    return out


def univariate_cut(similar: np.ndarray, different: np.ndarray) -> dict[str, Any]:
    """The cut that best separates two groups of one signal (Youden's J), with direction.

    Returns:
        ``{"threshold", "higher_is_similar", "youden_j"}``.

    """
    values = np.unique(np.concatenate([similar, different]))
    cuts = (values[:-1] + values[1:]) / 2 if values.size > 1 else values
    best = (-1.0, float(cuts[0]), True)
    for cut in cuts:
        for higher in (True, False):
            if higher:
                tpr, tnr = np.mean(similar > cut), np.mean(different <= cut)
            else:
                tpr, tnr = np.mean(similar < cut), np.mean(different >= cut)
            j = float(tpr + tnr - 1)
            if j > best[0] + 1e-12:
                best = (j, float(cut), higher)
    return {"threshold": best[1], "higher_is_similar": best[2], "youden_j": round(best[0], 3)}


# ---------------------------------------------------------------------- the call


def sample_signals(
    imagenet_logits: np.ndarray | None,
    features: np.ndarray | None,
    pixel_stats: Mapping[str, float | None] | None = None,
    seed: int = 0,
) -> dict[str, float | None]:
    """Every signal measurable from what is given (see the module docstring).

    Args:
        imagenet_logits: (n, 1000) logits, or None.
        features: (n, d) pooled features, or None.
        pixel_stats: Output of :func:`image_statistics`, or None.
        seed: Seed of the feature subsets.

    Returns:
        ``{signal: value}``.

    Raises:
        ValueError: On inconsistent inputs.

    """
    values: dict[str, float | None] = {}
    if imagenet_logits is not None:
        values.update(head_statistics(imagenet_logits))
    if features is not None:
        f = np.asarray(features)
        if imagenet_logits is not None and f.shape[0] != np.asarray(imagenet_logits).shape[0]:
            raise ValueError("imagenet_logits and features must have the same rows.")
        values.update(feature_statistics(f, seed=seed))
    if pixel_stats is not None:
        values["grey_share"] = float(cast(float, pixel_stats["grey_share"]))  # never None
        contrast = pixel_stats.get("colour_contrast")
        values["colour_contrast"] = None if contrast is None else float(contrast)
    return values


def domain_similarity(
    imagenet_logits: np.ndarray | None,
    features: np.ndarray | None,
    labels: np.ndarray | None = None,
    lp_accuracy: float | None = None,
    knn_accuracy: float | None = None,
    backbone: str = DEFAULT_BACKBONE,
    seed: int = 0,
    paths: Sequence[Path] | None = None,
    pixel_stats: Mapping[str, float | None] | None = None,
    model_path: Path | None = None,
) -> dict[str, Any]:
    """Say whether the sample is similar to what the pretrained backbone knows.

    Methods: energy score (Liu et al. 2020), maximum softmax probability (Hendrycks &
    Gimpel 2017), effective rank (Roy & Vetterli 2007), feature uniformity, greyscale
    share and luminance contrast, combined by the logistic model of
    ``engines/similarity_model.json`` (see the module docstring).

    Args:
        imagenet_logits: (n, 1000) ImageNet logits of the sample, or None when the
            backbone has no ImageNet head.
        features: (n, d) pooled features, or None.
        labels: (n,) labels, if any; only used to report the number of classes.
        lp_accuracy: Linear-probe validation accuracy, if measured.
        knn_accuracy: k-NN validation accuracy on the same split, if measured.
        backbone: Name of the backbone that produced logits and features.
        seed: Seed of the feature and pixel subsets.
        paths: The sample's image files, for the pixel signals (None: not measured).
        pixel_stats: Pixel signals already measured (:func:`image_statistics`);
            overrides ``paths``.
        model_path: Another model file (tests, the bench).

    Returns:
        ``{"call": "similar"|"different"|"borderline", "score": p (0-1, probability
        of "similar"), "confidence": "low"|"medium"|"high", "confidence_reason",
        "evidence": [{name, value, threshold, higher_is_similar, points_to, weight,
        contribution, sub_score, used_in_call, description}], "model": {name, inputs,
        intercept, loso_right, loso_total, fitted_on}, "neighbours": [{name, label,
        distance}], "backbone", "calibrated", "thresholds_note", "n_images",
        "n_classes", "n_pixel_images"}``.

    Raises:
        ValueError: When no model can run on the signals, or on inconsistent inputs.

    """
    if pixel_stats is None and paths is not None and len(paths) > 0:
        try:
            pixel_stats = image_statistics_from_paths(paths, seed=seed)
        except ValueError:
            pixel_stats = None  # no file decodes: the backbone-only model answers
    values = sample_signals(imagenet_logits, features, pixel_stats, seed=seed)
    n_images = None
    for arr in (imagenet_logits, features):
        if arr is not None:
            n_images = int(np.asarray(arr).shape[0])
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

    spec = load_model_file(model_path)
    model = choose_model(spec["models"], values)
    p, contributions = predict(model, values)
    neighbours = nearest_sets(model, spec["table"], values)
    call, confidence, reason = decide(p, neighbours)
    contribution_of = dict(zip(model["inputs"], contributions, strict=True))
    weight_of = dict(zip(model["inputs"], model["weights"], strict=True))

    evidence = []
    for name, value in values.items():
        cut = LP_KNN_GAP if name == "lp_knn_gap" else spec["thresholds"].get(name)
        if cut is None:
            continue
        higher = bool(cut["higher_is_similar"])
        used = name in contribution_of
        points = None if value is None else (value > cut["threshold"]) == higher
        sub: float | None
        if used:
            # 1 / (1 + e^-contribution): this input's own push on the call, 0.5 = none.
            sub = 1.0 / (1.0 + math.exp(-contribution_of[name]))
        else:
            sub = None if points is None else float(points)
        evidence.append(
            {
                "name": name,
                "value": None if value is None else float(value),
                "threshold": float(cut["threshold"]),
                "higher_is_similar": higher,
                "points_to": None if points is None else ("similar" if points else "different"),
                "weight": float(weight_of.get(name, 0.0)),
                "contribution": float(contribution_of[name]) if used else None,
                "sub_score": sub,
                "used_in_call": used,
                "youden_j": cut.get("youden_j"),
                "description": DESCRIPTIONS[name],
            }
        )
    loso_share = model["loso_right"] / max(model["loso_total"], 1)
    if loso_share < WEAK_MODEL_BELOW and confidence != "low":
        confidence = "low"
        reason = (
            f"the model that could run ('{model['name']}', without the pixel signals) "
            f"was right on only {model['loso_right']} of {model['loso_total']} held-out "
            "calibration sets"
        )
    calibrated = backbone == spec["backbone"]
    note = (
        f"Logistic model '{model['name']}' fitted for {spec['backbone']} on "
        f"{len(model['fitted_on'])} real labelled sets (bench/calibrate_similarity.py); "
        f"leave-one-set-out it was right on {model['loso_right']} of {model['loso_total']}. "
        "Thresholds are each signal's best single cut on those sets; the call comes from "
        "the model."
        if calibrated
        else f"No model fitted for {backbone}: {spec['backbone']}'s is used, so the call "
        "is indicative only. Run bench/calibrate_similarity.py for it."
    )
    note_code = (
        message(
            "similarity_calibrated",
            model=model["name"],
            backbone=spec["backbone"],
            n_sets=len(model["fitted_on"]),
            loso_right=model["loso_right"],
            loso_total=model["loso_total"],
        )
        if calibrated
        else message("similarity_uncalibrated", backbone=backbone, model_backbone=spec["backbone"])
    )
    return {
        "call": call,
        "score": float(p),
        "confidence": confidence,
        "confidence_reason": reason,
        "evidence": evidence,
        "model": {
            "name": model["name"],
            "inputs": list(model["inputs"]),
            "intercept": float(model["intercept"]),
            "loso_right": int(model["loso_right"]),
            "loso_total": int(model["loso_total"]),
            "fitted_on": list(model["fitted_on"]),
            "borderline_band": BORDERLINE_BAND,
        },
        "neighbours": neighbours,
        "backbone": backbone,
        "calibrated": bool(calibrated),
        "thresholds_note": note,
        "thresholds_note_code": note_code,
        "n_images": n_images,
        "n_classes": int(np.unique(np.asarray(labels)).size) if labels is not None else None,
        "n_pixel_images": int(cast(int, pixel_stats["n_pixel_images"]))
        if pixel_stats is not None and "n_pixel_images" in pixel_stats
        else None,
    }
