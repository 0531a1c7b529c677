"""Detection evidence without training a detector: object sizes, balance, separability.

``run_detection_evidence`` is the entry point; ``sizes`` relates object sizes to the
detector's input size and tiling, ``balance`` counts classes per image and overall,
``crops`` tests whether frozen features of the box crops tell the classes apart.
"""

from engines.detection.balance import class_balance
from engines.detection.crops import BACKGROUND, grouped_probe, plan_crops, separability
from engines.detection.evidence import (
    DetectionConfig,
    DetectionDataError,
    run_detection_evidence,
)
from engines.detection.sizes import (
    box_fits_a_tile,
    object_size_stats,
    tile_starts,
    tiles_per_image,
)

__all__ = [
    "BACKGROUND",
    "DetectionConfig",
    "DetectionDataError",
    "box_fits_a_tile",
    "class_balance",
    "grouped_probe",
    "object_size_stats",
    "plan_crops",
    "run_detection_evidence",
    "separability",
    "tile_starts",
    "tiles_per_image",
]
