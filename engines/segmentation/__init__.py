"""Segmentation evidence: a pretrained encoder with a light decoder, trained on the sample.

``run_segmentation_validation`` is the entry point; the modules each do one job:
``masks`` reads masks into class maps, ``model`` builds the encoder and decoder,
``train`` trains one strategy, ``evaluate`` predicts held-out masks, ``scores`` gives
Dice and IoU with intervals, ``curve`` the learning curve, ``overlays`` the pictures.
"""

from engines.segmentation.config import STRATEGIES, SegmentationConfig
from engines.segmentation.masks import (
    IGNORE_INDEX,
    MaskError,
    load_mask,
    resolve_mask_encoding,
)
from engines.segmentation.model import SegmentationNet, create_encoder
from engines.segmentation.scores import image_counts, segmentation_scores
from engines.segmentation.validation import (
    SegmentationDataError,
    default_class_names,
    run_segmentation_validation,
)

__all__ = [
    "IGNORE_INDEX",
    "STRATEGIES",
    "MaskError",
    "SegmentationConfig",
    "SegmentationDataError",
    "SegmentationNet",
    "create_encoder",
    "default_class_names",
    "image_counts",
    "load_mask",
    "resolve_mask_encoding",
    "run_segmentation_validation",
    "segmentation_scores",
]
