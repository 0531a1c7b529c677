"""Crafted result documents for the report tests, built with the real engine functions.

The metrics, the learning curve and the recommendation come from the same functions the
pipeline uses (on synthetic predictions), so the shapes match real runs; only the
device-bound figures (latency, FLOPs) are written by hand.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from advisor.evidence import Evidence, StrategyResult
from advisor.intake import Intake
from advisor.recommend import recommend
from engines.health.messages import render
from engines.learning_curve import fit_learning_curve
from engines.metrics import classification_metrics
from engines.profile import DatasetProfile
from engines.results import message

IMBALANCE = {
    "ratio": 1.65,
    "largest": "normal",
    "largest_count": 61,
    "smallest": "scratch",
    "smallest_count": 37,
}

CLASSES = ["crack", "normal", "scratch"]
COUNTS = {"crack": 42, "normal": 61, "scratch": 37}


def predictions(n_per_class: int, accuracy: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions of a classifier that is right about ``accuracy`` of the time."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(CLASSES)), n_per_class)
    pred = y.copy()
    wrong = rng.choice(y.size, size=int(round((1 - accuracy) * y.size)), replace=False)
    pred[wrong] = (y[wrong] + 1 + rng.integers(0, len(CLASSES) - 1, wrong.size)) % len(CLASSES)
    return y, pred


def experiment(
    strategy: str,
    accuracy: float,
    n_per_class: int = 14,
    seed: int = 0,
    backbone: str = "efficientnet_lite0",
    device_seconds: float = 2.0,
) -> dict[str, Any]:
    y, pred = predictions(n_per_class, accuracy, seed)
    metrics = classification_metrics(y, pred, class_names=CLASSES, n_boot=200, seed=seed)
    exp: dict[str, Any] = {
        "id": f"{strategy}:{backbone}",
        "strategy": strategy,
        "backbone": backbone,
        "n_train": 98,
        "n_val": int(y.size),
        "seconds": 3.75 + seed,
        "metrics": metrics,
    }
    if strategy == "full_finetune":
        exp["epochs"] = 3
        exp["history"] = [
            {"epoch": i + 1, "train_loss": 1.0 / (i + 1), "seconds": device_seconds}
            for i in range(3)
        ]
    return exp


def learning_curve(target: float | None, scale: float = 1.0) -> dict[str, Any]:
    rng = np.random.default_rng(3)
    points = []
    for n in (12, 24, 49, 98):
        for r in range(1 if n == 98 else 3):
            acc = min(0.97, scale * (0.93 - 0.9 * n**-0.6) + rng.normal(0, 0.01))
            points.append(
                {"fraction": n / 98, "n": n, "repeat": r, "accuracy": acc, "balanced_accuracy": acc}
            )
    curve = {
        "points": points,
        "n_train": 98,
        "n_val": 42,
        "fractions": [0.125, 0.25, 0.5, 1],
        "repeats": 3,
        "seed": 0,
    }
    fitted = fit_learning_curve(curve, targets=[target] if target else [], n_boot=100)
    fitted["strategy"] = "linear_probe"
    fitted["note"] = "Linear probe on frozen features; read it as a floor."
    fitted["note_code"] = message("curve_linear_probe_floor")
    return fitted


def make_images(root: Path, paths: list[str]) -> None:
    for i, rel in enumerate(paths):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (48, 40), (40 * i % 255, 90, 160)).save(path)


def make_result(
    *,
    accuracies: dict[str, float] | None = None,
    target: float | None = 0.8,
    similarity: str = "different",
    red_flags: bool = True,
    device: str = "cpu",
    language: str = "en",
) -> dict[str, Any]:
    """A complete result document in the pipeline's shape."""
    accuracies = accuracies or {"linear_probe": 0.83, "partial_finetune": 0.9}
    exps = [
        experiment(s, a, seed=i, device_seconds=0.5) for i, (s, a) in enumerate(accuracies.items())
    ]
    best = max(exps, key=lambda e: e["metrics"]["accuracy"]["value"])
    n_images = sum(COUNTS.values()) if red_flags else 12000
    counts = COUNTS if red_flags else {k: 4000 for k in CLASSES}
    profile = DatasetProfile(n_images=n_images, n_classes=3, class_counts=dict(counts))
    profile.effective_n_images = n_images - 4
    profile.health = {
        "effective_n_images": n_images - 4,
        "amount_band": "very_few" if red_flags else "a_lot",
        "findings": [
            {
                "id": "class-imbalance",
                "severity": "warning",
                **render("class-imbalance", **IMBALANCE),
                "params": dict(IMBALANCE),
                "numbers": {},
                "examples": [],
            },
        ],
    }
    intake = Intake(
        target_value=target,
        language=language,
        goal="Find <b>cracks</b> on tiles",
        label_quality="clean" if not red_flags else "unknown",
    )
    evidence = Evidence(
        measured_similarity=similarity,
        similarity_score=0.31 if similarity == "different" else 0.77,
        strategies=[
            StrategyResult(
                e["strategy"],
                e["backbone"],
                e["metrics"]["accuracy"]["value"],
                e["metrics"]["accuracy"]["ci_low"],
                e["metrics"]["accuracy"]["ci_high"],
                e["seconds"],
            )
            for e in exps
        ],
    )
    prior = recommend(intake, profile)
    final = recommend(intake, profile, evidence)
    misclassified = [
        {
            "path": "val/crack/crack_003.png",
            "true": "crack",
            "predicted": "scratch",
            "confidence": 0.8123,
        },
        {
            "path": "val/scratch/scratch_011.png",
            "true": "scratch",
            "predicted": "normal",
            "confidence": 0.6431,
        },
        {
            "path": "gone/missing_001.png",
            "true": "normal",
            "predicted": "crack",
            "confidence": 0.5512,
        },
    ]
    validation = {
        "task": "classification",
        "device": {
            "type": device,
            "name": "cpu" if device == "cpu" else "NVIDIA H200",
            "threads": 2,
        },
        "backbone": {
            "name": "efficientnet_lite0",
            "n_params": 4652008,
            "flops_per_image": 770375104,
        },
        "feature_extraction": {
            "n_images": 140,
            "seconds": 3.049,
            "images_per_second": 45.9,
            "from_cache": 0,
        },
        "split": {
            "n_train": 98,
            "n_val": 42,
            "classes": CLASSES,
            "method": "stratified",
            "seed": 7,
        },
        "experiments": exps,
        "skipped": [
            {
                "strategy": "full_finetune",
                "reason": "needs about 240 s for 2 epochs (measured on these images) and "
                "35 s of the budget were left; give the validation more time "
                "to run it",
                "reason_code": message(
                    "finetune_skipped_budget", needed_s=240.0, epochs=2, left_s=35.0
                ),
            }
        ],
        "best_experiment": best["id"],
        "misclassified": misclassified,
        "similarity": {
            "call": similarity,
            "score": 0.31 if similarity == "different" else 0.77,
            "confidence": "medium",
            "backbone": "efficientnet_lite0",
            "evidence": [
                {
                    "name": "msp_median",
                    "value": 0.2117,
                    "threshold": 0.31,
                    "points_to": similarity,
                    "description": "MSP median",
                }
            ],
            "thresholds_note": "No model fitted for efficientnet_lite0: "
            "efficientnet_lite1's is used, so the call is "
            "indicative only. Run bench/calibrate_similarity.py "
            "for it.",
            "thresholds_note_code": message(
                "similarity_uncalibrated",
                backbone="efficientnet_lite0",
                model_backbone="efficientnet_lite1",
            ),
        },
        "learning_curve": learning_curve(target),
        "backbone_ranking": [
            {
                "backbone": "efficientnet_lite1",
                "rank": 1,
                "scores": {"logme": 1.094, "h_score": 2.119, "nleep": 0.0417},
                "linear_probe_accuracy": {
                    "value": 0.8571,
                    "ci_low": 0.7211,
                    "ci_high": 0.9329,
                    "method": "wilson",
                },
                "flops_per_image": 1200370464,
                "images_per_second": 18.47,
            },
            {
                "backbone": "efficientnet_lite0",
                "rank": 2,
                "scores": {"logme": 0.881, "h_score": 1.905, "nleep": 0.0213},
                "linear_probe_accuracy": {
                    "value": 0.8333,
                    "ci_low": 0.6941,
                    "ci_high": 0.9168,
                    "method": "wilson",
                },
                "flops_per_image": 770375104,
                "images_per_second": 26.23,
            },
        ],
        "finetuned_backbone": "efficientnet_lite1",
        "deployment": {
            "model": "efficientnet_lite1",
            "parameters": 5416680,
            "flops_per_image": 1200370464,
            "size_bytes": 21804355,
            "input_size": 240,
            "latency_cpu": {
                "median_ms": 61.337,
                "p90_ms": 70.118,
                "per_image_ms": 61.337,
                "batch_size": 1,
                "repeats": 5,
            },
            "alternatives": [
                {
                    "backbone": "efficientnet_lite1",
                    "flops_per_image": 1200370464,
                    "linear_probe_accuracy": {
                        "value": 0.8571,
                        "ci_low": 0.7211,
                        "ci_high": 0.9329,
                        "method": "wilson",
                    },
                },
                {
                    "backbone": "efficientnet_lite0",
                    "flops_per_image": 770375104,
                    "linear_probe_accuracy": {
                        "value": 0.8333,
                        "ci_low": 0.6941,
                        "ci_high": 0.9168,
                        "method": "wilson",
                    },
                },
            ],
        },
        "budget": {"seconds": 180.0, "used_seconds": 77.219},
        "warnings": [],
    }
    result: dict[str, Any] = {
        "schema_version": "1.1",
        "created_at": "2026-12-01T09:30:00+00:00",
        "source": "tiles<script>.zip",
        "profile": profile.to_dict(),
        "intake": intake.to_dict(),
        "recommendation": {"prior": prior.to_dict(), **final.to_dict()},
        "environment": {
            "device": validation["device"],
            "versions": {"python": "3.11.7", "torch": "2.14.1"},
            "platform": "Linux",
        },
        "config": {
            "backbone": "efficientnet_lite0",
            "seed": 7,
            "budget_seconds": 180.0,
            "target_accuracy": target,
            "cache_dir": None,
        },
        "timings": {"profile": 0.412, "validation": 77.3, "total": 78.1},
    }
    result["validation"] = validation
    return copy.deepcopy(result)


