"""Image quality from pixels: very dark, overexposed, blank, blurry, low-resolution.

The numbers come from the scan (:func:`engines.images.image_quality_numbers`), measured
on a copy at most 256 px a side: mean luma (brightness), luma standard deviation
(contrast) and the variance of the Laplacian (sharpness; Pech-Pacheco et al., ICPR
2000). Thresholds and why:

- dark: mean luma below 30 of 255 (about 12 %): underexposed, detail is lost in noise.
- overexposed: mean luma above 235 of 255.
- blank: luma standard deviation below 4: a uniform frame (lens cap, empty scan).
- blurry (not judged on dark or blank images, where the measure means little):
  sharpness below 15 (on scikit-image photos at 96-512 px, a Gaussian blur of
  sigma 2 px gives 4-20 and sharp photos give 200-3,600), or below a tenth of the
  upload's median sharpness when it has 20 or more images (a blurred outlier in a
  smooth domain; magnetic-tile images, all fairly smooth, have a median near 190 and
  a minimum near 29, and none is flagged).
- low resolution: shorter side below 64 px: a 224-px backbone then sees an image
  upsampled more than 3.5 times.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engines.intake.records import ImageRecord

QUALITY_THRESHOLDS: dict[str, float] = {
    "dark_brightness_below": 30.0,
    "overexposed_brightness_above": 235.0,
    "blank_contrast_below": 4.0,
    "blurry_sharpness_below": 15.0,
    "blurry_relative_to_median_below": 0.1,
    "blurry_relative_min_images": 20,
    "low_resolution_min_side_below": 64,
}


def assess_quality(
    records: Sequence[ImageRecord], thresholds: dict[str, float] | None = None
) -> dict[str, Any]:
    """Flag images that are too dark, overexposed, blank, blurry or too small.

    Args:
        records: Scanned records (their ``info`` holds the numbers).
        thresholds: Overrides of :data:`QUALITY_THRESHOLDS`.

    Returns:
        ``{"dark": [i...], "overexposed": [...], "blank": [...], "blurry": [...],
        "low_resolution": [...], "thresholds": {...}, "median_sharpness": x}`` with
        indices into ``records``.

    """
    t = {**QUALITY_THRESHOLDS, **(thresholds or {})}
    flags: dict[str, list[int]] = {
        k: [] for k in ("dark", "overexposed", "blank", "blurry", "low_resolution")
    }
    sharp = [r.info.sharpness for r in records if r.info and r.info.sharpness is not None]
    median = float(np.median(sharp)) if sharp else None
    relative = median is not None and len(sharp) >= t["blurry_relative_min_images"]
    for i, r in enumerate(records):
        info = r.info
        if info is None:
            continue
        if min(info.width, info.height) < t["low_resolution_min_side_below"]:
            flags["low_resolution"].append(i)
        if info.brightness is not None:
            if info.brightness < t["dark_brightness_below"]:
                flags["dark"].append(i)
            elif info.brightness > t["overexposed_brightness_above"]:
                flags["overexposed"].append(i)
        blank = info.contrast is not None and info.contrast < t["blank_contrast_below"]
        if blank:
            flags["blank"].append(i)
        dark = bool(flags["dark"]) and flags["dark"][-1] == i
        if info.sharpness is not None and not blank and not dark:
            limit = t["blurry_sharpness_below"]
            if relative and median is not None:
                limit = max(limit, t["blurry_relative_to_median_below"] * median)
            if info.sharpness < limit:
                flags["blurry"].append(i)
    return {**flags, "thresholds": t, "median_sharpness": median}
