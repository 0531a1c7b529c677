"""Calibrate the domain-similarity thresholds of ``engines.similarity`` on known data.

Run it once a backbone is available (offline: the bundled EfficientNet-Lite0):

    python bench/calibrate_similarity.py --backbone efficientnet_lite0 \
        --different-dir path/to/industrial/images --out out/similarity_calibration

What it does:

1. Builds two groups of "client samples" where the answer is known:
   *similar*  — augmented crops of the natural colour/grey photos scikit-image ships
   (astronaut, chelsea the cat, coffee, rocket, motorcycle, camera man, clock, coins),
   one sample per photo, plus any ``--similar-dir`` folders;
   *different* — scikit-image's non-photo images (microscopy, retina, Hubble deep
   field, document page, phantom, blobs, checkerboard) and generated textures (white
   noise, 1/f noise, oriented gratings, random rectangles), one sample per source,
   plus any ``--different-dir`` folders (each sub-folder of images is one sample).
2. Embeds every image with the backbone (timm's data config and a plain forward pass,
   so it needs nothing else from the project), keeping pooled features and the
   1000-class ImageNet logits.
3. Computes the sample-level signals with the same functions the app uses
   (:func:`engines.similarity.head_statistics`, :func:`engines.similarity.feature_statistics`)
   and the linear-probe vs k-NN gap on the labelled tasks it can form.
4. For each signal, picks the threshold that best separates the two groups (midpoint
   of the best cut, Youden's J) and a scale (pooled within-group spread), prints the
   table to paste into ``engines/similarity.py`` and writes ``calibration.json``
   (and the features, ``features.npz``) under ``--out``.

Known limits: natural-photo crops stand in for "close to ImageNet"; a real client
sample of products or animals is the better positive. The labelled-task gap uses few
tasks, so its threshold stays a judgement informed by these numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engines import similarity  # noqa: E402  (numpy-only; safe before torch)
from engines.linear_probe import fit_linear_probe, knn_accuracy  # noqa: E402

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
NATURAL = ["astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle", "camera", "clock",
           "coins"]
NON_PHOTO = ["immunohistochemistry", "retina", "hubble_deep_field", "cell", "page",
             "shepp_logan_phantom", "binary_blobs", "checkerboard", "microaneurysms", "text"]
GENERATED = ["white_noise", "pink_noise", "gratings", "rectangles"]


# ---------------------------------------------------------------------------- images


def _to_rgb_uint8(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    elif img.dtype.kind == "f":
        lo, hi = float(img.min()), float(img.max())
        img = ((img - lo) / (hi - lo + 1e-12) * 255).astype(np.uint8)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    if img.shape[-1] == 4:
        img = img[..., :3]
    return img.astype(np.uint8)


def _skimage_source(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    if isinstance(img, tuple):  # stereo_motorcycle returns (left, right, disparity)
        img = img[0]
    return _to_rgb_uint8(img)


def _generated_source(name: str, rng: np.random.Generator, size: int = 384) -> np.ndarray:
    if name == "white_noise":
        img = rng.integers(0, 256, size=(size, size, 3))
    elif name == "pink_noise":
        freq = np.fft.fftfreq(size)
        radius = np.sqrt(freq[:, None] ** 2 + freq[None, :] ** 2)
        radius[0, 0] = 1.0
        chans = []
        for _ in range(3):
            spec = (rng.normal(size=(size, size)) + 1j * rng.normal(size=(size, size))) / radius
            chans.append(np.real(np.fft.ifft2(spec)))
        img = np.stack(chans, axis=-1)
        img = (img - img.min()) / (img.max() - img.min()) * 255
    elif name == "gratings":
        yy, xx = np.mgrid[0:size, 0:size] / size
        theta = rng.uniform(0, np.pi)
        f = rng.uniform(4, 30)
        g = np.sin(2 * np.pi * f * (np.cos(theta) * xx + np.sin(theta) * yy))
        img = np.stack([g * rng.uniform(0.3, 1.0) for _ in range(3)], axis=-1)
        img = (img + 1) * 127.5
    elif name == "rectangles":
        img = np.full((size, size, 3), rng.integers(0, 256, 3), dtype=float)
        for _ in range(rng.integers(3, 12)):
            x0, y0 = rng.integers(0, size - 16, 2)
            w, h = rng.integers(16, size // 2, 2)
            img[y0 : y0 + h, x0 : x0 + w] = rng.integers(0, 256, 3)
    else:
        raise ValueError(f"Unknown generated source {name!r}.")
    return np.clip(img, 0, 255).astype(np.uint8)


def _augment(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random resized crop (30–100 % of the area), flip and mild brightness change."""
    h, w = img.shape[:2]
    area = rng.uniform(0.3, 1.0) * h * w
    ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    ch = int(min(h, round(np.sqrt(area / ratio))))
    cw = int(min(w, round(np.sqrt(area * ratio))))
    y0 = int(rng.integers(0, h - ch + 1))
    x0 = int(rng.integers(0, w - cw + 1))
    out = img[y0 : y0 + ch, x0 : x0 + cw]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    out = np.clip(out.astype(float) * rng.uniform(0.85, 1.15), 0, 255)
    return np.ascontiguousarray(out.astype(np.uint8))


