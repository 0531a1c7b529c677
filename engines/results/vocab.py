"""The closed vocabularies of the product, each defined once.

Strategies, data types, verdicts, target metrics and the kinds of validation are
spelled here and nowhere else; code compares against these members, and the JSON
Schema lists their values.
"""

from __future__ import annotations

from enum import StrEnum


class Strategy(StrEnum):
    """Transfer strategies, cheapest first (the deck's freeze table)."""

    LINEAR_PROBE = "linear_probe"
    PARTIAL_FINETUNE = "partial_finetune"
    FULL_FINETUNE = "full_finetune"


STRATEGY_ORDER: tuple[Strategy, ...] = tuple(Strategy)
"""Strategies in the order a validation runs them."""


class DataType(StrEnum):
    """The deck's three forms of client data."""

    PAIRED = "paired"
    UNPAIRED = "unpaired"
    INPUT_ONLY = "input_only"


class Verdict(StrEnum):
    """What the measured evidence says about the advice given before it."""

    VALIDATED = "validated"
    REVISED = "revised"
    INCONCLUSIVE = "inconclusive"


class TargetMetric(StrEnum):
    """Metrics a client's target can be stated in."""

    ACCURACY = "accuracy"
    BALANCED_ACCURACY = "balanced_accuracy"
    MACRO_F1 = "macro_f1"
    SENSITIVITY = "sensitivity"
    SPECIFICITY = "specificity"
    ROC_AUC = "roc_auc"
    IOU = "iou"
    MAP = "map"


class ValidationTask(StrEnum):
    """What a validation run measured, by the kind of sample it was given."""

    CLASSIFICATION = "classification"
    SEGMENTATION = "segmentation"
    DETECTION = "detection"
    UNLABELED = "unlabeled"
    UNPAIRED = "unpaired"


class Task(StrEnum):
    """Problem types of the task catalogue (``knowledge/tasks.yaml``)."""

    CLASSIFICATION = "classification"
    DETECTION = "detection"
    SEGMENTATION = "segmentation"
    POSE = "pose"
    GENERATION = "generation"
    IMAGE_TO_IMAGE = "image_to_image"
    OCR = "ocr"
    VIDEO = "video"
    TRACKING = "tracking"
    ACTION_RECOGNITION = "action_recognition"
    SIMILARITY = "similarity"
    SUPER_RESOLUTION = "super_resolution"
    LIP_SYNC = "lip_sync"
    LANDMARKS_3D = "landmarks_3d"
