"""The validation run: evidence measured on the client's own sample.

This first version runs the cheapest informative experiment: a linear probe on frozen
features of a pretrained backbone, evaluated on a held-out split with a 95% interval.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engines.backbones import DEFAULT_BACKBONE, create_backbone, data_config
from engines.device import describe_device, resolve_device
from engines.features import extract_features
from engines.linear_probe import fit_linear_probe
from engines.metrics import classification_metrics
from engines.progress import (
    CancelToken,
    Deadline,
    Progress,
    ProgressCallback,
    ignore_progress,
)


@dataclass
class ValidationConfig:
    """Settings of one validation run, saved verbatim with its result.

    Attributes:
        backbone: Backbone name (bundled offline or any timm name online).
        device: "auto", "cpu", "cuda" or "mps".
        budget_seconds: Wall-clock budget for the whole validation.
        seed: Seed for splits, bootstraps and training.
        batch_size: Images per forward pass.
        cache_dir: Where features are cached (None: no cache).

    """

    backbone: str = DEFAULT_BACKBONE
    device: str = "auto"
    budget_seconds: float = 180.0
    seed: int = 0
    batch_size: int = 32
    cache_dir: Path | None = None
    strategies: tuple[str, ...] = field(default=("linear_probe",))

    def __post_init__(self) -> None:
        if self.budget_seconds <= 0:
            raise ValueError(
                f"The time budget must be positive, got {self.budget_seconds} seconds."
            )
        if self.batch_size < 1:
            raise ValueError(f"The batch size must be at least 1, got {self.batch_size}.")

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as JSON-ready data."""
        data = asdict(self)
        data["cache_dir"] = str(self.cache_dir) if self.cache_dir else None
        data["strategies"] = list(self.strategies)
        return data


@dataclass
class LabeledSplit:
    """Image paths with integer labels for training and held-out evaluation."""

    train_paths: Sequence[Path]
    train_labels: Sequence[int]
    val_paths: Sequence[Path]
    val_labels: Sequence[int]
    class_names: Sequence[str]


def run_validation(
    split: LabeledSplit,
    config: ValidationConfig,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Measure how well a pretrained backbone's frozen features separate the classes.

    Args:
        split: Training and held-out images with labels.
        config: Run settings.
        progress: Receives stage, fraction, ETA and the latest metric.
        cancel: Stops the run between batches when set.

    Returns:
        JSON-ready data: device, backbone, feature extraction figures and experiments.

    """
    deadline = Deadline(config.budget_seconds)
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    progress(Progress("load_backbone", 0.0, f"Loading {config.backbone}"))
    t0 = time.monotonic()
    model = create_backbone(config.backbone)
    model = model.to(device).to(memory_format=torch.channels_last)
    load_seconds = time.monotonic() - t0
    cfg = data_config(model)
    paths = list(split.train_paths) + list(split.val_paths)
    feats = extract_features(
        model,
        paths,
        cfg,
        device=device,
        model_key=config.backbone,
        cache_dir=config.cache_dir,
        batch_size=config.batch_size,
        progress=lambda p: progress(
            Progress(p.stage, 0.05 + 0.8 * p.fraction, p.message, p.eta_seconds)
        ),
        cancel=cancel,
    )
    n_train = len(split.train_paths)
    x_train, x_val = feats.features[:n_train], feats.features[n_train:]
    y_train = np.asarray(split.train_labels)
    y_val = np.asarray(split.val_labels)

    if cancel is not None:
        cancel.raise_if_cancelled()
    progress(Progress("linear_probe", 0.9, "Fitting the linear probe"))
    t1 = time.monotonic()
    probe = fit_linear_probe(x_train, y_train, seed=config.seed)
    proba = probe.predict_proba(x_val)
    metrics = classification_metrics(
        y_val, proba.argmax(axis=1), proba, class_names=list(split.class_names), seed=config.seed
    )
    probe_seconds = time.monotonic() - t1
    accuracy = metrics["accuracy"]
    progress(
        Progress(
            "done",
            1.0,
            f"Linear probe accuracy {accuracy['value']:.1%}",
            metric={"accuracy": accuracy["value"]},
        )
    )
    experiment = {
        "id": f"linear_probe:{config.backbone}",
        "strategy": "linear_probe",
        "backbone": config.backbone,
        "n_train": n_train,
        "n_val": len(split.val_paths),
        "metrics": metrics,
        "seconds": round(feats.seconds + probe_seconds, 3),
        "seconds_breakdown": {
            "features": round(feats.seconds, 3),
            "fit_and_evaluate": round(probe_seconds, 3),
        },
    }
    return {
        "device": describe_device(device),
        "backbone": {
            "name": config.backbone,
            "source": model.pretrained_cfg.get("source", "timm"),
            "data_config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
            "n_params": int(sum(p.numel() for p in model.parameters())),
            "load_seconds": round(load_seconds, 3),
        },
        "feature_extraction": {
            "n_images": len(paths),
            "seconds": round(feats.seconds, 3),
            "images_per_second": round(feats.images_per_second, 2),
            "from_cache": feats.cached,
        },
        "experiments": [experiment],
        "budget": {
            "seconds": config.budget_seconds,
            "used_seconds": round(deadline.elapsed, 3),
        },
    }
