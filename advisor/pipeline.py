"""The headless pipeline: upload -> profile -> recommendation -> validation -> report.

The app pages and the command line call these functions; nothing here imports torch
(engine modules that do are imported inside the functions that need them).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from advisor.evidence import Evidence, SkippedStrategy, StrategyResult
from advisor.intake import Intake
from advisor.recommend import recommend
from advisor.recommendation import Recommendation
from advisor.result import build_result, write_result
from advisor.run_config import resolve_run_config
from engines.errors import UserError
from engines.health import build_health_report, duplicate_group_ids
from engines.intake import (
    DatasetIndex,
    ImageRecord,
    IntakeError,
    IntakeLimits,
    pick_samples,
    profile_dataset,
    scan_dataset,
    stratified_split,
    unpack_upload,
)
from engines.profile import DatasetProfile
from engines.progress import (
    Cancelled,
    CancelToken,
    Progress,
    ProgressCallback,
    ignore_progress,
    scaled_progress,
)
from engines.results import Result, RunConfig, Validation, ValidationTask, message

if TYPE_CHECKING:  # the validation engine imports torch: load it only when validating
    from engines.validation import LabeledSplit


class NotValidatable(UserError, ValueError):
    """The sample can be profiled but not validated; the message says what to do."""


@dataclass
class PreparedDataset:
    """An unpacked, scanned and profiled upload."""

    root: Path
    index: DatasetIndex
    profile: DatasetProfile


def prepare_dataset(
    source: Path,
    work_dir: Path,
    limits: IntakeLimits | None = None,
    claimed_n_images: int | None = None,
    progress: ProgressCallback = ignore_progress,
) -> PreparedDataset:
    """Unpack (if a zip), scan, profile and health-check an upload.

    The health check here uses pixels only (exact duplicates, image quality, class
    balance); the validation redoes it on pretrained embeddings.

    Args:
        source: A zip file or a folder.
        work_dir: Where a zip is unpacked.
        limits: Size and safety limits of the intake.
        claimed_n_images: How many images the client says they have, if said.
        progress: Receives the scan's progress (every image decoded and verified).

    Returns:
        The dataset root, its index and its profile (with ``health`` filled).

    Raises:
        engines.intake.IntakeError: When the upload cannot be used, with what to do.

    """
    limits = limits or IntakeLimits()
    root = unpack_upload(Path(source), Path(work_dir), limits)
    index = scan_dataset(root, limits, progress=progress)
    profile = profile_dataset(index)
    profile.samples = {
        label: [index.relpath(p) for p in paths]
        for label, paths in pick_samples(index.records, per_class=2).items()
    }
    _apply_health(profile, _health_with_pixels(index, claimed_n_images))
    return PreparedDataset(root=root, index=index, profile=profile)


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


def check_task_validatable(task: str | None) -> None:
    """Raise :class:`NotValidatable` for tasks the quick validation cannot measure yet.

    The quick validation measures classifiers (and segmentation / detection where the
    sample carries masks or boxes). Generative and image-to-image tasks produce images,
    and 3D landmarks read volumes or meshes: nothing here measures them yet, and the
    message says so plainly rather than reporting a classification proxy as evidence.
    """
    if task is None:
        return
    from advisor.knowledge_base import knowledge_base

    spec = knowledge_base().tasks.get(task)
    if spec is None:
        return
    if spec.framing == "one_to_many":
        raise NotValidatable(
            f"The quick validation cannot validate {spec.name.en.lower()} yet: it measures "
            "classifiers, not generated images. Use the advice (python -m advisor recommend) "
            "and judge a pilot by the task's metrics and by eye."
        )
    if spec.modality in ("volume_3d", "mesh_3d"):
        raise NotValidatable(
            f"The quick validation cannot validate {spec.name.en.lower()} yet: it reads 2D "
            "images, not 3D volumes or meshes. Use the advice (python -m advisor recommend)."
        )


def evidence_from_validation(validation: Validation, target: float | None = None) -> Evidence:
    """Translate measured experiments into the advisor's evidence terms.

    Args:
        validation: What the run measured.
        target: The client's target accuracy ("images needed" is read for it).

    Returns:
        The evidence the rules reason with.

    """
    strategies = []
    for exp in validation.experiments:
        acc = exp.accuracy
        strategies.append(
            StrategyResult(
                strategy_id=exp.strategy.value,
                backbone=exp.backbone,
                accuracy=acc.value,
                ci_low=acc.ci_low if acc.ci_low is not None else acc.value,
                ci_high=acc.ci_high if acc.ci_high is not None else acc.value,
                seconds=exp.seconds or 0.0,
            )
        )
    # Unpaired samples get one call per collection: no single similarity to reason with.
    sim = validation.similarity if validation.task != ValidationTask.UNPAIRED else None
    curve = validation.learning_curve
    at_10x = curve.prediction_at(10.0) if curve else None
    needed = validation.images_needed(target)
    return Evidence(
        measured_similarity=sim.call if sim else None,
        similarity_score=sim.score if sim else None,
        strategies=strategies,
        predicted_accuracy_10x=at_10x.value if at_10x else None,
        images_for_target=needed.n if needed is not None and needed.reachable else None,
        skipped=[
            SkippedStrategy(s.strategy.value, s.estimated_seconds, s.reason)
            for s in validation.skipped
        ],
    )


def recommend_for(prepared: PreparedDataset, intake: Intake) -> Recommendation:
    """Recommend from the consultant's answers and the profile (before evidence)."""
    return recommend(intake, prepared.profile)


