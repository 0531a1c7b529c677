"""The linear-probe experiment on cached features, and what it gets wrong."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engines.linear_probe import fit_linear_probe, kfold_predict, knn_accuracy
from engines.metrics import classification_metrics
from engines.validation.config import LabeledSplit

# Below this many held-out images one hold-out is too noisy to decide on its own:
# the k-fold estimate over the whole sample is added beside it.
SMALL_VALIDATION = 60


def misclassified_examples(
    split: LabeledSplit, proba: np.ndarray, limit: int = 24
) -> list[dict[str, Any]]:
    """Held-out images the model got wrong, most confident mistakes first.

    Args:
        split: The split whose held-out images ``proba`` scores, in order.
        proba: (n_val, n_classes) predicted probabilities.
        limit: Most examples to return.

    Returns:
        ``[{"path", "true", "predicted", "confidence"}]`` with paths relative to the
        upload root.

    """
    pred = proba.argmax(axis=1)
    truth = np.asarray(split.val_labels)
    wrong = np.flatnonzero(pred != truth)
    wrong = wrong[np.argsort(-proba[wrong, pred[wrong]], kind="stable")][:limit]
    names = list(split.class_names)
    return [
        {
            "path": split.display_path(split.val_paths[int(i)]),
            "true": names[int(truth[i])],
            "predicted": names[int(pred[i])],
            "confidence": round(float(proba[i, pred[i]]), 4),
        }
        for i in wrong
    ]


def linear_probe_experiment(
    x_train: np.ndarray,
    x_val: np.ndarray,
    split: LabeledSplit,
    backbone: str,
    seed: int,
    feature_seconds: float,
) -> tuple[dict[str, Any], np.ndarray]:
    """Fit a logistic-regression probe on frozen features and evaluate it.

    The linear probe of Kornblith, Shlens & Le (CVPR 2019, "Do Better ImageNet Models
    Transfer Better?"): the cheapest strategy, and a floor for the fine-tunes.

    Args:
        x_train: Training features.
        x_val: Held-out features.
        split: The split (labels, class names).
        backbone: Name of the backbone that made the features.
        seed: Seed of the bootstrap intervals.
        feature_seconds: Seconds the features took (counted in the experiment's time).

    Returns:
        The experiment record and the held-out probabilities.

    """
    y_train = np.asarray(split.train_labels)
    y_val = np.asarray(split.val_labels)
    classes = np.arange(len(split.class_names))
    t0 = time.monotonic()
    probe = fit_linear_probe(x_train, y_train, seed=seed, classes=classes)
    proba = probe.predict_proba(x_val)
    metrics = classification_metrics(
        y_val, proba.argmax(axis=1), proba, class_names=list(split.class_names), seed=seed
    )
    fit_seconds = time.monotonic() - t0
    knn = knn_accuracy(x_train, y_train, x_val, y_val, k=min(5, len(y_train)))
    experiment: dict[str, Any] = {
        "id": f"linear_probe:{backbone}",
        "strategy": "linear_probe",
        "backbone": backbone,
        "n_train": int(len(y_train)),
        "n_val": int(len(y_val)),
        "metrics": metrics,
        "knn_accuracy": round(knn, 4),
        "converged": bool(probe.converged),
        "seconds": round(feature_seconds + fit_seconds, 3),
        "seconds_breakdown": {
            "features": round(feature_seconds, 3),
            "fit_and_evaluate": round(fit_seconds, 3),
        },
    }
    if len(y_val) < SMALL_VALIDATION:
        experiment["kfold"] = kfold_metrics(
            np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val]), split, seed
        )
    return experiment, proba


def kfold_metrics(
    x: np.ndarray, y: np.ndarray, split: LabeledSplit, seed: int, n_splits: int = 5
) -> dict[str, Any] | None:
    """Out-of-fold metrics over the whole sample, for held-out sets too small alone.

    Args:
        x: Features of every labeled image.
        y: Their labels.
        split: The split (for class names).
        seed: Seed of the folds and bootstrap.
        n_splits: Folds, reduced to the smallest class count when that is smaller.

    Returns:
        ``{"n_splits", "metrics", "note"}``, or None when a class has fewer than two
        images.

    """
    smallest = int(np.bincount(y).min(initial=0)) if y.size else 0
    folds = min(n_splits, smallest)
    if folds < 2:
        return None
    oof = kfold_predict(x, y, n_splits=folds, seed=seed)
    metrics = classification_metrics(
        y, oof.pred, oof.proba, class_names=list(split.class_names), seed=seed
    )
    return {
        "n_splits": folds,
        "metrics": metrics,
        "note": "Linear probe, stratified k-fold over the whole sample: every image is "
        "predicted once by a probe that did not see it; near-duplicates may sit in "
        "different folds, so this can be optimistic where the health check found them.",
    }


def first_probe(
    features: np.ndarray,
    row_of: dict[Any, int],
    split: LabeledSplit,
    seed: int,
) -> dict[str, Any]:
    """The first evidence: held-out linear-probe accuracy with its 95% interval.

    Runs on features already computed (for the embedding health check), so it costs a
    fraction of a second and can be shown before anything else is measured.

    Args:
        features: Pooled features of the sample's images.
        row_of: Row of ``features`` for each image path of the split.
        split: A provisional split (the final one may move near-duplicates).
        seed: Seed of the bootstrap interval.

    Returns:
        ``{"value", "ci_low", "ci_high", "n_train", "n_val"}`` (accuracy).

    Raises:
        ValueError: A side of the split holds a single class.

    """
    x_train = features[[row_of[p] for p in split.train_paths]]
    x_val = features[[row_of[p] for p in split.val_paths]]
    y_train, y_val = np.asarray(split.train_labels), np.asarray(split.val_labels)
    probe = fit_linear_probe(x_train, y_train, seed=seed, classes=np.arange(len(split.class_names)))
    proba = probe.predict_proba(x_val)
    metrics = classification_metrics(
        y_val, proba.argmax(axis=1), proba, class_names=list(split.class_names), seed=seed
    )
    acc = metrics["accuracy"]
    return {
        "value": acc["value"],
        "ci_low": acc["ci_low"],
        "ci_high": acc["ci_high"],
        "n_train": int(len(y_train)),
        "n_val": int(len(y_val)),
    }
