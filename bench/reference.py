"""The plain reference: what an engineer would write in the simplest obvious way.

PIL open -> resize to 224 -> timm model (the same bundled weights) one image at a time
-> scikit-learn logistic regression -> accuracy. No batching, no caching, no threads;
it is the yardstick every benchmark figure is divided by.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression

from engines.backbones import create_backbone


def reference_linear_probe(
    train: list[tuple[Path, int]], val: list[tuple[Path, int]]
) -> dict[str, float]:
    """Run the plain pipeline and return its accuracy and timings."""
    start = time.perf_counter()
    model = create_backbone("efficientnet_lite0")
    model.reset_classifier(0)
    model.eval()

    def embed(items: list[tuple[Path, int]]) -> np.ndarray:
        feats = []
        for path, _ in items:
            img = Image.open(path).convert("RGB").resize((224, 224))
            x = torch.tensor(np.array(img), dtype=torch.float32).permute(2, 0, 1) / 255.0
            x = (x - 0.5) / 0.5
            with torch.no_grad():
                feats.append(model(x.unsqueeze(0))[0].numpy())
        return np.stack(feats)

    t_feat = time.perf_counter()
    x_train, x_val = embed(train), embed(val)
    feat_seconds = time.perf_counter() - t_feat
    clf = LogisticRegression(max_iter=1000)
    clf.fit(x_train, [y for _, y in train])
    accuracy = float(clf.score(x_val, [y for _, y in val]))
    total = time.perf_counter() - start
    n = len(train) + len(val)
    return {
        "accuracy": accuracy,
        "seconds_total": total,
        "seconds_features": feat_seconds,
        "images_per_second": n / feat_seconds,
    }
