"""Linear probe and k-NN on frozen features, plus repeated-split helpers for small sets.

The linear probe is multinomial logistic regression on standardised features with an
L2 penalty, minimised by L-BFGS (scipy) with an analytic gradient. Two measured choices:

* **Own L-BFGS, not scikit-learn.** On pooled EfficientNet-Lite0 features (n = 400,
  d = 1280, one BLAS thread) a fit took 12 / 70 / 76 / 118 ms for 2 / 6 / 10 / 20
  classes, against 8 / 92 / 99 / 244 ms for ``sklearn.linear_model.LogisticRegression``
  (lbfgs) on the same standardised data; the probabilities agree. The gain comes from
  fitting, when d > n, in the n-dimensional row space of the data (exact for an L2
  penalty: the optimum W lies in that space).
* **One BLAS thread during the fit** (``blas_threads=1``). With matrices this small,
  two OpenBLAS threads on a busy two-core machine were 2–10× slower (threads spin while
  the other core is taken), and one thread leaves a core to feature extraction.

Regularisation: ``C`` in scikit-learn's convention (objective ``½‖W‖² + C·Σ loss``),
default 0.1. On magnetic-tile defects (6 classes) and a 14-class non-photo task, with 48,
120 and 240 training images, accuracy was flat for C from 0.1 to 10 and fell below
C = 0.03; :func:`choose_C` runs a quick stratified CV when a caller wants to pick.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy.optimize import minimize
from scipy.special import softmax

from engines.metrics import repeated_split_interval

DEFAULT_C = 0.1


class ProbaModel(Protocol):
    """What a ``fit_fn`` returns: a model with ``classes_`` and ``predict_proba``."""

    classes_: np.ndarray

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, one column per entry of ``classes_``."""
        ...


FitFn = Callable[..., ProbaModel]
"""``fit_fn(X_train, y_train, seed=...) -> ProbaModel``."""


def _check_xy(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"Features must be 2-D (n, d), got shape {X.shape}.")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"Labels must be 1-D with {X.shape[0]} items, got shape {y.shape}.")
    if X.shape[0] == 0:
        raise ValueError("No samples.")
    if not np.all(np.isfinite(X)):
        raise ValueError("Features hold NaN or infinite values.")
    return X, y


@dataclass
class ProbeModel:
    """A fitted linear probe: standardisation followed by a softmax layer.

    Attributes:
        classes_: Column order of :meth:`predict_proba`: the ``classes`` given to the
            fit, else the distinct training labels (sorted).
        mean_: Per-feature mean of the training features.
        scale_: Per-feature standard deviation (1 where constant).
        coef_: Weights, shape (d, number of trained classes).
        intercept_: Biases, shape (number of trained classes,).
        C: Inverse regularisation strength used (scikit-learn's convention).
        n_iter: L-BFGS iterations.
        converged: Whether L-BFGS met its tolerance.
        trained_classes_: Classes present in the training labels.

    """

    classes_: np.ndarray
    mean_: np.ndarray
    scale_: np.ndarray
    coef_: np.ndarray
    intercept_: np.ndarray
    C: float
    n_iter: int
    converged: bool
    trained_classes_: np.ndarray

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Logits over :attr:`trained_classes_`, shape (n, number of trained classes)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"Expected features of shape (n, {self.mean_.shape[0]}).")
        return ((X - self.mean_) / self.scale_) @ self.coef_ + self.intercept_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, len(classes_)); 0 for untrained classes."""
        p = softmax(self.decision_function(X), axis=1)
        if self.trained_classes_.shape[0] == self.classes_.shape[0]:
            return p
        full = np.zeros((p.shape[0], self.classes_.shape[0]))
        full[:, np.searchsorted(self.classes_, self.trained_classes_)] = p
        return full

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable class label of each row."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _fit_softmax_lbfgs(
    Xs: np.ndarray, yi: np.ndarray, k: int, lam: float, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Minimise mean cross-entropy + lam/2 ||W||² over (W, b) with L-BFGS."""
    n, d = Xs.shape
    Y = np.zeros((n, k))
    Y[np.arange(n), yi] = 1.0
    nw = d * k

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        W = w[:nw].reshape(d, k)
        Z = Xs @ W
        Z += w[nw:]
        Z -= Z.max(axis=1, keepdims=True)
        E = np.exp(Z)
        s = E.sum(axis=1, keepdims=True)
        loss = (np.log(s).sum() - np.einsum("ij,ij->", Z, Y)) / n + 0.5 * lam * np.dot(
            w[:nw], w[:nw]
        )
        G = E / s
        G -= Y
        G /= n
        grad = np.empty_like(w)
        grad[:nw] = (Xs.T @ G + lam * W).ravel()
        grad[nw:] = G.sum(axis=0)
        return float(loss), grad

    res = minimize(
        objective,
        np.zeros(nw + k),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": tol, "maxcor": 20},
    )
    return res.x[:nw].reshape(d, k), res.x[nw:], int(res.nit), bool(res.success)


