"""Profile an upload from the command line: ``python -m engines.intake UPLOAD``.

Prints the dataset profile with its pixel-only health report as JSON (the embedding
checks need a backbone and run in the validation pipeline), or one line saying why
the upload cannot be used.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from engines.health import build_health_report
from engines.intake import (
    IntakeError,
    IntakeLimits,
    pick_samples,
    profile_dataset,
    scan_dataset,
    unpack_upload,
)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 2 unusable upload)."""
    parser = argparse.ArgumentParser(
        prog="python -m engines.intake", description="Profile and health-check an image upload."
    )
    parser.add_argument("upload", type=Path, help="a .zip file or a folder")
    parser.add_argument("--work", type=Path, help="where to unpack a zip (default: temp)")
    parser.add_argument(
        "--max-upload-mb", type=float, default=None, help="refuse zips larger than this"
    )
    parser.add_argument(
        "--claimed", type=int, default=None, help="how many images the client said they have"
    )
    parser.add_argument(
        "--samples", type=int, default=0, help="also list this many sample paths per class"
    )
    args = parser.parse_args(argv)
    limits = IntakeLimits()
    if args.max_upload_mb:
        limits = IntakeLimits(max_upload_bytes=int(args.max_upload_mb * 1024**2))
    work = args.work or Path(tempfile.mkdtemp(prefix="intake-"))
    try:
        root = unpack_upload(args.upload, work, limits)
        index = scan_dataset(root, limits)
    except IntakeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    profile = profile_dataset(index)
    profile.health = build_health_report(index, claimed_n_images=args.claimed)
    profile.effective_n_images = profile.health["effective_n_images"]
    out = profile.to_dict()
    if args.samples:
        out["samples"] = {
            k: [index.relpath(p) for p in v]
            for k, v in pick_samples(index.records, per_class=args.samples).items()
        }
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
