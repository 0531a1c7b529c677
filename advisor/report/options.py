"""Inputs of the report that the run did not measure: costs, rates and rendering choices.

Every figure the report derives from these (labeling hours and cost, GPU hours and cost)
is shown as an estimate, with the inputs beside it, so a consultant can change them for
the engagement. The defaults are documented here with where they come from.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

# Seconds of annotator time per image, by task, from published annotation-time studies.
# Classification: about 1 s per class to confirm or reject an image-level label
# (Bearman, Russakovsky, Ferrari & Fei-Fei (2016), "What's the Point: Semantic
# Segmentation with Point Supervision", ECCV; image-level labels for the 20 PASCAL VOC
# classes took 20.0 s per image), so the default scales with the number of classes.
# Detection: 7.0 s per box with extreme clicking (Papadopoulos, Uijlings, Keller &
# Ferrari (2017), "Extreme clicking for efficient object annotation", ICCV; 34.5 s with
# the classic two-corner drawing). Segmentation: 239.7 s per image for full pixel masks
# (Bearman et al. 2016, PASCAL VOC). Expert domains (medical, defect inspection) take
# longer: set ``seconds_per_label`` for the engagement.
SECONDS_PER_CLASS_CHECK = 1.0
SECONDS_PER_BOX = 7.0
SECONDS_PER_MASK_IMAGE = 239.7
LABEL_TIME_SOURCES: dict[str, str] = {
    "classification": "Bearman et al. (2016), What's the Point, ECCV: ~1 s per class per "
    "image for image-level labels.",
    "detection": "Papadopoulos et al. (2017), Extreme clicking for efficient object "
    "annotation, ICCV: 7.0 s per box.",
    "segmentation": "Bearman et al. (2016), What's the Point, ECCV: 239.7 s per image for "
    "full masks.",
}

_CURRENCY_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ$€£¥₩")


@dataclass(frozen=True)
class ReportOptions:
    """What the report needs beyond result.json, with documented defaults.

    Attributes:
        currency: Currency of every cost (an ISO code such as "USD" or "KRW", or a
            symbol); the rates below are in it.
        seconds_per_label: Annotator seconds per image; None takes the task's published
            rate (see :data:`LABEL_TIME_SOURCES`).
        label_unit_cost: Cost of labeling one image; None derives it from
            ``seconds_per_label`` and ``annotator_hourly_rate``.
        annotator_hourly_rate: Loaded cost of one annotator hour (default 15 USD, an
            assumption to replace with the labeling vendor's quote).
        gpu_hourly_rate: Cost of one GPU hour (default 2.5 USD, an assumption: on-demand
            rent of one current data-centre GPU).
        training_epochs: Epochs of the full training the GPU hours are estimated for
            (default 30, a common fine-tuning schedule; the quick run stops earlier).
        gpu_effective_flops: Sustained training throughput of that GPU in FLOP/s, used
            only when the run did not measure training on a GPU (default 8e12: small
            convolutional networks reach about a tenth of a data-centre GPU's peak).
        image_root: Folder the result's relative image paths refer to (the unpacked
            upload); thumbnails are embedded only where a file exists under it.
        interactive_charts: Embed plotly.js and interactive charts in the HTML (about
            4.8 MB); False draws the same charts as static SVG.
        max_thumbnails: Most images shown per gallery.
        thumbnail_px: Longest side of an embedded thumbnail, in pixels.

    """

    currency: str = "USD"
    seconds_per_label: float | None = None
    label_unit_cost: float | None = None
    annotator_hourly_rate: float = 15.0
    gpu_hourly_rate: float = 2.5
    training_epochs: int = 30
    gpu_effective_flops: float = 8e12
    image_root: Path | None = None
    interactive_charts: bool = True
    max_thumbnails: int = 12
    thumbnail_px: int = 160

    def __post_init__(self) -> None:
        if not self.currency or not all(ch in _CURRENCY_CHARS for ch in self.currency):
            raise ValueError(
                f"Currency {self.currency!r} is not a currency code: use e.g. 'USD' or 'KRW'."
            )
        for name in ("seconds_per_label", "label_unit_cost"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number or None, got {value!r}.")
        for name in ("annotator_hourly_rate", "gpu_hourly_rate", "gpu_effective_flops"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}.")
        if not isinstance(self.training_epochs, int) or self.training_epochs < 1:
            raise ValueError(
                f"training_epochs must be a whole number of at least 1, got "
                f"{self.training_epochs!r}."
            )
        if self.max_thumbnails < 0 or self.thumbnail_px < 16:
            raise ValueError(
                "max_thumbnails must be 0 or more and thumbnail_px at least 16 pixels."
            )
        if self.image_root is not None:
            object.__setattr__(self, "image_root", Path(self.image_root))

    def value(self, name: str) -> Any:
        """Return one option by name (a report input, cited as ``options/<name>``).

        Raises:
            KeyError: If there is no such option.

        """
        if name not in {f.name for f in fields(self)}:
            raise KeyError(f"No report option {name!r}.")
        return getattr(self, name)

    def to_dict(self) -> dict[str, Any]:
        """Return the options as JSON-ready data (for the appendix)."""
        data = asdict(self)
        data["image_root"] = str(self.image_root) if self.image_root else None
        return data
