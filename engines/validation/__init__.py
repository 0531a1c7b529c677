"""The validation run: evidence measured on the client's own sample.

``run_validation`` compares transfer strategies (linear probe, partial and full
fine-tune) and backbones on one fixed split, measures domain similarity, fits a
learning curve and reports deployment figures, all within a time budget.
"""

from engines.validation.config import STRATEGY_ORDER, LabeledSplit, ValidationConfig
from engines.validation.embed import embed_images
from engines.validation.run import run_validation

__all__ = [
    "STRATEGY_ORDER",
    "LabeledSplit",
    "ValidationConfig",
    "embed_images",
    "run_validation",
]
