"""A tiny zip of huge 16-bit and float images is refused before decoding.

A 10 KB-class zip holding one 16-bit 99-megapixel PNG took 2.5 GB of memory: the pixel
guard counted pixels, not bytes, and PNG/TIFF compression gets past the zip's ratio
guard. The guard now counts decoded bytes from the header.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hostile_files import huge_float_tiff, huge_png16
from messy_uploads import make_class_tree
from store_helpers import subprocess_env

from advisor.settings import load_settings
from engines.images import (
    DEFAULT_MAX_DECODED_BYTES,
    ImageDecodeError,
    check_decoded_bytes,
    decoded_bytes,
    inspect_image,
    load_rgb,
)
from engines.intake import IntakeLimits

_SCAN_IN_CHILD = """
import json, sys
from pathlib import Path
from engines.intake import scan_dataset, unpack_upload
root = unpack_upload(Path(sys.argv[1]), Path(sys.argv[2]))
index = scan_dataset(root)
print(json.dumps({
    "records": len(index.records),
    "skipped": {s.path: s.reason for s in index.skipped},
    # VmHWM: this process's own peak (ru_maxrss would carry the parent's over exec).
    "max_rss_mb": next(int(line.split()[1]) for line in open("/proc/self/status")
                       if line.startswith("VmHWM:")) / 1024,
}))
"""


def test_decoded_bytes_counts_bands_and_sample_width() -> None:
    assert decoded_bytes(100, 10, "L") == 1_000
    assert decoded_bytes(100, 10, "RGB") == 3_000
    assert decoded_bytes(100, 10, "RGBA") == 4_000
    # 16-bit and float: their own bytes plus the float32 working copies.
    assert decoded_bytes(100, 10, "I;16") == 1_000 * (2 + 16)
    assert decoded_bytes(100, 10, "F") == 1_000 * (4 + 16)
    check_decoded_bytes(10_000, 10_000, "RGB")  # 8-bit: the pixel limit decides
    with pytest.raises(ImageDecodeError, match="too large to decode safely"):
        check_decoded_bytes(10_000, 9_900, "I;16", DEFAULT_MAX_DECODED_BYTES)


def test_huge_16_bit_png_and_float_tiff_in_a_tiny_zip_are_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_class_tree(src, {"ok": 3, "defect": 3}, size=32)
    huge_png16(src / "ok" / "scan16.png")
    huge_float_tiff(src / "defect" / "depth.tif")
    upload = tmp_path / "tiny.zip"
    with zipfile.ZipFile(upload, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(src).as_posix())
    assert upload.stat().st_size < 200_000
    out = subprocess.run(
        [sys.executable, "-c", _SCAN_IN_CHILD, str(upload), str(tmp_path / "unpacked")],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=120,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["records"] == 6
    assert "too large to decode safely" in report["skipped"]["ok/scan16.png"]
    assert "16-bit" in report["skipped"]["ok/scan16.png"]
    assert "float" in report["skipped"]["defect/depth.tif"]
    # Refused from the header: the process never held the decoded gigabytes.
    assert report["max_rss_mb"] < 700, report["max_rss_mb"]


def test_the_limit_comes_from_the_settings(tmp_path: Path) -> None:
    small = huge_png16(tmp_path / "small16.png", width=400, height=300)
    settings = load_settings(
        {"FEASIBILITY_DATA_DIR": str(tmp_path), "FEASIBILITY_MAX_DECODED_MB": "1"}
    )
    assert settings.max_decoded_bytes == 2**20
    limits = IntakeLimits(max_decoded_bytes=settings.max_decoded_bytes)
    with pytest.raises(ImageDecodeError, match="too large to decode safely"):
        inspect_image(small, max_decoded_bytes=limits.max_decoded_bytes)
    with pytest.raises(ImageDecodeError, match="too large to decode safely"):
        load_rgb(small, max_decoded_bytes=limits.max_decoded_bytes)
    assert inspect_image(small).width == 400  # under the default limit it is read
    with pytest.raises(ValueError, match="FEASIBILITY_MAX_DECODED_MB"):
        load_settings({"FEASIBILITY_DATA_DIR": str(tmp_path), "FEASIBILITY_MAX_DECODED_MB": "-5"})
