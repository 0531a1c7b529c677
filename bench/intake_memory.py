"""Memory and time of intake on a 5,000-image upload.

Budget: unpacking, scanning (every image opened, decoded and measured), profiling and
the pixel-only health report of a 5,000-image upload must stay under 400 MB peak
resident memory (RSS) for the whole Python process, imports included; with a
5,000 x 1,280 float32 embedding matrix (the size efficientnet_lite0 gives) added for
the near-duplicate and label checks, under 800 MB. Nothing keeps pixels: each image is
decoded, measured and released, so memory grows with the number of files only through
their records (a few hundred bytes each); the near-duplicate search works in blocks of
1,024 rows.

The upload is generated (small JPEG and PNG images, 64-160 px, 10 classes, some
duplicates), zipped, and measured in a fresh child process so that generating it does
not count. Peak RSS is the child's ``ru_maxrss``.

Usage::

    python bench/intake_memory.py            # 5,000 images, pixel-only health report
    python bench/intake_memory.py --features # also the embedding checks
    python bench/intake_memory.py --n 20000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_MB = 400
BUDGET_WITH_FEATURES_MB = 800


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024**2


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def generate(folder: Path, n: int, seed: int = 0) -> Path:
    """Write ``n`` small images in 10 class folders and zip them; return the zip."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    src = folder / "src" / "upload"
    for k in range(10):
        (src / f"class_{k}").mkdir(parents=True, exist_ok=True)
    previous = None
    for i in range(n):
        k = i % 10
        w, h = (int(v) for v in rng.integers(64, 161, 2))
        base = rng.integers(0, 255, 3)
        img = (base + rng.normal(0, 30, (h, w, 3))).clip(0, 255).astype(np.uint8)
        path = src / f"class_{k}" / f"img_{i:05d}.{'jpg' if i % 3 else 'png'}"
        if i % 50 == 49 and previous is not None:  # 2 % exact duplicates
            path.with_suffix(previous.suffix).write_bytes(previous.read_bytes())
            continue
        Image.fromarray(img).save(path, quality=90)
        previous = path
    zpath = folder / "upload.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(src.parent).as_posix())
    return zpath


def measure(zip_path: Path, work: Path, with_features: bool) -> dict:
    """Unpack, scan, profile and health-check; return timings and memory."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from engines.health import build_health_report
    from engines.intake import profile_dataset, scan_dataset, unpack_upload

    baseline = _rss_mb()
    times = {}
    t0 = time.perf_counter()
    root = unpack_upload(zip_path, work / "out")
    times["unpack_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = scan_dataset(root)
    times["scan_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    profile = profile_dataset(index)
    times["profile_s"] = time.perf_counter() - t0
    after_scan_peak = _peak_mb()
    features = None
    if with_features:
        rng = np.random.default_rng(0)
        labels = [r.label for r in index.records]
        centres = rng.normal(0, 1, (10, 1280)).astype(np.float32)
        cls = np.asarray([int(lab.split("_")[1]) for lab in labels])
        features = centres[cls] + rng.normal(0, 1.0, (len(cls), 1280)).astype(np.float32)
    t0 = time.perf_counter()
    report = build_health_report(index, features)
    times["health_s"] = time.perf_counter() - t0
    profile.health = report
    profile.effective_n_images = report["effective_n_images"]
    json.dumps(profile.to_dict())
    return {
        "n_images": profile.n_images,
        "n_skipped": len(profile.skipped),
        "effective_n_images": profile.effective_n_images,
        "with_features": with_features,
        **{k: round(v, 2) for k, v in times.items()},
        "total_s": round(sum(times.values()), 2),
        "rss_after_imports_mb": round(baseline, 1),
        "peak_rss_after_scan_mb": round(after_scan_peak, 1),
        "peak_rss_mb": round(_peak_mb(), 1),
        "budget_mb": BUDGET_WITH_FEATURES_MB if with_features else BUDGET_MB,
        "cpu_count": os.cpu_count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--features", action="store_true")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        work = Path(tempfile.mkdtemp(prefix="intake-measure-"))
        print(json.dumps(measure(args.measure, work, args.features)))
        return 0
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as tmp:
        t0 = time.perf_counter()
        zpath = generate(Path(tmp), args.n)
        print(
            f"generated {args.n:,} images ({zpath.stat().st_size / 1024**2:.1f} MB zip) "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        cmd = [sys.executable, __file__, "--measure", str(zpath)]
        if args.features:
            cmd.append("--features")
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
    for key, value in result.items():
        print(f"{key:>24}: {value}")
    ok = result["peak_rss_mb"] <= result["budget_mb"]
    print(f"{'within' if ok else 'OVER'} the {result['budget_mb']} MB budget")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
