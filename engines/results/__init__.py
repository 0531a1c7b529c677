"""Typed models of result.json, the run configuration and the closed vocabularies.

Owned by the lowest layer so the engines return them and everything above reads them.
Imports pydantic only (no torch): the app and the command line load it cheaply.
"""

from engines.results.base import Message, MetricEstimate, Record, message
from engines.results.config import DEFAULT_BACKBONE, ConfigError, RunConfig
from engines.results.document import (
    SCHEMA_VERSION,
    Profile,
    RecommendationRecord,
    Result,
    ResultError,
    check_version,
    dump_json,
    load_result,
    parse_result,
    write_result,
)
from engines.results.validation import (
    ClassificationMetrics,
    CurveFit,
    Experiment,
    ImagesNeeded,
    LearningCurve,
    RankingRow,
    Similarity,
    Skipped,
    Validation,
)
from engines.results.vocab import (
    STRATEGY_ORDER,
    DataType,
    Strategy,
    TargetMetric,
    Task,
    ValidationTask,
    Verdict,
)

__all__ = [
    "DEFAULT_BACKBONE",
    "SCHEMA_VERSION",
    "STRATEGY_ORDER",
    "ClassificationMetrics",
    "ConfigError",
    "CurveFit",
    "DataType",
    "Experiment",
    "ImagesNeeded",
    "LearningCurve",
    "Message",
    "MetricEstimate",
    "Profile",
    "RankingRow",
    "RecommendationRecord",
    "Record",
    "Result",
    "ResultError",
    "RunConfig",
    "Similarity",
    "Skipped",
    "Strategy",
    "TargetMetric",
    "Task",
    "Validation",
    "ValidationTask",
    "Verdict",
    "check_version",
    "dump_json",
    "load_result",
    "message",
    "parse_result",
    "write_result",
]
