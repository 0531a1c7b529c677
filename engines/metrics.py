"""Classification metrics with 95% intervals, as plain JSON-ready data.

Which interval for which number (and why):

============================  ==========================================================
number                        interval
============================  ==========================================================
accuracy                      Wilson score interval (Wilson 1927). Accuracy is a
                              binomial proportion; Wilson stays sensible at 0 % / 100 %
                              and for tiny n, where a bootstrap collapses to a point.
balanced accuracy, macro F1   stratified percentile bootstrap (Efron & Tibshirani
                              1993): resample within each true class, so every class
                              keeps its support and balanced accuracy stays defined.
per-class precision / recall  Wilson score interval on the class's own counts.
sensitivity / specificity     exact Clopper–Pearson interval (Clopper & Pearson 1934).
ROC AUC (two classes)         DeLong et al. (1988) variance, fast midrank algorithm of
                              Sun & Xu (2014), normal interval clipped to [0, 1].
mean over repeated splits     corrected resampled t interval (Nadeau & Bengio 2003):
                              the naive t interval over overlapping splits is too narrow.
============================  ==========================================================

When the accuracy interval is wider than the consultant can decide on (half-width above
``max_half_width``, default ±0.10) the result says so, in English and Korean, with the
number of validation images that would narrow it enough.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from engines.results.base import message

DEFAULT_MAX_HALF_WIDTH = 0.10
_BOOT_CHUNK = 256  # bootstrap replicates per vectorised chunk (bounds memory)


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def _check_counts(k: int, n: int) -> None:
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"Need 0 <= k <= n, got k={k}, n={n}.")


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion k/n.

    E. B. Wilson (1927), "Probable inference, the law of succession, and statistical
    inference", JASA 22(158):209–212. Recommended over the Wald interval for small n
    and proportions near 0 or 1 (Brown, Cai & DasGupta 2001, Statistical Science).

    Args:
        k: Successes.
        n: Trials; ``n == 0`` gives the uninformative interval (0, 1).
        confidence: Two-sided confidence level.

    Returns:
        (low, high) as Python floats within [0, 1].

    Raises:
        ValueError: If the counts are inconsistent or the confidence is not in (0, 1).

    """
    _check_counts(int(k), int(n))
    z = _z(confidence)
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return float(low), float(high)


def clopper_pearson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) interval for a binomial proportion k/n.

    C. J. Clopper & E. S. Pearson (1934), "The use of confidence or fiducial limits
    illustrated in the case of the binomial", Biometrika 26(4):404–413. Conservative:
    its coverage is at least the nominal level.

    Args:
        k: Successes.
        n: Trials; ``n == 0`` gives (0, 1).
        confidence: Two-sided confidence level.

    Returns:
        (low, high) as Python floats.

    Raises:
        ValueError: If the counts are inconsistent or the confidence is not in (0, 1).

    """
    _check_counts(int(k), int(n))
    _z(confidence)
    if n == 0:
        return 0.0, 1.0
    alpha = 1.0 - confidence
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def repeated_split_interval(
    values: Sequence[float], n_train: int, n_val: int, confidence: float = 0.95
) -> dict[str, Any]:
    """Mean of a metric over repeated random splits, with a corrected t interval.

    C. Nadeau & Y. Bengio (2003), "Inference for the Generalization Error", Machine
    Learning 52:239–281. Repeated train/validation splits of one sample overlap, so the
    plain variance of the mean is too small; the corrected resampled t interval
    inflates it by ``(1/J + n_val/n_train)`` instead of ``1/J``.

    Args:
        values: The metric on each of J repeats.
        n_train: Training images per repeat.
        n_val: Validation images per repeat.
        confidence: Two-sided confidence level.

    Returns:
        ``{"value", "ci_low", "ci_high", "std", "n_repeats", "method"}``; with a single
        repeat the interval is ``None``.

    Raises:
        ValueError: If there are no values or the sizes are not positive.

    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size == 0:
        raise ValueError("values must be a non-empty 1-D sequence.")
    if n_train <= 0 or n_val <= 0:
        raise ValueError("n_train and n_val must be positive.")
    _z(confidence)
    j = v.size
    mean = float(v.mean())
    out: dict[str, Any] = {
        "value": mean,
        "ci_low": None,
        "ci_high": None,
        "std": float(v.std(ddof=1)) if j > 1 else 0.0,
        "n_repeats": int(j),
        "method": "corrected resampled t (Nadeau & Bengio 2003)",
    }
    if j > 1:
        var = float(v.var(ddof=1)) * (1.0 / j + n_val / n_train)
        half = float(stats.t.ppf(0.5 + confidence / 2, j - 1)) * math.sqrt(var)
        out["ci_low"] = max(0.0, mean - half)
        out["ci_high"] = min(1.0, mean + half)
    return out


