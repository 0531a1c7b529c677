"""The plain reference: what an engineer would write in the simplest obvious way.

Unzip -> walk the class folders -> PIL open -> resize to 224 -> timm model (the same
bundled weights) one image at a time -> scikit-learn logistic regression -> accuracy.
No batching, no caching, no threads; it is the yardstick every benchmark figure is
divided by. On a GPU machine the obvious script moves the model and each image to
the GPU and nothing more.
"""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression

from engines.backbones import create_backbone

IMAGE_ENDINGS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def reference_profile(source: Path, work_dir: Path) -> dict[str, object]:
    """Unzip (if a zip), list ``class/image`` files and open each to read its size.

    Args:
        source: A zip file or folder of class folders.
        work_dir: Where a zip is extracted.

    Returns:
        ``root`` (the folder read), ``items`` [(path, class name)], ``class_counts``,
        ``sizes`` [(width, height)] and ``seconds``.

    """
    start = time.perf_counter()
    source = Path(source)
    if source.suffix.lower() == ".zip":
        with zipfile.ZipFile(source) as zf:
            zf.extractall(work_dir)
        root = Path(work_dir)
    else:
        root = source
    items, sizes, counts = [], [], {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in IMAGE_ENDINGS:
            continue
        img = Image.open(path).convert("RGB")
        sizes.append(img.size)
        label = path.parent.name
        counts[label] = counts.get(label, 0) + 1
        items.append((path, label))
    return {
        "root": root,
        "items": items,
        "class_counts": counts,
        "sizes": sizes,
        "seconds": time.perf_counter() - start,
    }


def reference_image(path: Path) -> torch.Tensor:
    """PIL open -> RGB -> resize to 224 x 224 -> float tensor in [-1, 1], CHW."""
    img = Image.open(path).convert("RGB").resize((224, 224))
    x = torch.tensor(np.array(img), dtype=torch.float32).permute(2, 0, 1) / 255.0
    return (x - 0.5) / 0.5


def reference_linear_probe(
    train: list[tuple[Path, int]],
    val: list[tuple[Path, int]],
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Run the plain pipeline and return its accuracy and timings.

    Args:
        train: (image, label) pairs to fit on.
        val: (image, label) pairs to score.
        device: Where the model runs ("cpu" or "cuda").

    Returns:
        ``accuracy``, ``n_correct``, ``n_val``, ``seconds_total`` (model load included),
        ``seconds_load``, ``seconds_features``, ``seconds_fit`` and
        ``images_per_second`` (of the feature pass).

    """
    start = time.perf_counter()
    model = create_backbone("efficientnet_lite0")
    model.reset_classifier(0)
    model.eval()
    model.to(device)
    load_seconds = time.perf_counter() - start

    def embed(items: list[tuple[Path, int]]) -> np.ndarray:
        feats = []
        for path, _ in items:
            x = reference_image(path).to(device)
            with torch.no_grad():
                feats.append(model(x.unsqueeze(0))[0].cpu().numpy())
        return np.stack(feats)

    t_feat = time.perf_counter()
    x_train, x_val = embed(train), embed(val)
    feat_seconds = time.perf_counter() - t_feat
    t_fit = time.perf_counter()
    clf = LogisticRegression(max_iter=1000)
    clf.fit(x_train, [y for _, y in train])
    predictions = clf.predict(x_val)
    n_correct = int(np.sum(predictions == np.asarray([y for _, y in val])))
    fit_seconds = time.perf_counter() - t_fit
    total = time.perf_counter() - start
    n = len(train) + len(val)
    return {
        "accuracy": n_correct / len(val),
        "n_correct": n_correct,
        "n_val": len(val),
        "seconds_total": total,
        "seconds_load": load_seconds,
        "seconds_features": feat_seconds,
        "seconds_fit": fit_seconds,
        "images_per_second": n / feat_seconds,
    }