def _fit_standardised(
    Xs: np.ndarray, yi: np.ndarray, k: int, C: float, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    n, d = Xs.shape
    lam = 1.0 / (C * n)
    if d > n and k > 2:
        # The penalised optimum lies in the row space of Xs, so fit in coordinates of
        # that space and map back (exact): Xs Xs^T = U L U^T, Z = U L^½ = Xs V with
        # V = Xs^T U L^-½, and W = V A. Cheaper when d > n; for two classes the plain
        # fit converges in a few iterations and the eigendecomposition does not pay.
        evals, evecs = np.linalg.eigh(Xs @ Xs.T)
        keep = evals > 1e-10 * max(float(evals[-1]), 1e-300)
        root = np.sqrt(evals[keep])
        basis = (Xs.T @ evecs[:, keep]) / root
        coef_z, intercept, n_iter, ok = _fit_softmax_lbfgs(
            evecs[:, keep] * root, yi, k, lam, tol, max_iter
        )
        return basis @ coef_z, intercept, n_iter, ok
    return _fit_softmax_lbfgs(Xs, yi, k, lam, tol, max_iter)


def fit_linear_probe(
    X_train: np.ndarray,
    y_train: np.ndarray,
    seed: int = 0,
    C: float = DEFAULT_C,
    classes: Sequence[Any] | np.ndarray | None = None,
    tol: float = 1e-4,
    max_iter: int = 500,
    blas_threads: int | None = 1,
) -> ProbeModel:
    """Fit a multinomial logistic-regression probe on fixed features.

    Args:
        X_train: Features, shape (n, d).
        y_train: Labels, shape (n,), any sortable type; at least two distinct.
        seed: Accepted for the ``fit_fn`` signature; the fit is deterministic.
        C: Inverse L2 strength, scikit-learn's convention (see the module docstring).
        classes: Every class the caller expects. :meth:`ProbeModel.predict_proba` then
            has one column per class, in sorted order, 0 for classes absent from
            ``y_train`` (so ``argmax`` indexes ``classes`` even when a small training
            subset misses one).
        tol: Gradient tolerance of L-BFGS.
        max_iter: Iteration cap of L-BFGS.
        blas_threads: BLAS threads during the fit (None leaves the setting alone).

    Returns:
        The fitted :class:`ProbeModel`.

    Raises:
        ValueError: On bad shapes, non-finite features, fewer than two classes, a
            non-positive C, or labels outside ``classes``.

    """
    del seed  # deterministic
    X, y = _check_xy(X_train, y_train)
    if not C > 0:
        raise ValueError(f"C must be positive, got {C}.")
    seen, yi = np.unique(y, return_inverse=True)
    if seen.size < 2:
        raise ValueError(
            f"The training labels hold a single class ({seen[0]!r}); a probe needs two or more."
        )
    all_classes = seen
    if classes is not None:
        all_classes = np.unique(np.asarray(classes))
        if not np.all(np.isin(seen, all_classes)):
            raise ValueError("y_train holds labels that are not in classes.")
    X = X.astype(np.float64)
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale = np.where(scale > 1e-8 * max(1.0, float(scale.max())), scale, 1.0)
    Xs = (X - mean) / scale
    k = int(seen.size)
    if blas_threads is None:
        coef, intercept, n_iter, ok = _fit_standardised(Xs, yi, k, C, tol, max_iter)
    else:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=blas_threads, user_api="blas"):
            coef, intercept, n_iter, ok = _fit_standardised(Xs, yi, k, C, tol, max_iter)
    return ProbeModel(all_classes, mean, scale, coef, intercept, float(C), n_iter, ok, seen)


# ------------------------------------------------------------------------------ k-NN


