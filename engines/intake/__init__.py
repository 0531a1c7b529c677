"""Data intake: take whatever the client sent, safely, and say what it is.

``unpack_upload`` turns a zip or folder into a dataset root (zip checked whole before
extraction), ``scan_dataset`` recognises the layout and verifies every image (broken
files are listed with their reason, the rest kept), ``profile_dataset`` turns the index
into the :class:`engines.profile.DatasetProfile` the advisor reads. Light on purpose:
no torch here.
"""

from engines.images import ImageDecodeError, ImageInfo, load_rgb
from engines.intake.limits import IntakeError, IntakeLimits
from engines.intake.profiling import (
    correct_profile,
    detection_stats,
    image_stats,
    profile_dataset,
)
from engines.intake.records import Box, DatasetIndex, ImageRecord, normalize_split
from engines.intake.samples import pick_samples
from engines.intake.scan import scan_dataset
from engines.intake.split import stratified_split
from engines.intake.unpack import unpack_upload
from engines.profile import DatasetProfile, SkippedFile

__all__ = [
    "Box",
    "DatasetIndex",
    "DatasetProfile",
    "ImageDecodeError",
    "ImageInfo",
    "ImageRecord",
    "IntakeError",
    "IntakeLimits",
    "SkippedFile",
    "correct_profile",
    "detection_stats",
    "image_stats",
    "load_rgb",
    "normalize_split",
    "pick_samples",
    "profile_dataset",
    "scan_dataset",
    "stratified_split",
    "unpack_upload",
]
