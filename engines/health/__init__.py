"""Dataset health: duplicates, suspected label errors and image quality, explained.

Light on purpose (numpy, scikit-learn; no torch): the embeddings the near-duplicate
and label checks need are computed by the pipeline's backbone and passed in.
"""

from engines.health.duplicates import (
    NEAR_DUPLICATE_THRESHOLD,
    DuplicateGroup,
    DuplicateResult,
    find_exact_duplicates,
    find_hash_near_duplicates,
    find_near_duplicates,
    merge_redundant,
)
from engines.health.label_issues import (
    LabelIssue,
    LabelIssueResult,
    confident_learning_issues,
    find_label_issues,
    out_of_fold_probabilities,
)
from engines.health.pixels import pixel_features
from engines.health.quality import QUALITY_THRESHOLDS, assess_quality
from engines.health.report import amount_band, build_health_report, duplicate_group_ids

__all__ = [
    "NEAR_DUPLICATE_THRESHOLD",
    "QUALITY_THRESHOLDS",
    "DuplicateGroup",
    "DuplicateResult",
    "LabelIssue",
    "LabelIssueResult",
    "amount_band",
    "assess_quality",
    "build_health_report",
    "confident_learning_issues",
    "duplicate_group_ids",
    "find_exact_duplicates",
    "find_hash_near_duplicates",
    "find_label_issues",
    "find_near_duplicates",
    "merge_redundant",
    "out_of_fold_probabilities",
    "pixel_features",
]