def _health_with_pixels(index: DatasetIndex, claimed: int | None) -> dict[str, Any]:
    return build_health_report(index, None, claimed_n_images=claimed)


def _apply_health(profile: DatasetProfile, health: dict[str, Any]) -> None:
    profile.health = health
    profile.effective_n_images = int(health["effective_n_images"])


def _labeled_split(
    index: DatasetIndex, groups: list[int], seed: int
) -> tuple[LabeledSplit, list[ImageRecord]]:
    """The fixed split every experiment shares: the upload's own, else stratified."""
    from engines.validation import LabeledSplit

    counts: dict[str, int] = {}
    for r in index.records:
        if r.label is not None:
            counts[r.label] = counts.get(r.label, 0) + 1
    keep = [i for i, r in enumerate(index.records) if r.label is not None and counts[r.label] >= 2]
    records = [index.records[i] for i in keep]
    given_train = [r for r in records if r.split == "train"]
    given_held = [r for r in records if r.split in ("val", "test")]
    if (
        given_train
        and given_held
        and {r.label for r in given_train} >= {r.label for r in given_held}
    ):
        train, held_out = given_train, given_held
        method = "the upload's own train / validation folders"
    else:
        kept_groups = [groups[i] for i in keep]
        train, held_out = stratified_split(records, seed=seed, groups=kept_groups)
        method = "stratified 75/25 hold-out; exact and near-duplicate groups kept on one side"
        if records and not held_out:
            raise UserError(
                f"No held-out images could be set aside: the {len(records)} images form "
                f"only {len(set(kept_groups))} groups of copies or near-duplicates, and a "
                "group never sits on both sides of the split (its copies would score "
                "themselves). Add distinct images, at least two per class, or give the "
                "upload its own train/ and val/ folders."
            )
        held_labels = {r.label for r in held_out}
        missing = sorted(cast("set[str]", {r.label for r in records} - held_labels))
        if len(held_labels) < 2 and missing:
            n_groups = {
                name: len({g for g, r in zip(kept_groups, records, strict=True) if r.label == name})
                for name in missing
            }
            raise UserError(
                "The held-out images hold a single class, so no accuracy could be measured: "
                + "; ".join(
                    f"the {counts[name]} images of {name!r} form {n_groups[name]} group(s) of "
                    "copies or near-duplicates"
                    for name in missing
                )
                + ", and a group never sits on both sides of the split. Add distinct images "
                "of those classes, or give the upload its own train/ and val/ folders."
            )
    class_names = sorted(cast("set[str]", {r.label for r in records}))  # all labeled here
    to_int: dict[str | None, int] = {name: i for i, name in enumerate(class_names)}
    split = LabeledSplit(
        train_paths=[r.path for r in train],
        train_labels=[to_int[r.label] for r in train],
        val_paths=[r.path for r in held_out],
        val_labels=[to_int[r.label] for r in held_out],
        class_names=class_names,
        root=index.root,
        method=method,
    )
    return split, records


