"""Suspected label errors by confident learning on cross-validated probabilities.

Method: C. G. Northcutt, L. Jiang, I. L. Chuang, "Confident Learning: Estimating
Uncertainty in Dataset Labels", Journal of Artificial Intelligence Research 70,
1373-1411 (2021), doi:10.1613/jair.1.12125.

1. Out-of-fold predicted probabilities: a logistic regression on the backbone's
   embeddings (L2-normalised, reduced to at most 64 principal components, then
   standardised), fitted in stratified k-fold cross-validation (k = 5, fewer when a class
   is smaller), so that no image is judged by a model that saw its label.
2. Per-class thresholds t_j: the mean probability of class j over images labelled j.
3. The confident joint C[i][j]: images labelled i whose probability for j reaches t_j
   (the largest such j when several do), calibrated to the label counts and
   normalised to the joint Q (the paper's eq. 2-3).
4. Prune by noise rate (the paper's method "PBNR", the default of its reference
   implementation): for each pair i != j, the n * Q[i][j] images labelled i with the
   largest margin p_j - p_i are flagged; images the model itself predicts as their
   given label are never flagged.

Issues are ranked by self-confidence (the probability of the given label, lowest
first). With only a few images per class the model is weak and the flags are hints,
which the report says.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

MAX_FOLDS = 5
MAX_COMPONENTS = 64
MIN_PER_CLASS = 2


@dataclass
class LabelIssue:
    """One image whose label looks wrong."""

    index: int
    given_label: str
    suggested_label: str
    self_confidence: float
    suggested_confidence: float

    def to_dict(self) -> dict[str, Any]:
        """Return the issue as JSON-ready data."""
        return asdict(self)


@dataclass
class LabelIssueResult:
    """What the label check found, and on what it ran.

    Attributes:
        issues: Suspected label errors, lowest self-confidence first.
        n_evaluated: Images that took part (labelled, in a class with at least two).
        classes: Classes that took part, in the order of the probability columns.
        excluded_classes: Classes left out (fewer than two images).
        n_folds: Cross-validation folds used.
        estimated_noise_rate: Share of labels the confident joint estimates wrong
            (sum of the off-diagonal of Q).
        per_class_flagged: Issues per given label.
        oof_accuracy: Accuracy of the out-of-fold predictions (how informative the
            embeddings are; below about 0.6 the flags are weak).
        skipped_reason: Why the check did not run, or None.
        method: Short name of the method, with its reference.

    """

    issues: list[LabelIssue] = field(default_factory=list)
    n_evaluated: int = 0
    classes: list[str] = field(default_factory=list)
    excluded_classes: list[str] = field(default_factory=list)
    n_folds: int = 0
    estimated_noise_rate: float | None = None
    per_class_flagged: dict[str, int] = field(default_factory=dict)
    oof_accuracy: float | None = None
    skipped_reason: str | None = None
    method: str = (
        "confident learning, prune by noise rate, on cross-validated logistic "
        "regression (Northcutt, Jiang, Chuang, JAIR 2021)"
    )

    @property
    def indices(self) -> list[int]:
        """Indices of the flagged images."""
        return [i.index for i in self.issues]

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data."""
        data = asdict(self)
        data["indices"] = self.indices
        return data