def knn_predict(
    X_train: np.ndarray, y_train: np.ndarray, X_query: np.ndarray, k: int = 5, center: bool = True
) -> np.ndarray:
    """Cosine k-nearest-neighbour majority vote (ties go to the larger summed similarity).

    Args:
        X_train: Reference features, (n, d).
        y_train: Reference labels, (n,).
        X_query: Features to label, (m, d).
        k: Neighbours (capped at n).
        center: Subtract the reference mean before the cosine (helps non-negative,
            post-ReLU features whose raw cosines all sit close to 1).

    Returns:
        Predicted labels, (m,).

    Raises:
        ValueError: On bad shapes or k < 1.

    """
    X, y = _check_xy(X_train, y_train)
    Q = np.asarray(X_query, dtype=np.float64)
    if Q.ndim != 2 or Q.shape[1] != X.shape[1]:
        raise ValueError(f"Query features must have shape (m, {X.shape[1]}).")
    if k < 1:
        raise ValueError("k must be at least 1.")
    X = X.astype(np.float64)
    if center:
        mu = X.mean(axis=0)
        X, Q = X - mu, Q - mu
    X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    Q = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12)
    k = min(k, X.shape[0])
    sims = Q @ X.T
    nn = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    classes, yi = np.unique(y, return_inverse=True)
    rows = np.repeat(np.arange(Q.shape[0]), k)
    cols = yi[nn].ravel()
    votes = np.zeros((Q.shape[0], classes.size))
    np.add.at(votes, (rows, cols), 1.0)
    weight = np.zeros_like(votes)
    np.add.at(weight, (rows, cols), np.take_along_axis(sims, nn, axis=1).ravel())
    # Similarities lie in [-1, 1], so k * 1e-3 < 1 vote: the weight only breaks ties.
    return classes[np.argmax(votes + 1e-3 * weight / k, axis=1)]


def knn_accuracy(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    k: int = 5,
    center: bool = True,
) -> float:
    """Accuracy of the cosine k-NN classifier of :func:`knn_predict` on a validation set.

    Args:
        X_train: Reference features.
        y_train: Reference labels.
        X_val: Validation features.
        y_val: Validation labels.
        k: Neighbours.
        center: See :func:`knn_predict`.

    Returns:
        Accuracy as a Python float.

    Raises:
        ValueError: On bad shapes.

    """
    y_val = np.asarray(y_val)
    pred = knn_predict(X_train, y_train, X_val, k=k, center=center)
    if y_val.shape != pred.shape:
        raise ValueError("y_val must have one label per validation row.")
    return float(np.mean(pred == y_val))


# ------------------------------------------------------------------- small-set helpers


def _stratified_folds(y: np.ndarray, n_splits: int, rng: np.random.Generator) -> np.ndarray:
    """Fold index of each sample, classes dealt round-robin after a shuffle."""
    fold = np.empty(y.shape[0], dtype=np.int64)
    offset = 0
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        fold[idx] = (np.arange(idx.size) + offset) % n_splits
        offset += idx.size
    return fold