# --------------------------------------------------------------------------- helpers


def _encode_labels(
    y_true: Any, y_pred: Any, class_names: Sequence[str] | None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    yt = np.asarray(y_true)
    yp = np.asarray(y_pred)
    if yt.ndim != 1 or yp.ndim != 1:
        raise ValueError("y_true and y_pred must be 1-D.")
    if yt.shape[0] != yp.shape[0]:
        raise ValueError(f"y_true has {yt.shape[0]} items but y_pred has {yp.shape[0]}.")
    if yt.shape[0] == 0:
        raise ValueError("No samples: y_true is empty.")
    if class_names is not None:
        names = [str(c) for c in class_names]
        k = len(names)
        if k < 2:
            raise ValueError("class_names must name at least two classes.")
        if yt.dtype.kind in "iu" and yp.dtype.kind in "iu":
            ti, pi = yt.astype(np.int64), yp.astype(np.int64)
        else:
            index = {n: i for i, n in enumerate(names)}
            try:
                ti = np.array([index[str(v)] for v in yt], dtype=np.int64)
                pi = np.array([index[str(v)] for v in yp], dtype=np.int64)
            except KeyError as err:
                raise ValueError(f"Label {err.args[0]!r} is not in class_names.") from None
        bad = (ti < 0) | (ti >= k) | (pi < 0) | (pi >= k)
        if bad.any():
            raise ValueError(f"Integer labels must lie in [0, {k}) to index class_names.")
        return ti, pi, names
    classes, inverse = np.unique(np.concatenate([yt, yp]), return_inverse=True)
    n = yt.shape[0]
    return inverse[:n].astype(np.int64), inverse[n:].astype(np.int64), [str(c) for c in classes]


def _confusion(ti: np.ndarray, pi: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(ti * k + pi, minlength=k * k).reshape(k, k)


def _scores_from_confusion(cm: np.ndarray, true_mask: np.ndarray, f1_mask: np.ndarray):
    """Accuracy, balanced accuracy and macro F1 from (..., K, K) confusion matrices."""
    diag = np.diagonal(cm, axis1=-2, axis2=-1).astype(float)
    rows = cm.sum(axis=-1).astype(float)
    cols = cm.sum(axis=-2).astype(float)
    total = rows.sum(axis=-1)
    acc = diag.sum(axis=-1) / total
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(rows > 0, diag / rows, 0.0)
        precision = np.where(cols > 0, diag / cols, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    bal = recall[..., true_mask].mean(axis=-1)
    macro_f1 = f1[..., f1_mask].mean(axis=-1)
    return acc, bal, macro_f1


def _stratified_boot_cms(
    ti: np.ndarray, pi: np.ndarray, k: int, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Confusion matrices of ``n_boot`` stratified bootstrap resamples, (n_boot, K, K)."""
    groups = [np.flatnonzero(ti == c) for c in range(k)]
    groups = [g for g in groups if g.size]
    out = np.empty((n_boot, k, k), dtype=np.int64)
    for start in range(0, n_boot, _BOOT_CHUNK):
        b = min(_BOOT_CHUNK, n_boot - start)
        idx = np.concatenate([g[rng.integers(0, g.size, size=(b, g.size))] for g in groups], axis=1)
        codes = ti[idx] * k + pi[idx] + (np.arange(b)[:, None] * k * k)
        out[start : start + b] = np.bincount(codes.ravel(), minlength=b * k * k).reshape(b, k, k)
    return out


def _percentile_ci(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _midrank(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    n = x.size
    ranks = np.empty(n, dtype=float)
    i = 0
    while i < n:
        j = i
        while j < n and xs[j] == xs[i]:
            j += 1
        ranks[i:j] = 0.5 * (i + j - 1) + 1
        i = j
    out = np.empty(n, dtype=float)
    out[order] = ranks
    return out


def delong_auc(y_true: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """ROC AUC and its DeLong variance for binary labels (1 = positive).

    E. R. DeLong, D. M. DeLong & D. L. Clarke-Pearson (1988), "Comparing the areas under
    two or more correlated receiver operating characteristic curves: a nonparametric
    approach", Biometrics 44(3):837–845; computed with the midrank algorithm of X. Sun &
    W. Xu (2014), "Fast implementation of DeLong's algorithm…", IEEE SPL 21(11).

    Args:
        y_true: 0/1 labels, both present.
        score: Higher means more likely positive.

    Returns:
        (auc, variance) as Python floats.

    Raises:
        ValueError: If a class is missing or the shapes differ.

    """
    y = np.asarray(y_true).astype(int)
    s = np.asarray(score, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError("y_true and score must be 1-D of the same length.")
    pos, neg = s[y == 1], s[y == 0]
    m, n = pos.size, neg.size
    if m == 0 or n == 0:
        raise ValueError("ROC AUC needs both classes in y_true.")
    tx, ty = _midrank(pos), _midrank(neg)
    tz = _midrank(np.concatenate([pos, neg]))
    auc = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
    v01 = (tz[:m] - tx) / n
    v10 = 1.0 - (tz[m:] - ty) / m
    sx = float(np.var(v01, ddof=1)) if m > 1 else 0.0
    sy = float(np.var(v10, ddof=1)) if n > 1 else 0.0
    return float(auc), sx / m + sy / n


def _interval(value: float, low: float, high: float, method: str) -> dict[str, Any]:
    return {"value": float(value), "ci_low": float(low), "ci_high": float(high), "method": method}


def _interval_warning(
    acc: float, low: float, high: float, max_half_width: float, n_needed: int, confidence: float
) -> tuple[str, dict[str, Any]]:
    """The too-wide-interval warning: English text and its code for the locale files."""
    half = (high - low) / 2
    pct = f"{confidence:.0%}"
    en = (
        f"The {pct} interval for accuracy is {low:.2f}–{high:.2f} (±{half:.2f}), wider than "
        f"±{max_half_width:.2f}: too wide to decide on this validation set. About "
        f"{n_needed} validation images would narrow it to ±{max_half_width:.2f}."
    )
    code = message(
        "interval_too_wide",
        confidence=float(confidence),
        low=float(low),
        high=float(high),
        half=float(half),
        max_half_width=float(max_half_width),
        n_needed=int(n_needed),
    )
    return en, code


def images_for_half_width(p: float, half_width: float, confidence: float = 0.95) -> int:
    """Return the validation images needed for an interval of the given half-width.

    Normal approximation ``n = z² p (1 - p) / h²`` with p kept in [0.05, 0.95] so a
    perfect score on a tiny set does not promise a tiny requirement.

    Args:
        p: Expected accuracy.
        half_width: Desired half-width of the interval.
        confidence: Two-sided confidence level.

    Returns:
        Number of images (at least 1).

    Raises:
        ValueError: If the half-width is not positive.

    """
    if half_width <= 0:
        raise ValueError("half_width must be positive.")
    z = _z(confidence)
    q = min(max(p, 0.05), 0.95)
    return max(1, math.ceil(z * z * q * (1 - q) / (half_width * half_width)))


# ----------------------------------------------------------------------------- main


def classification_metrics(
    y_true: Any,
    y_pred: Any,
    proba: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    max_half_width: float = DEFAULT_MAX_HALF_WIDTH,
) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro F1 and per-class scores, with intervals.

    Classes are ``class_names`` when given (integer labels index it; other labels must
    be among its names), else the sorted union of ``y_true`` and ``y_pred``. A class
    that is never predicted has precision 0 (``n_predicted`` says so). Balanced accuracy
    averages recall over the classes present in ``y_true``; macro F1 averages F1 over
    the classes present in ``y_true`` or ``y_pred`` (as scikit-learn does).

    With exactly two classes the second (index 1) is the positive one: sensitivity is
    its recall, specificity the first class's recall, and ``proba`` (shape (n, 2) or
    (n,) = positive-class score) gives the ROC AUC.

    Args:
        y_true: True labels, 1-D.
        y_pred: Predicted labels, 1-D, same length.
        proba: Optional class probabilities, (n, K) in class order (or (n,) for K = 2).
        class_names: Optional ordered class names.
        n_boot: Bootstrap replicates for balanced accuracy and macro F1.
        seed: Seed of the bootstrap; same seed, same numbers.
        confidence: Two-sided confidence level of every interval.
        max_half_width: Accuracy half-width above which the set is too small to decide.

    Returns:
        JSON-ready dict: ``n``, ``n_classes``, ``classes``, ``confidence``,
        ``accuracy`` / ``balanced_accuracy`` / ``macro_f1`` as
        ``{value, ci_low, ci_high, method}``, ``chance`` (``majority_rate``,
        ``uniform``), ``better_than_chance``, ``per_class`` (list of
        ``{name, precision, precision_ci, recall, recall_ci, f1, support,
        n_predicted}``), ``confusion_matrix`` (rows = true, columns = predicted),
        for two classes ``sensitivity``, ``specificity`` and (with proba) ``roc_auc``,
        and ``interval_too_wide``, ``images_for_max_half_width``, ``warning``
        and its ``warning_code`` (None when the interval is narrow enough).

    Raises:
        ValueError: On mismatched lengths, fewer than two classes in ``y_true``,
            unknown labels, a ``proba`` of the wrong shape, or bad parameters.

    """
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1.")
    if max_half_width <= 0:
        raise ValueError("max_half_width must be positive.")
    z = _z(confidence)
    ti, pi, names = _encode_labels(y_true, y_pred, class_names)
    k = len(names)
    n = int(ti.size)
    support = np.bincount(ti, minlength=k)
    present = support > 0
    if present.sum() < 2:
        only = names[int(np.flatnonzero(present)[0])]
        raise ValueError(
            f"y_true holds a single class ({only!r}): accuracy and its interval say "
            "nothing about a classifier. Validate on at least two classes."
        )
    cm = _confusion(ti, pi, k)
    n_predicted = cm.sum(axis=0)
    f1_mask = present | (n_predicted > 0)
    acc, bal, mf1 = (float(x) for x in _scores_from_confusion(cm, present, f1_mask))

    rng = np.random.default_rng(seed)
    boot = _stratified_boot_cms(ti, pi, k, n_boot, rng)
    _, bal_b, mf1_b = _scores_from_confusion(boot, present, f1_mask)

    correct = int(np.trace(cm))
    acc_low, acc_high = wilson_interval(correct, n, confidence)
    boot_method = f"stratified percentile bootstrap ({n_boot} resamples)"
    result: dict[str, Any] = {
        "n": n,
        "n_classes": k,
        "classes": names,
        "confidence": float(confidence),
        "accuracy": _interval(acc, acc_low, acc_high, "wilson"),
        "balanced_accuracy": _interval(bal, *_percentile_ci(bal_b, confidence), boot_method),
        "macro_f1": _interval(mf1, *_percentile_ci(mf1_b, confidence), boot_method),
    }
    uniform = 1.0 / int(present.sum())
    result["chance"] = {"majority_rate": float(support.max() / n), "uniform": float(uniform)}
    result["better_than_chance"] = bool(result["balanced_accuracy"]["ci_low"] > uniform)

    per_class = []
    for c in range(k):
        tp = int(cm[c, c])
        n_pred = int(n_predicted[c])
        sup = int(support[c])
        prec = tp / n_pred if n_pred else 0.0
        rec = tp / sup if sup else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
        per_class.append(
            {
                "name": names[c],
                "precision": float(prec),
                "precision_ci": list(wilson_interval(tp, n_pred, confidence)),
                "recall": float(rec),
                "recall_ci": list(wilson_interval(tp, sup, confidence)),
                "f1": float(f1),
                "support": sup,
                "n_predicted": n_pred,
            }
        )
    result["per_class"] = per_class
    result["confusion_matrix"] = [[int(v) for v in row] for row in cm]

    if k == 2:
        tp, fn = int(cm[1, 1]), int(cm[1, 0])
        tn, fp = int(cm[0, 0]), int(cm[0, 1])
        result["positive_class"] = names[1]
        result["sensitivity"] = _interval(
            tp / (tp + fn), *clopper_pearson_interval(tp, tp + fn, confidence), "clopper-pearson"
        )
        result["specificity"] = _interval(
            tn / (tn + fp), *clopper_pearson_interval(tn, tn + fp, confidence), "clopper-pearson"
        )
    if proba is not None:
        p = np.asarray(proba, dtype=float)
        if p.shape[0] != n:
            raise ValueError(f"proba has {p.shape[0]} rows but there are {n} samples.")
        if not (p.ndim == 2 and p.shape[1] == k) and not (k == 2 and p.ndim == 1):
            raise ValueError(f"proba must have shape (n, {k}) (or (n,) for two classes).")
        if not np.all(np.isfinite(p)):
            raise ValueError("proba holds NaN or infinite values.")
        if k == 2:
            score = p if p.ndim == 1 else p[:, 1]
            auc, var = delong_auc((ti == 1).astype(int), score)
            half = z * math.sqrt(max(var, 0.0))
            result["roc_auc"] = _interval(auc, max(0.0, auc - half), min(1.0, auc + half), "delong")

    half_width = (acc_high - acc_low) / 2
    too_wide = half_width > max_half_width
    n_needed = images_for_half_width(acc, max_half_width, confidence)
    result["max_half_width"] = float(max_half_width)
    result["interval_too_wide"] = bool(too_wide)
    result["images_for_max_half_width"] = int(n_needed)
    result["warning"] = None
    result["warning_code"] = None
    if too_wide:
        result["warning"], result["warning_code"] = _interval_warning(
            acc, acc_low, acc_high, max_half_width, n_needed, confidence
        )
    return result