def _folder_samples(root: Path) -> dict[str, list[Path]]:
    """Each sub-folder with images is one sample; a flat folder is one sample."""
    groups: dict[str, list[Path]] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_EXTS and path.is_file():
            groups.setdefault(f"{root.name}/{path.parent.relative_to(root)}", []).append(path)
    return groups


def build_samples(
    per_source: int, similar_dirs: list[Path], different_dirs: list[Path], seed: int
) -> list[dict[str, Any]]:
    """Return samples: {name, domain, images (list of uint8 arrays)}."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    samples = []
    for name in NATURAL:
        src = _skimage_source(name)
        imgs = [_augment(src, rng) for _ in range(per_source)]
        samples.append({"name": name, "domain": "similar", "images": imgs})
    for name in NON_PHOTO:
        src = _skimage_source(name)
        imgs = [_augment(src, rng) for _ in range(per_source)]
        samples.append({"name": name, "domain": "different", "images": imgs})
    for name in GENERATED:
        imgs = [_augment(_generated_source(name, rng), rng) for _ in range(per_source)]
        samples.append({"name": name, "domain": "different", "images": imgs})
    for domain, dirs in (("similar", similar_dirs), ("different", different_dirs)):
        for root in dirs:
            for name, paths in _folder_samples(root).items():
                chosen = [paths[i] for i in sorted(rng.permutation(len(paths))[:per_source])]
                imgs = [np.asarray(Image.open(p).convert("RGB")) for p in chosen]
                samples.append({"name": name, "domain": domain, "images": imgs})
    return samples


# -------------------------------------------------------------------------- backbone


def load_model(name: str):
    """Build the backbone through the project when it can, else straight from timm."""
    try:
        from engines.backbones import create_backbone

        return create_backbone(name, pretrained=True)
    except ImportError:
        import timm

        return timm.create_model(name, pretrained=True).eval()


def embed(model, images: list[np.ndarray], batch_size: int = 32):
    """Pooled features and ImageNet logits, with the model's own preprocessing."""
    import timm
    import torch
    from PIL import Image

    cfg = timm.data.resolve_data_config({}, model=model)
    transform = timm.data.create_transform(**cfg)
    feats, logits = [], []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = torch.stack(
                [transform(Image.fromarray(im)) for im in images[start : start + batch_size]]
            )
            pooled = model.forward_head(model.forward_features(batch), pre_logits=True)
            feats.append(pooled.float().numpy())
            logits.append(model.get_classifier()(pooled).float().numpy())
    return np.concatenate(feats), np.concatenate(logits), cfg


# ------------------------------------------------------------------------ calibration


def best_cut(similar: np.ndarray, different: np.ndarray, higher_is_similar: bool):
    """Threshold maximising Youden's J (balanced accuracy) between the two groups."""
    values = np.unique(np.concatenate([similar, different]))
    cuts = (values[:-1] + values[1:]) / 2 if values.size > 1 else values
    best = (-1.0, float(cuts[0]))
    for cut in cuts:
        if higher_is_similar:
            tpr, tnr = np.mean(similar > cut), np.mean(different <= cut)
        else:
            tpr, tnr = np.mean(similar < cut), np.mean(different >= cut)
        j = tpr + tnr - 1
        if j > best[0]:
            best = (float(j), float(cut))
    spread = float(np.sqrt((np.var(similar) + np.var(different)) / 2)) or 1.0
    return {"threshold": best[1], "youden_j": best[0], "scale": spread}