def _stratified_holdout(
    y: np.ndarray, val_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    train, val = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_val = int(round(idx.size * val_fraction))
        n_val = min(max(n_val, 1), idx.size - 1) if idx.size >= 2 else 0
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


@dataclass
class OutOfFold:
    """Out-of-fold predictions of a k-fold run; every sample predicted once.

    Attributes:
        classes: Column order of ``proba`` (all classes of ``y``).
        proba: Probabilities, (n, K).
        pred: Predicted labels, (n,).
        fold: Fold in which each sample was held out, (n,).

    """

    classes: np.ndarray
    proba: np.ndarray
    pred: np.ndarray
    fold: np.ndarray


def kfold_predict(
    X: np.ndarray,
    y: np.ndarray,
    fit_fn: FitFn | None = None,
    n_splits: int = 5,
    seed: int = 0,
) -> OutOfFold:
    """Stratified k-fold out-of-fold predictions, for sets too small for one hold-out.

    Pass ``pred`` (and ``proba``) with ``y`` to :func:`engines.metrics.classification_metrics`:
    every image then counts once in the validation, so the interval is as narrow as the
    sample allows.

    Args:
        X: Features, (n, d).
        y: Labels, (n,). A class with fewer samples than folds is missing from some
            training folds; the probe then gives it probability 0 there.
        fit_fn: ``fit_fn(X_train, y_train, seed=..., classes=...)``; defaults to
            :func:`fit_linear_probe`.
        n_splits: Folds (at least 2).
        seed: Seed of the fold assignment.

    Returns:
        :class:`OutOfFold`.

    Raises:
        ValueError: On bad shapes, fewer than two classes, or n_splits < 2 or > n.

    """
    X, y = _check_xy(X, y)
    classes, counts = np.unique(y, return_counts=True)
    if classes.size < 2:
        raise ValueError("y holds a single class; k-fold validation needs two or more.")
    if not 2 <= n_splits <= y.shape[0]:
        raise ValueError(f"n_splits must be between 2 and {y.shape[0]}, got {n_splits}.")
    fit = fit_fn or fit_linear_probe
    fold = _stratified_folds(y, n_splits, np.random.default_rng(seed))
    proba = np.zeros((y.shape[0], classes.size))
    for f in range(n_splits):
        val = fold == f
        if not val.any():
            continue
        model = fit(X[~val], y[~val], seed=seed + f, classes=classes)
        proba[val] = model.predict_proba(X[val])
    pred = classes[proba.argmax(axis=1)]
    return OutOfFold(classes, proba, pred, fold)


def repeated_holdout(
    X: np.ndarray,
    y: np.ndarray,
    fit_fn: FitFn | None = None,
    n_repeats: int = 5,
    val_fraction: float = 0.25,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Repeated stratified hold-out: per-repeat metrics and a corrected interval.

    The mean over repeats comes with the corrected resampled t interval of Nadeau &
    Bengio (2003, Machine Learning 52:239–281), because the repeats share images.

    Args:
        X: Features, (n, d).
        y: Labels, (n,); every class needs at least two samples.
        fit_fn: ``fit_fn(X_train, y_train, seed=..., classes=...)``; defaults to
            :func:`fit_linear_probe`.
        n_repeats: Number of random splits.
        val_fraction: Share of each class held out per repeat.
        seed: Seed of the splits; same seed, same numbers.
        confidence: Level of the intervals.

    Returns:
        ``{"repeats": [{repeat, n_train, n_val, accuracy, balanced_accuracy}],
        "accuracy": {value, ci_low, ci_high, std, n_repeats, method},
        "balanced_accuracy": {...}, "n_repeats", "val_fraction", "seed"}``.

    Raises:
        ValueError: On bad shapes, a class with fewer than two samples, or bad
            parameters.

    """
    X, y = _check_xy(X, y)
    if n_repeats < 1:
        raise ValueError("n_repeats must be at least 1.")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError("val_fraction must be in (0, 1).")
    classes, counts = np.unique(y, return_counts=True)
    if classes.size < 2:
        raise ValueError("y holds a single class; validation needs two or more.")
    if counts.min() < 2:
        small = classes[counts.argmin()]
        raise ValueError(f"Class {small!r} has a single sample; hold-out needs two per class.")
    fit = fit_fn or fit_linear_probe
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_repeats):
        tr, va = _stratified_holdout(y, val_fraction, rng)
        model = fit(X[tr], y[tr], seed=seed + r, classes=classes)
        pred = np.asarray(model.classes_)[model.predict_proba(X[va]).argmax(axis=1)]
        recalls = [float(np.mean(pred[y[va] == c] == c)) for c in np.unique(y[va])]
        rows.append(
            {
                "repeat": r,
                "n_train": int(tr.size),
                "n_val": int(va.size),
                "accuracy": float(np.mean(pred == y[va])),
                "balanced_accuracy": float(np.mean(recalls)),
            }
        )
    n_train = int(np.mean([r["n_train"] for r in rows]))
    n_val = int(np.mean([r["n_val"] for r in rows]))
    return {
        "repeats": rows,
        "accuracy": repeated_split_interval(
            [r["accuracy"] for r in rows], n_train, n_val, confidence
        ),
        "balanced_accuracy": repeated_split_interval(
            [r["balanced_accuracy"] for r in rows], n_train, n_val, confidence
        ),
        "n_repeats": int(n_repeats),
        "val_fraction": float(val_fraction),
        "seed": int(seed),
    }


def choose_C(
    X: np.ndarray,
    y: np.ndarray,
    Cs: Sequence[float] = (0.01, 0.1, 1.0),
    n_splits: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Pick the probe's C by stratified k-fold accuracy (ties go to the smaller C).

    Args:
        X: Features, (n, d).
        y: Labels, (n,).
        Cs: Candidate values.
        n_splits: Folds.
        seed: Seed of the folds.

    Returns:
        ``{"C": best, "scores": {str(C): mean out-of-fold accuracy}}``.

    Raises:
        ValueError: On bad inputs (see :func:`kfold_predict`) or an empty ``Cs``.

    """
    if len(Cs) == 0:
        raise ValueError("Cs is empty.")
    scores = {}
    for C in Cs:
        oof = kfold_predict(
            X,
            y,
            fit_fn=lambda a, b, seed=0, classes=None, C=C: fit_linear_probe(
                a, b, seed=seed, C=C, classes=classes
            ),
            n_splits=n_splits,
            seed=seed,
        )
        scores[str(C)] = float(np.mean(oof.pred == np.asarray(y)))
    best = max(Cs, key=lambda c: (scores[str(c)], -c))
    return {"C": float(best), "scores": scores}