def validate(
    source: Path,
    out_dir: Path,
    config: RunConfig | None = None,
    *,
    intake: Intake | None = None,
    work_dir: Path | None = None,
    reference_images: Path | None = None,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> Result:
    """Run the whole pipeline on an upload and write result.json and the reports.

    Labeled samples (class folders, manifests) get the classification validation:
    strategies and backbones compared on one split, similarity, learning curve,
    deployment figures. Input-only samples get the natural-groups analysis, unpaired
    ones the domain gap. The health check is redone on pretrained embeddings, so
    near-duplicates are found and kept on one side of the split.

    Args:
        source: A zip file or folder (any layout the intake accepts).
        out_dir: Where result.json and the reports are written.
        config: The consultant's and the settings' choices (see
            :func:`advisor.run_config.run_config`); what it leaves open is filled from
            the recommendation and the intake, and the resolved configuration is
            stored verbatim in result.json.
        intake: The consultant's answers (defaults: everything inferred).
        work_dir: Where a zip is unpacked (None: a temporary folder).
        reference_images: Optional folder of images from the deployment site; the
            domain gap between them and the sample is measured after the validation
            (``validation.site_gap``; its seconds are in ``timings.site_gap``, outside
            the budget, since the consultant asked for it on top).
        progress: Progress callback.
        cancel: Cancellation token.

    Returns:
        The result document (also written to ``out_dir/result.json``).

    Raises:
        engines.intake.IntakeError: The upload cannot be read.
        NotValidatable: The sample cannot be validated, with what to upload instead.
        engines.results.ConfigError: A setting is invalid.

    """
    intake = intake or Intake()
    if reference_images is not None and not Path(reference_images).is_dir():
        raise IntakeError(
            f"The reference images {Path(reference_images).name!r} are not a "
            "folder: give a folder of images from the deployment site."
        )
    timings: dict[str, float] = {}
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fa-upload-") as tmp:
        prepared = prepare_dataset(
            Path(source), Path(work_dir or tmp) / "upload", claimed_n_images=intake.claimed_n_images
        )
        # torch is loaded only now: an upload that cannot be validated (one class) is
        # refused in a second, not after seconds of imports and a GB of memory.
        task = intake.task or prepared.profile.task_hint
        if task not in ("segmentation", "detection") and prepared.profile.data_type == "paired":
            check_validatable(prepared.profile)
        from engines.validation import embed_images, run_validation

        profile = prepared.profile
        timings["profile"] = round(time.monotonic() - start, 3)
        prior = recommend_for(prepared, intake)
        resolved = resolve_run_config(config or RunConfig(), prior, intake)
        # The budget covers the whole run from here, profiling and report included.
        engine_config = resolved.replace(
            cache_dir=resolved.cache_dir or Path(tmp) / "features",
            started_at=resolved.started_at if resolved.started_at is not None else start,
        )
        t1 = time.monotonic()
        measured = _run_for_layout(
            prepared, intake, engine_config, progress, cancel, embed_images, run_validation
        )
        validation = (
            measured if isinstance(measured, Validation) else Validation.model_validate(measured)
        )
        timings["validation"] = round(time.monotonic() - t1, 3)
        if reference_images is not None:
            validation = _with_site_gap(
                validation, prepared, Path(reference_images), engine_config, progress, cancel
            )
            timings["site_gap"] = round(time.monotonic() - t1 - timings["validation"], 3)
        final = recommend(
            intake, profile, evidence_from_validation(validation, resolved.target_accuracy)
        )
        timings["total"] = round(time.monotonic() - start, 3)
        result = build_result(
            source=Path(source).name,
            profile=profile.to_dict(),
            intake=intake.to_dict(),
            recommendation={"prior": prior.to_dict(), **final.to_dict()},
            validation=validation,
            config=resolved,
            timings=timings,
        )
        write_result(result, Path(out_dir))
        from advisor.report import write_report

        # Written while the upload is still unpacked, so its images can be embedded.
        write_report(
            result.to_json_dict(),
            Path(out_dir),
            language=intake.language,
            formats=resolved.report_formats,
            image_root=prepared.root,
        )
    return result


def _with_site_gap(
    validation: Validation,
    prepared: PreparedDataset,
    reference_images: Path,
    config: RunConfig,
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> Validation:
    """The validation with the domain gap to the deployment-site images added."""
    from advisor.site_gap import measure_site_gap

    progress(Progress("site_gap", 0.97, "Comparing the deployment-site images"))
    gap = measure_site_gap(
        prepared,
        reference_images,
        backbone=config.backbone,
        device=config.device,
        cache_dir=config.cache_path,
        seed=config.seed,
        cancel=cancel,
    )
    return validation.model_copy(update={"site_gap": gap})


def _run_for_layout(
    prepared: PreparedDataset,
    intake: Intake,
    config: RunConfig,
    progress: ProgressCallback,
    cancel: CancelToken | None,
    embed_images: Any,
    run_validation: Any,
) -> dict[str, Any]:
    """Choose the validation the sample allows and run it."""
    from engines.validation.unlabeled import run_unlabeled_validation, run_unpaired_validation

    profile, index = prepared.profile, prepared.index
    task = intake.task or profile.task_hint
    check_task_validatable(task)
    if task == "segmentation" and any(r.mask_path for r in index.records):
        return _segmentation(index, config, progress, cancel)
    if task == "detection" and any(r.boxes is not None for r in index.records):
        return _detection(index, config, progress, cancel)
    if profile.data_type == "input_only":
        if len(index.records) < 4:
            raise NotValidatable(
                "An unlabeled sample needs at least four images to look for natural groups; "
                "upload more images, or class folders to measure accuracy."
            )
        return run_unlabeled_validation(
            [r.path for r in index.records],
            config,
            root=index.root,
            progress=progress,
            cancel=cancel,
        )
    if profile.data_type == "unpaired":
        collections: dict[str, list[Path]] = {}
        for r in index.records:
            if r.domain is not None:
                collections.setdefault(r.domain, []).append(r.path)
        try:
            return run_unpaired_validation(collections, config, progress=progress, cancel=cancel)
        except ValueError as exc:
            raise NotValidatable(str(exc)) from exc
    check_validatable(profile)
    feats = embed_images(
        [r.path for r in index.records],
        config.backbone,
        config.device,
        config.cache_dir,
        config.batch_size,
        scaled_progress(progress, 0.0, 0.3),
        cancel,
    )
    _first_look(index, profile, feats.features, config, progress)
    progress(Progress("health", 0.3, "Checking duplicates and labels on the embeddings"))
    health = build_health_report(
        index, feats.features, claimed_n_images=intake.claimed_n_images, seed=config.seed
    )
    _apply_health(profile, health)
    split, _ = _labeled_split(index, duplicate_group_ids(health), config.seed)
    return run_validation(
        split, config, progress=scaled_progress(progress, 0.32, 1.0), cancel=cancel
    )


def _first_look(
    index: DatasetIndex,
    profile: DatasetProfile,
    features: Any,
    config: RunConfig,
    progress: ProgressCallback,
) -> None:
    """Report the first linear-probe accuracy, with its interval, before the health check.

    It uses the split of the pixel health check (exact duplicates kept on one side);
    the validation refits it on the final split.
    """
    from engines.validation.probe import first_probe

    try:
        split, _ = _labeled_split(index, duplicate_group_ids(profile.health), config.seed)
        row_of = {r.path: i for i, r in enumerate(index.records)}
        acc = first_probe(features, row_of, split, config.seed)
    except (ValueError, KeyError):
        return  # too few images per class: the validation says why
    progress(
        Progress(
            "linear_probe",
            0.3,
            f"First look: linear probe accuracy {acc['value']:.1%} "
            f"(95% CI {acc['ci_low']:.1%}-{acc['ci_high']:.1%})",
            metric={
                "accuracy": float(acc["value"]),
                "ci_low": float(acc["ci_low"]),
                "ci_high": float(acc["ci_high"]),
            },
        )
    )


def _task_evidence(
    task: str, config: RunConfig, measure: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Run a task engine and wrap its output as the ``validation`` part of result.json.

    An engine's refusal of the sample (EngineError) becomes :class:`NotValidatable`
    with its message; cancellation passes through.
    """
    from engines.device import describe_device, resolve_device
    from engines.errors import EngineError

    start = time.monotonic()
    try:
        measured = measure()
    except Cancelled:
        raise
    except EngineError as exc:
        raise NotValidatable(str(exc)) from exc
    return {
        "task": task,
        "device": describe_device(resolve_device(config.device)),
        "backbone": {"name": config.backbone},
        task: measured,
        "experiments": [],
        "budget": {
            "seconds": config.budget_seconds,
            "used_seconds": round(time.monotonic() - start, 3),
        },
        "warnings": [],
    }


def _segmentation(
    index: DatasetIndex,
    config: RunConfig,
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> dict[str, Any]:
    """Encoder-decoder quick fine-tune on images with masks: Dice and IoU with intervals."""
    from engines.segmentation import SegmentationConfig, run_segmentation_validation

    strategies = tuple("frozen_encoder" if s == "linear_probe" else s for s in config.strategies)
    seg_config = SegmentationConfig(
        backbone=config.backbone,
        strategies=strategies,
        budget_seconds=config.budget_seconds,
        device=config.device,
        seed=config.seed,
    )
    records = [r for r in index.records if r.mask_path is not None]
    validation = _task_evidence(
        "segmentation",
        config,
        lambda: run_segmentation_validation(records, None, seg_config, progress, cancel),
    )
    validation["warnings"] = list(validation["segmentation"].get("notes", []))
    validation["warning_codes"] = list(validation["segmentation"].get("note_codes", []))
    return validation


def _detection(
    index: DatasetIndex,
    config: RunConfig,
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> dict[str, Any]:
    """Detection evidence (sizes, balance, crop separability), then a detector fine-tune.

    The cheap evidence comes first with a quarter of the budget; the quick detector
    fine-tune (mAP with intervals) gets what is left and is stored under
    ``detection.detector`` (None when it could not run; the warning says why).
    """
    from engines.detection import DetectionConfig, run_detection_evidence
    from engines.detection.finetune import DetectorConfig, run_detector_finetune
    from engines.errors import EngineError

    evidence_share = 0.25
    total = config.budget_seconds
    start = time.monotonic()
    det_config = DetectionConfig(
        backbone=config.backbone,
        device=config.device,
        seed=config.seed,
        budget_seconds=None if total is None else max(1.0, evidence_share * total),
    )
    records = [r for r in index.records if r.boxes is not None]
    validation = _task_evidence(
        "detection",
        config,
        lambda: run_detection_evidence(
            records, det_config, scaled_progress(progress, 0.0, evidence_share), cancel
        ),
    )
    evidence = validation["detection"]
    left = None if total is None else total - (time.monotonic() - start)
    detector = None
    reason = None
    if left is not None and left < 5:
        reason = f"no time was left after the evidence ({left:.0f} s)"
    else:
        try:
            detector = run_detector_finetune(
                records,
                DetectorConfig(
                    backbone=config.backbone,
                    budget_seconds=left,
                    device=config.device,
                    seed=config.seed,
                ),
                tiling_advice=(evidence.get("sizes") or {}).get("tiling"),
                progress=scaled_progress(progress, evidence_share, 1.0),
                cancel=cancel,
            )
        except Cancelled:
            raise
        except EngineError as exc:
            reason = str(exc)
    evidence["detector"] = detector
    best = next(
        (
            r
            for r in (detector or {}).get("runs", [])
            if r["id"] == (detector or {}).get("best_run")
        ),
        None,
    )
    if best is None:
        skips = (detector or {}).get("skipped", [])
        skipped = "; ".join(s["reason"] for s in skips)
        validation["warnings"] = [
            "No detector result: "
            + (reason or skipped or "no run fitted the budget")
            + ". The evidence is object sizes, class balance and whether box crops can be "
            "told apart with frozen features."
        ]
        why: Any = (
            message("detector_no_time_left", left_s=round(left or 0.0, 1))
            if reason is not None and left is not None and left < 5
            else message("detector_error", error=reason)
            if reason is not None
            else [
                s.get("reason_code") or message("detector_error", error=s["reason"]) for s in skips
            ]
            or message("detector_no_run_fitted")
        )
        validation["warning_codes"] = [message("no_detector_result", why=why)]
    else:
        runs = (detector or {})["runs"]
        validation["warnings"] = [n for r in runs for n in r["notes"]]
        validation["warning_codes"] = [c for r in runs for c in r.get("note_codes", [])]
    validation["budget"]["used_seconds"] = round(time.monotonic() - start, 3)
    return validation


def recommend_from_profile(profile: dict[str, Any], intake: Intake | None = None) -> Recommendation:
    """Recommend from a stored profile (``DatasetProfile.to_dict()``) and the answers."""
    return recommend(intake or Intake(), DatasetProfile.from_dict(profile))