def make_unlabeled_result(kind: str = "unlabeled") -> dict[str, Any]:
    """A result of an input-only ("unlabeled") or two-collection ("unpaired") sample."""
    from engines.clustering import cluster_report
    from engines.domain_gap import proxy_a_distance

    rng = np.random.default_rng(5)
    feats = np.concatenate([rng.normal(0, 1, (20, 16)), rng.normal(4, 1, (20, 16))])
    result = make_result(target=None)
    validation: dict[str, Any] = {
        "task": kind,
        "device": {"type": "cpu", "name": "cpu", "threads": 2},
        "backbone": {"name": "efficientnet_lite0"},
        "experiments": [],
        "budget": {"seconds": 60.0, "used_seconds": 12.5},
    }
    if kind == "unlabeled":
        validation["clusters"] = cluster_report(feats, seed=0)
        validation["similarity"] = result["validation"]["similarity"]
        validation["warnings"] = ["No labels: accuracy cannot be measured on this sample."]
        validation["warning_codes"] = [message("no_labels")]
    else:
        gap = proxy_a_distance(feats[:20], feats[20:], seed=0)
        gap["collections"] = ["daylight", "night"]
        validation["domain_gap"] = gap
        validation["similarity"] = {
            "daylight": result["validation"]["similarity"],
            "night": {"call": None, "score": None, "reason": "too few images"},
        }
        validation["warnings"] = ["Unpaired data: no input-to-label accuracy."]
        validation["warning_codes"] = [message("unpaired_data")]
    result["validation"] = validation
    return result
