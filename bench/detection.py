"""Detector fine-tune benchmark: a generated VOC sample, the budget, mAP@0.5 with its interval.

Usage: python -m bench.detection --images 300 --size 256 --budget 300 --out result.json
The sample: planted red squares and blue discs on textured noise (tests/segdet/fixtures),
one Pascal VOC XML per image.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from engines.detection.finetune import DetectorConfig, run_detector_finetune
from engines.intake import scan_dataset
from tests.segdet.fixtures import shapes_detection_sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--budget", type=float, default=300.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = shapes_detection_sample(Path(tmp) / "voc", n=args.images, size=args.size)
        records = [r for r in scan_dataset(root).records if r.boxes is not None]
        t0 = time.monotonic()
        res = run_detector_finetune(
            records, DetectorConfig(budget_seconds=args.budget, device=args.device, n_overlays=0)
        )
        wall = time.monotonic() - t0
    summary = {
        "images": args.images,
        "size": args.size,
        "budget": args.budget,
        "wall_seconds": round(wall, 1),
        "device": res["device"],
        "runs": [
            {
                "id": r["id"],
                "encoder": r["encoder"],
                "epochs": r["epochs"],
                "map50": r["metrics"]["map50"],
                "map": r["metrics"]["map"]["value"],
            }
            for r in res["runs"]
        ],
        "skipped": [{k: s[k] for k in ("run", "encoder", "reason")} for s in res["skipped"]],
        "gpu_estimate": res["gpu_estimate"],
    }
    text = json.dumps(summary, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