def out_of_fold_probabilities(
    features: np.ndarray, y: np.ndarray, n_folds: int, seed: int = 0
) -> np.ndarray:
    """Predicted class probabilities for each row from a model that never saw it.

    Args:
        features: Embeddings (n x d).
        y: Integer class of each row, 0..K-1, every class with at least ``n_folds`` rows.
        n_folds: Folds of the stratified cross-validation.
        seed: Seed of the fold assignment.

    Returns:
        An n x K array of probabilities.

    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(features, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    n_classes = int(y.max()) + 1
    probs = np.zeros((len(y), n_classes), dtype=np.float64)
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in folds.split(x, y):
        n_comp = int(min(MAX_COMPONENTS, x.shape[1], len(train_idx) - 1))
        steps: list[Any] = []
        if n_comp < x.shape[1]:
            steps.append(PCA(n_components=n_comp, random_state=seed))
        steps += [StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)]
        model = make_pipeline(*steps)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on tiny folds
            model.fit(x[train_idx], y[train_idx])
            p = model.predict_proba(x[test_idx])
        cols = model.classes_.astype(int)
        probs[np.ix_(test_idx, cols)] = p
    return probs


def confident_learning_issues(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Flag likely label errors from out-of-fold probabilities (prune by noise rate).

    Args:
        probs: n x K out-of-fold probabilities.
        y: Given class of each row (0..K-1).

    Returns:
        A boolean mask of flagged rows and the estimated share of wrong labels.

    """
    n, k = probs.shape
    counts = np.bincount(y, minlength=k).astype(np.float64)
    thresholds = np.array([probs[y == j, j].mean() if counts[j] else 1.0 for j in range(k)])
    above = probs >= thresholds[None, :] - 1e-12
    masked = np.where(above, probs, -np.inf)
    has_any = above.any(axis=1)
    true_guess = masked.argmax(axis=1)
    joint = np.zeros((k, k), dtype=np.float64)
    np.add.at(joint, (y[has_any], true_guess[has_any]), 1.0)
    # Calibrate rows to the label counts, then normalise to a joint distribution.
    row_sums = joint.sum(axis=1, keepdims=True)
    calibrated = np.divide(joint, row_sums, out=np.zeros_like(joint), where=row_sums > 0)
    calibrated *= counts[:, None]
    q = calibrated / max(calibrated.sum(), 1e-12)
    noise_rate = float(q.sum() - np.trace(q))
    flagged = np.zeros(n, dtype=bool)
    for i in range(k):
        rows = np.flatnonzero(y == i)
        if rows.size == 0:
            continue
        for j in range(k):
            if i == j:
                continue
            num = int(round(n * q[i, j]))
            if num <= 0:
                continue
            margin = probs[rows, j] - probs[rows, i]
            order = rows[np.argsort(-margin, kind="stable")]
            flagged[order[:num]] = True
    flagged &= probs.argmax(axis=1) != y
    return flagged, noise_rate


def find_label_issues(
    features: np.ndarray,
    labels: Sequence[str | None],
    seed: int = 0,
    n_folds: int = MAX_FOLDS,
) -> LabelIssueResult:
    """Find images whose given label disagrees confidently with what the data says.

    Confident learning (Northcutt, Jiang, Chuang, JAIR 2021) on out-of-fold
    probabilities of a logistic regression over the embeddings; see the module
    docstring for the steps.

    Args:
        features: Embeddings from a pretrained backbone, one row per image
            (float32, n x d).
        labels: The given label of each row; None rows and classes with fewer than
            two images take no part.
        seed: Seed of the folds and the PCA; the same seed gives the same result.
        n_folds: Most folds (fewer when the smallest class is smaller).

    Returns:
        The issues and the figures behind them; ``skipped_reason`` says why nothing
        ran (fewer than two classes, too few images).

    Raises:
        ValueError: Features not 2-D, non-finite, or not one row per label.

    """
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"features must be a 2-D array (n x d); got shape {x.shape}.")
    if len(labels) != x.shape[0]:
        raise ValueError(
            f"Got {len(labels)} labels for {x.shape[0]} feature rows; pass one label per row."
        )
    if not np.isfinite(x).all():
        raise ValueError("features contain NaN or infinite values; recompute them.")
    counts = Counter(lab for lab in labels if lab is not None)
    kept = sorted(c for c, n in counts.items() if n >= MIN_PER_CLASS)
    excluded = sorted(c for c, n in counts.items() if n < MIN_PER_CLASS)
    result = LabelIssueResult(classes=kept, excluded_classes=excluded)
    if len(kept) < 2:
        result.skipped_reason = "needs at least two classes with two or more images each"
        return result
    idx = np.asarray([i for i, lab in enumerate(labels) if lab in set(kept)], dtype=int)
    class_of = {c: j for j, c in enumerate(kept)}
    y = np.asarray([class_of[labels[i]] for i in idx], dtype=int)
    folds = int(min(n_folds, np.bincount(y).min()))
    if len(idx) < 2 * len(kept) or folds < 2:
        result.skipped_reason = "too few images per class for cross-validation"
        return result
    probs = out_of_fold_probabilities(x[idx], y, folds, seed)
    flagged, noise = confident_learning_issues(probs, y)
    result.n_evaluated = int(len(idx))
    result.n_folds = folds
    result.estimated_noise_rate = round(noise, 4)
    result.oof_accuracy = round(float((probs.argmax(axis=1) == y).mean()), 4)
    rows = np.flatnonzero(flagged)
    self_conf = probs[np.arange(len(y)), y]
    rows = rows[np.argsort(self_conf[rows], kind="stable")]
    per_class: Counter[str] = Counter()
    for r in rows.tolist():
        suggested = int(probs[r].argmax())
        result.issues.append(
            LabelIssue(
                index=int(idx[r]),
                given_label=kept[y[r]],
                suggested_label=kept[suggested],
                self_confidence=round(float(self_conf[r]), 4),
                suggested_confidence=round(float(probs[r, suggested]), 4),
            )
        )
        per_class[kept[y[r]]] += 1
    result.per_class_flagged = dict(sorted(per_class.items()))
    return result
