"""The headless pipeline: upload -> profile -> recommendation -> validation -> report.

The app pages and the command line call these functions; nothing here imports torch
(engine modules that do are imported inside the functions that need them).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor.evidence import Evidence, StrategyResult
from advisor.intake import Intake
from advisor.recommend import recommend
from advisor.recommendation import Recommendation
from advisor.result import build_result, write_result
from engines.intake import (
    DatasetIndex,
    IntakeLimits,
    profile_dataset,
    scan_dataset,
    stratified_split,
    unpack_upload,
)
from engines.profile import DatasetProfile
from engines.progress import CancelToken, ProgressCallback, ignore_progress


class NotValidatable(ValueError):
    """The sample can be profiled but not validated; the message says what to do."""


@dataclass
class PreparedDataset:
    """An unpacked, scanned and profiled upload."""

    root: Path
    index: DatasetIndex
    profile: DatasetProfile


def prepare_dataset(
    source: Path, work_dir: Path, limits: IntakeLimits | None = None
) -> PreparedDataset:
    """Unpack (if a zip), scan and profile an upload.

    Args:
        source: A zip file or a folder.
        work_dir: Where a zip is unpacked.
        limits: Size and safety limits of the intake.

    Returns:
        The dataset root, its index and its profile.

    Raises:
        engines.intake.IntakeError: When the upload cannot be used, with what to do.

    """
    limits = limits or IntakeLimits()
    root = unpack_upload(Path(source), Path(work_dir), limits)
    index = scan_dataset(root, limits)
    return PreparedDataset(root=root, index=index, profile=profile_dataset(index))


def check_validatable(profile: DatasetProfile) -> None:
    """Raise :class:`NotValidatable` when a classification probe cannot run on the sample."""
    if profile.data_type != "paired" or profile.n_classes == 0:
        raise NotValidatable(
            "The sample has no class labels, so no classifier can be validated: upload "
            "class folders (one folder per class) to measure accuracy."
        )
    if profile.n_classes < 2:
        only = next(iter(profile.class_counts), "?")
        raise NotValidatable(
            f"Only one class ({only!r}) was found: a classifier needs at least two class "
            "folders; add a folder of images of the other class(es)."
        )
    usable = [c for c, n in profile.class_counts.items() if n >= 2]
    if len(usable) < 2:
        raise NotValidatable(
            "Fewer than two classes have at least two images: add images so that each "
            "class has at least two (one to train on, one to test on)."
        )


def evidence_from_validation(validation: dict[str, Any]) -> Evidence:
    """Translate measured experiments into the advisor's evidence terms."""
    strategies = []
    for exp in validation.get("experiments", []):
        acc = exp["metrics"]["accuracy"]
        strategies.append(
            StrategyResult(
                strategy_id=exp["strategy"],
                backbone=exp["backbone"],
                accuracy=acc["value"],
                ci_low=acc["ci_low"],
                ci_high=acc["ci_high"],
                seconds=exp["seconds"],
            )
        )
    sim = validation.get("similarity") or {}
    curve = validation.get("learning_curve") or {}
    return Evidence(
        measured_similarity=sim.get("call"),
        similarity_score=sim.get("score"),
        strategies=strategies,
        predicted_accuracy_10x=(curve.get("predicted_10x") or {}).get("value"),
    )


def recommend_for(prepared: PreparedDataset, intake: Intake) -> Recommendation:
    """Recommend from the consultant's answers and the profile (before evidence)."""
    return recommend(intake, prepared.profile)


def validate(
    source: Path,
    out_dir: Path,
    *,
    intake: Intake | None = None,
    budget_seconds: float = 180.0,
    device: str = "auto",
    backbone: str | None = None,
    seed: int = 0,
    cache_dir: Path | None = None,
    work_dir: Path | None = None,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Run the whole pipeline on an upload and write result.json and report.html.

    Args:
        source: A zip file or folder of class folders (optionally split folders).
        out_dir: Where result.json and report.html are written.
        intake: The consultant's answers (defaults: everything inferred).
        budget_seconds: Wall-clock budget of the validation.
        device: "auto", "cpu", "cuda" or "mps".
        backbone: Backbone name; None for the offline default.
        seed: Seed for the split, bootstraps and training.
        cache_dir: Feature cache directory (None: no cache).
        work_dir: Where a zip is unpacked (None: a temporary folder).
        progress: Progress callback.
        cancel: Cancellation token.

    Returns:
        The result document (also written to ``out_dir/result.json``).

    Raises:
        engines.intake.IntakeError: The upload cannot be read.
        NotValidatable: The sample cannot be validated as a classification task.
        ValueError: A setting is invalid.

    """
    from engines.backbones import DEFAULT_BACKBONE
    from engines.validation import LabeledSplit, ValidationConfig, run_validation

    intake = intake or Intake()
    config = ValidationConfig(
        backbone=backbone or DEFAULT_BACKBONE,
        device=device,
        budget_seconds=budget_seconds,
        seed=seed,
        cache_dir=cache_dir,
    )
    timings: dict[str, float] = {}
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fa-upload-") as tmp:
        prepared = prepare_dataset(Path(source), Path(work_dir or tmp))
        timings["profile"] = round(time.monotonic() - start, 3)
        check_validatable(prepared.profile)
        prior = recommend_for(prepared, intake)
        labeled = [r for r in prepared.index.records if r.label is not None]
        counts = prepared.profile.class_counts
        labeled = [r for r in labeled if counts.get(r.label, 0) >= 2]
        train, held_out = stratified_split(labeled, seed=seed)
        class_names = sorted({r.label for r in labeled})
        to_int = {name: i for i, name in enumerate(class_names)}
        split = LabeledSplit(
            train_paths=[r.path for r in train],
            train_labels=[to_int[r.label] for r in train],
            val_paths=[r.path for r in held_out],
            val_labels=[to_int[r.label] for r in held_out],
            class_names=class_names,
        )
        t1 = time.monotonic()
        validation = run_validation(split, config, progress=progress, cancel=cancel)
        timings["validation"] = round(time.monotonic() - t1, 3)
    final = recommend(intake, prepared.profile, evidence_from_validation(validation))
    timings["total"] = round(time.monotonic() - start, 3)
    result = build_result(
        source=Path(source).name,
        profile=prepared.profile.to_dict(),
        intake=intake.to_dict(),
        recommendation={"prior": prior.to_dict(), **final.to_dict()},
        validation=validation,
        config=config.to_dict(),
        timings=timings,
    )
    write_result(result, Path(out_dir))
    from advisor.report import write_report

    write_report(result, Path(out_dir), language=intake.language)
    return result


def recommend_from_profile(profile: dict[str, Any], intake: Intake | None = None) -> Recommendation:
    """Recommend from a stored profile (``DatasetProfile.to_dict()``) and the answers."""
    return recommend(intake or Intake(), DatasetProfile.from_dict(profile))
