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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engines.linear_probe import kfold_predict
from engines.metrics import wilson_interval

PAD_LEVELS = ({"below": 0.5, "level": "small"}, {"below": 1.5, "level": "moderate"})
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