def probe_gap(features: np.ndarray, labels: np.ndarray, seed: int, repeats: int = 5):
    """Linear-probe minus k-NN accuracy over repeated stratified 50/50 splits."""
    from sklearn.model_selection import StratifiedShuffleSplit

    splitter = StratifiedShuffleSplit(n_splits=repeats, test_size=0.5, random_state=seed)
    lp, knn = [], []
    for tr, va in splitter.split(features, labels):
        model = fit_linear_probe(features[tr], labels[tr], seed=seed)
        lp.append(float(np.mean(model.predict(features[va]) == labels[va])))
        knn.append(knn_accuracy(features[tr], labels[tr], features[va], labels[va]))
    return {"lp": float(np.mean(lp)), "knn": float(np.mean(knn)),
            "gap": float(np.mean(lp) - np.mean(knn))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--per-source", type=int, default=32, help="images per sample")
    parser.add_argument("--similar-dir", type=Path, action="append", default=[])
    parser.add_argument("--different-dir", type=Path, action="append", default=[])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("out/similarity_calibration"))
    args = parser.parse_args(argv)

    import torch

    torch.manual_seed(args.seed)
    samples = build_samples(args.per_source, args.similar_dir, args.different_dir, args.seed)
    model = load_model(args.backbone)
    rows = []
    all_feats, all_logits, all_sample = [], [], []
    for idx, sample in enumerate(samples):
        feats, logits, cfg = embed(model, sample["images"])
        stats = {**similarity.head_statistics(logits),
                 **similarity.feature_statistics(feats, seed=args.seed)}
        rows.append({"name": sample["name"], "domain": sample["domain"],
                     "n": len(sample["images"]), **stats})
        all_feats.append(feats)
        all_logits.append(logits)
        all_sample.append(np.full(len(feats), idx))
        print(f"{sample['domain']:9s} {sample['name']:32s} " +
              " ".join(f"{k}={v:.3f}" for k, v in stats.items()), flush=True)

    feats = np.concatenate(all_feats)
    logits = np.concatenate(all_logits)
    sample_idx = np.concatenate(all_sample)
    calibration: dict[str, Any] = {"backbone": args.backbone, "data_config": str(cfg),
                                   "per_source": args.per_source, "samples": rows, "cuts": {}}
    table = similarity.THRESHOLDS.get(args.backbone,
                                      similarity.THRESHOLDS[similarity.DEFAULT_BACKBONE])
    print(f"\nPaste into THRESHOLDS[{args.backbone!r}] (weights are a choice, kept from "
          "the table):")
    for signal, spec in table.items():
        if signal not in rows[0]:
            continue
        sim = np.array([r[signal] for r in rows if r["domain"] == "similar"])
        diff = np.array([r[signal] for r in rows if r["domain"] == "different"])
        cut = best_cut(sim, diff, spec["higher_is_similar"])
        calibration["cuts"][signal] = cut
        print(f"  {signal:20s} threshold={cut['threshold']:.4g} scale={cut['scale']:.3g} "
              f"youden_j={cut['youden_j']:.2f}  similar=[{sim.min():.3f}, {sim.max():.3f}] "
              f"different=[{diff.min():.3f}, {diff.max():.3f}]")

    # The combined call, with the module's current table, on every calibration sample.
    right = 0
    for idx, row in enumerate(rows):
        mask = sample_idx == idx
        res = similarity.domain_similarity(logits[mask], feats[mask], backbone=args.backbone,
                                           seed=args.seed)
        row["combined_score"] = res["score"]
        right += (res["call"] == row["domain"])
        print(f"  combined {row['domain']:9s} {row['name']:28s} score={res['score']:.2f} "
              f"call={res['call']}")
    calibration["combined_accuracy"] = f"{right}/{len(rows)}"
    print(f"combined call right on {right}/{len(rows)} calibration samples (in-sample)")

    # Labelled tasks: classes = sources, within each group; and each folder group.
    gaps = {}
    for domain in ("similar", "different"):
        members = [i for i, s in enumerate(samples) if s["domain"] == domain]
        mask = np.isin(sample_idx, members)
        gaps[f"{domain}: sources as classes"] = probe_gap(feats[mask], sample_idx[mask],
                                                          args.seed)
    for root in args.different_dir + args.similar_dir:
        members = [i for i, s in enumerate(samples) if s["name"].startswith(root.name + "/")]
        if len(members) >= 2:
            mask = np.isin(sample_idx, members)
            gaps[f"{root.name}: sub-folders as classes"] = probe_gap(
                feats[mask], sample_idx[mask], args.seed)
    calibration["probe_gaps"] = gaps
    for name, g in gaps.items():
        print(f"gap {name:40s} lp={g['lp']:.3f} knn={g['knn']:.3f} gap={g['gap']:.3f}")

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "calibration.json").write_text(json.dumps(calibration, indent=2))
    np.savez_compressed(args.out / "features.npz", features=feats, logits=logits,
                        sample=sample_idx,
                        names=np.array([s["name"] for s in samples]),
                        domains=np.array([s["domain"] for s in samples]))
    print(f"wrote {args.out / 'calibration.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
