"""Quick detector fine-tune on the client's sample: cost first, then mAP with intervals.

Order of work, so that nothing is reported that was not measured:

1. The annotated images are split (the upload's own train/val folders, else a seeded
   75/25 hold-out by image) and letterboxed to the detector's input size.
2. The cost is measured on the sample itself: the frozen part of the encoder on one
   batch, then a few real training steps. From these, the seconds the minimum useful
   training (``min_epochs``) needs are estimated; a run that does not fit the time
   left is *skipped*, with the seconds it would need, instead of reporting an
   undertrained detector.
3. The detector trains as many epochs as the budget pays for (up to ``max_epochs``),
   with a cosine learning-rate schedule planned for that length.
4. The held-out images are scored with COCO's evaluation
   (:mod:`engines.detection.scores`): mAP@0.5, mAP@[.5:.95], per-class AP, with
   bootstrap intervals over images.
5. Small objects: when the tiling advice for this input size
   (:func:`engines.detection.sizes.object_size_stats`) says the whole frame shrinks
   the objects below the target, a second detector is trained and evaluated on tiles
   (slices of ``tile_side_px`` native pixels, as SAHI does: Akyon et al. 2022), and
   both results are reported when the budget pays for both.
6. What a GPU would change is estimated from the measured FLOPs per input and an
   assumed sustained GPU throughput.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from engines.detection.detector import (
    Detector,
    Inputs,
    TrainState,
    box_array,
    build_detector,
    cache_frozen,
    crop_boxes,
    forward_flops,
    letterbox,
    merge_per_image,
    predict_inputs,
    start_stages,
    train_for,
)
from engines.detection.overlays import make_box_overlays
from engines.detection.scores import detection_scores
from engines.detection.sizes import tile_starts
from engines.device import describe_device, resolve_device
from engines.errors import EngineError
from engines.images import load_rgb
from engines.intake.records import ImageRecord
from engines.intake.split import stratified_split
from engines.progress import (
    CancelToken,
    Deadline,
    Progress,
    ProgressCallback,
    ignore_progress,
)
from engines.results.base import message
from engines.segmentation.model import create_encoder

MIN_IMAGES = 6
ASSUMED_GPU_FLOPS = 8e12
"""Sustained training throughput assumed for a GPU (FLOP/s), the same as the report's
default ``gpu_effective_flops`` (small convolutional networks reach about a tenth of
a data-centre GPU's peak)."""
GPU_STEP_SECONDS = 0.02
"""Assumed least wall time of one training step on a GPU, whatever its FLOPs: a
network of about a hundred layers launches several hundred kernels forward and
backward, plus FCOS's target matching (an assumption of the order of PyTorch's
per-kernel launch overhead, some microseconds each)."""
TILE_OVERLAP = 0.2
_MEASURE_STEPS = 4
_RESERVE = 0.05
"""Share of the time left kept for scoring, pictures and writing the result."""


class DetectorSkipped(EngineError):
    """Raised internally when a run cannot train enough in the time left."""


@dataclass
class DetectorConfig:
    """Settings of the quick detector fine-tune.

    Attributes:
        backbone: Encoder (bundled offline by default).
        input_size: Side of the square detector input (a multiple of 32).
        start_stage: First encoder stage trained (None: a partial fine-tune from right
            after the stride-8 level when the budget pays for it, else the frozen
            encoder; the encoder's stage count freezes it whole).
        channels: Channels of the feature pyramid and the head.
        head_convs: Convolutions per head branch.
        batch_size: Inputs per training step.
        lr: Peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        min_epochs: Fewest epochs worth reporting; a run that cannot train them in the
            time left is skipped, with the time it needs.
        max_epochs: Most epochs trained even when the budget allows more.
        flip: Also train on mirrored inputs (their frozen features cached too).
        val_fraction: Held-out share when the upload has no split folders.
        tiling: Train and evaluate a tiled detector when the advice says tiles are
            needed ("auto"), never ("off").
        max_tiles: Most training tiles (tiles with boxes first, then empty ones).
        n_boot: Bootstrap resamples of the held-out images.
        n_overlays: Held-out images drawn with true and predicted boxes.
        overlay_score: Lowest score of a drawn prediction.
        output_dir: Folder for overlay PNGs (None: base64 in the result).
        pretrained: Load the encoder's pretrained weights.
        budget_seconds: Wall-clock budget (None: no limit).
        device: "auto", "cpu", "cuda" or "mps".
        gpu_flops: Sustained GPU FLOP/s assumed for the GPU estimate.
        seed: Seed of the split, the batches and the bootstrap.

    """

    backbone: str = "efficientnet_lite0"
    input_size: int = 320
    start_stage: int | None = None
    channels: int = 32
    head_convs: int = 2
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-4
    min_epochs: int = 10
    max_epochs: int = 60
    flip: bool = True
    val_fraction: float = 0.25
    tiling: str = "auto"
    max_tiles: int = 2000
    n_boot: int = 200
    n_overlays: int = 4
    overlay_score: float = 0.3
    output_dir: str | None = None
    pretrained: bool = True
    budget_seconds: float | None = 180.0
    device: str = "auto"
    gpu_flops: float = ASSUMED_GPU_FLOPS
    seed: int = 0

    def __post_init__(self) -> None:
        if self.input_size < 64 or self.input_size % 32:
            raise ValueError("input_size must be a multiple of 32 of at least 64 (e.g. 320).")
        if self.min_epochs < 1 or self.max_epochs < self.min_epochs:
            raise ValueError("min_epochs must be >= 1 and max_epochs >= min_epochs.")
        if self.tiling not in ("auto", "off"):
            raise ValueError('tiling must be "auto" or "off".')
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError("val_fraction must be between 0 and 1 (e.g. 0.25).")
        if self.batch_size < 1 or self.n_boot < 0:
            raise ValueError("batch_size must be >= 1 and n_boot >= 0.")
        if self.budget_seconds is not None and self.budget_seconds <= 0:
            raise ValueError("budget_seconds must be positive (or None for no limit).")

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-ready data."""
        return asdict(self)


def _stored_size(record: ImageRecord) -> tuple[int, int]:
    if record.info is not None:
        return record.info.width, record.info.height
    from PIL import Image

    with Image.open(record.path) as im:
        return im.size


def _whole_frames(
    records: Sequence[ImageRecord], classes: dict[str, int], size: int
) -> tuple[Inputs, list[dict[str, np.ndarray]]]:
    """Letterboxed whole images and the native truth of each."""
    images, boxes, labels, source, truths = [], [], [], [], []
    for i, r in enumerate(records):
        img = load_rgb(r.path)
        xyxy, lab = box_array(
            [(classes[b.label], b.x, b.y, b.w, b.h) for b in r.boxes or [] if b.w > 0 and b.h > 0]
        )
        pixels, scale = letterbox(img, size)
        images.append(pixels)
        boxes.append(xyxy * scale)
        labels.append(lab)
        source.append((i, 0.0, 0.0, scale))
        truths.append({"boxes": xyxy.astype(np.float64), "labels": lab})
    return Inputs(np.stack(images), boxes, labels, source), truths


def _tiles(
    records: Sequence[ImageRecord],
    classes: dict[str, int],
    size: int,
    tile: int,
    overlap: float,
    train: bool,
    max_tiles: int,
    seed: int,
) -> Inputs:
    """Tiles of ``tile`` native px (overlapping), each letterboxed to ``size``.

    For training, tiles holding at least half of a box come first; empty tiles fill up
    to one per box-holding tile; at most ``max_tiles`` in all.
    """
    rng = np.random.default_rng(seed)
    full: list[tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, float, float, float]]] = []
    empty: list[tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, float, float, float]]] = []
    for i, r in enumerate(records):
        img = load_rgb(r.path)
        xyxy, lab = box_array(
            [(classes[b.label], b.x, b.y, b.w, b.h) for b in r.boxes or [] if b.w > 0 and b.h > 0]
        )
        tw, th = min(tile, img.width), min(tile, img.height)
        for y0 in tile_starts(img.height, th, overlap):
            for x0 in tile_starts(img.width, tw, overlap):
                b, lb = crop_boxes(xyxy, lab, x0, y0, tw, th)
                pixels, scale = letterbox(img.crop((x0, y0, x0 + tw, y0 + th)), size)
                item = (pixels, b * scale, lb, (i, float(x0), float(y0), scale))
                (full if b.shape[0] or not train else empty).append(item)
    if train:
        rng.shuffle(full)
        rng.shuffle(empty)
        full = full[:max_tiles]
        full += empty[: min(len(full), max_tiles - len(full))]
    if not full:
        return Inputs(np.zeros((0, size, size, 3), np.uint8), [], [], [])
    return Inputs(
        np.stack([f[0] for f in full]),
        [f[1] for f in full],
        [f[2] for f in full],
        [f[3] for f in full],
    )


def _per_image_recall(
    truth: dict[str, np.ndarray], pred: dict[str, np.ndarray], min_score: float
) -> float:
    """Share of true boxes found (IoU >= 0.5, same class, score >= ``min_score``)."""
    from torchvision.ops import box_iou

    t = np.asarray(truth["boxes"]).reshape(-1, 4)
    if t.shape[0] == 0:
        return float("nan")
    keep = pred["scores"] >= min_score
    p, pl = pred["boxes"][keep].reshape(-1, 4), pred["labels"][keep]
    if p.shape[0] == 0:
        return 0.0
    iou = box_iou(torch.from_numpy(t).float(), torch.from_numpy(p).float()).numpy()
    iou[truth["labels"][:, None] != pl[None, :]] = 0.0
    return float(np.mean(iou.max(axis=1) >= 0.5))


class _Run:
    """One detector (whole frame or tiled): cost measured, trained, scored."""

    def __init__(
        self,
        run_id: str,
        config: DetectorConfig,
        det: Detector,
        train: Inputs,
        val: Inputs,
        device: torch.device,
    ) -> None:
        self.id, self.config, self.det, self.train, self.val = run_id, config, det, train, val
        self.device = device
        self.cost: dict[str, Any] = {}
        self.state: TrainState | None = None
        self.flip = config.flip

    def measure(self, cancel: CancelToken | None) -> dict[str, Any]:
        """Time the frozen part on one batch and a few real training steps on it."""
        b = min(self.config.batch_size, len(self.train))
        head = Inputs(
            self.train.images[:b],
            self.train.boxes[:b],
            self.train.labels[:b],
            self.train.source[:b],
        )
        t0 = time.monotonic()
        first = cache_frozen(self.det, head, self.device, b, cancel=cancel)
        cache_s = (time.monotonic() - t0) / b
        probe = TrainState(
            self.det,
            head,
            first,
            None,
            self.device,
            b,
            self.config.lr,
            self.config.weight_decay,
            self.config.seed,
        )
        probe.total_steps = 50  # warm-up learning rates only
        for _ in range(_MEASURE_STEPS):
            if cancel is not None:
                cancel.raise_if_cancelled()
            probe.train_step()
        step_s = float(np.median(probe.step_seconds[1:])) / b
        self.cost = {
            "frozen_seconds_per_input": round(cache_s, 5),
            "train_seconds_per_input": round(step_s, 5),
            "predict_seconds_per_input": round(cache_s + step_s / 3, 5),
            "measured_on_inputs": b,
            "measured_steps": _MEASURE_STEPS,
        }
        self._first = first
        return self.cost

    def estimate(self, epochs: int, flip: bool) -> float:
        """Seconds to cache, train ``epochs`` and predict the held-out inputs."""
        n = len(self.train)
        views = 2 if flip else 1
        c = self.cost
        return (
            c["frozen_seconds_per_input"] * (n * views - len(self._first))
            + epochs * n * c["train_seconds_per_input"]
            + len(self.val) * c["predict_seconds_per_input"]
        )

    def plan(self, available: float) -> int:
        """Epochs the time affords (0: not even ``min_epochs``); may drop the flips."""
        cfg = self.config
        for flip in (True, False) if self.flip else (False,):
            fixed = self.estimate(0, flip)
            per_epoch = len(self.train) * self.cost["train_seconds_per_input"]
            epochs = int(
                min(cfg.max_epochs, math.floor((available - fixed) / max(per_epoch, 1e-9)))
            )
            if epochs >= cfg.min_epochs:
                self.flip = flip
                return epochs
        self.flip = False
        return 0

    def fit(
        self,
        epochs: int,
        deadline_at: float | None,
        progress: ProgressCallback,
        cancel: CancelToken | None,
    ) -> dict[str, Any]:
        """Cache the frozen features and train ``epochs`` epochs (cut at the deadline)."""
        t0 = time.monotonic()
        b = len(self._first)
        rest = Inputs(
            self.train.images[b:],
            self.train.boxes[b:],
            self.train.labels[b:],
            self.train.source[b:],
        )
        cache = self._first + (
            cache_frozen(self.det, rest, self.device, self.config.batch_size, cancel=cancel)
            if len(rest)
            else []
        )
        flipped = (
            cache_frozen(
                self.det, self.train, self.device, self.config.batch_size, flip=True, cancel=cancel
            )
            if self.flip
            else None
        )
        cache_seconds = time.monotonic() - t0
        state = TrainState(
            self.det,
            self.train,
            cache,
            flipped,
            self.device,
            min(self.config.batch_size, len(self.train)),
            self.config.lr,
            self.config.weight_decay,
            self.config.seed,
        )
        steps_per_epoch = max(1, math.ceil(len(self.train) / state.batch_size))
        state.total_steps = epochs * steps_per_epoch
        t1 = time.monotonic()
        stopped = train_for(state, state.total_steps, deadline_at, progress, cancel)
        self.state = state
        return {
            "cache_seconds": round(cache_seconds, 3),
            "train_seconds": round(time.monotonic() - t1, 3),
            "stopped_by": stopped,
            "steps": state.step,
            "epochs": round(state.step / steps_per_epoch, 2),
            "steps_per_epoch": steps_per_epoch,
        }


def run_detector_finetune(
    records: Sequence[ImageRecord],
    config: DetectorConfig | None = None,
    tiling_advice: Sequence[dict[str, Any]] | None = None,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Fine-tune a light FCOS detector on the sample within the budget and score it.

    Args:
        records: Scanned records; those with ``boxes`` and no EXIF rotation are used.
        config: Settings and budget (defaults: :class:`DetectorConfig`).
        tiling_advice: ``sizes["tiling"]`` of :func:`engines.detection.run_detection_evidence`
            (the entry for the input size used is taken, else the tiling is derived
            here from the boxes).
        progress: Progress callback (overall fraction).
        cancel: Cancellation token.

    Returns:
        JSON-ready ``{"model", "classes", "split", "cost", "runs", "best_run",
        "skipped", "gpu_estimate", "overlays", "device", "config", "timings",
        "notes"}``. Each run: ``id`` ("whole_frame" or "tiled"), ``tiling``,
        ``n_train_inputs``, ``n_val_inputs``, ``planned_epochs``, ``epochs``,
        ``steps``, ``stopped_by``, ``history``, ``metrics``
        (:func:`engines.detection.scores.detection_scores`), ``seconds``,
        ``seconds_breakdown``. ``skipped``: ``[{run, reason, estimated_seconds,
        budget_seconds}]``.

    Raises:
        DetectionDataError: Too few annotated images, no box, or a split without a
            training or held-out image.
        BackboneUnavailable: The encoder cannot be built here.
        Cancelled: The caller cancelled.

    """
    from engines.detection.evidence import DetectionDataError
    from engines.detection.sizes import object_size_stats

    t_start = time.monotonic()
    config = config or DetectorConfig()
    deadline = Deadline(config.budget_seconds)
    notes: list[str] = []
    usable = [
        r for r in records if r.boxes is not None and (r.info is None or not r.info.exif_rotated)
    ]
    if len(usable) < sum(r.boxes is not None for r in records):
        notes.append(
            "Images with an EXIF rotation were left out: their boxes may refer to "
            "the unrotated pixels."
        )
    names = sorted({b.label for r in usable for b in r.boxes or [] if b.w > 0 and b.h > 0})
    if len(usable) < MIN_IMAGES or not names:
        raise DetectionDataError(
            f"{len(usable)} annotated images with {len(names)} box classes: a detector "
            f"fine-tune needs at least {MIN_IMAGES} images with boxes. Upload more "
            "annotated images (Pascal VOC XML or a COCO JSON)."
        )
    classes = {n: k for k, n in enumerate(names)}
    train_recs, val_recs = stratified_split(usable, config.val_fraction, seed=config.seed)
    if len(train_recs) < 2 or not val_recs:
        raise DetectionDataError(
            f"The split leaves {len(train_recs)} training and {len(val_recs)} held-out "
            "images; upload more annotated images or put some in a val/ folder."
        )
    split_source = (
        "upload split folders"
        if {r.split for r in usable} & {"val", "test"} and "train" in {r.split for r in usable}
        else "seeded hold-out by image"
    )
    device = resolve_device(config.device)
    progress(Progress("detector_prepare", 0.0, "Loading the detector's encoder"))
    t0 = time.monotonic()
    encoder = create_encoder(config.backbone, pretrained=config.pretrained)
    load_seconds = time.monotonic() - t0
    progress(Progress("detector_prepare", 0.05, f"Decoding {len(usable)} images"))
    t0 = time.monotonic()
    sizes = [_stored_size(r) for r in usable]
    longer = float(np.median([max(w, h) for w, h in sizes]))
    # smaller frames than the input are not blown up: the input shrinks to them
    input_size = int(min(config.input_size, max(64, 32 * math.ceil(longer / 32))))
    if input_size < config.input_size:
        notes.append(
            f"Input size {input_size} px instead of {config.input_size}: the images "
            f"are {longer:.0f} px on their longer side (median)."
        )
    train_in, _ = _whole_frames(train_recs, classes, input_size)
    val_in, truths = _whole_frames(val_recs, classes, input_size)
    decode_seconds = time.monotonic() - t0

    advice = None
    if config.tiling == "auto":
        for entry in tiling_advice or []:
            if entry.get("input_size") == input_size:
                advice = entry
        if advice is None:
            rows = [
                (b.x, b.y, b.w, b.h, *wh)
                for r, wh in zip(usable, sizes, strict=True)
                for b in r.boxes or []
            ]
            advice = object_size_stats(rows, (input_size,))["tiling"][0]

    candidates_all = start_stages(encoder[0])
    candidates = (
        [config.start_stage]
        if config.start_stage is not None
        else [candidates_all[0], candidates_all[-1]]
    )

    def new_detector(stage: int) -> Detector:
        det = build_detector(
            config.backbone,
            len(names),
            input_size,
            channels=config.channels,
            head_convs=config.head_convs,
            start_stage=stage,
            encoder=encoder,
        )
        torch.manual_seed(config.seed)
        return det.to(device)

    runs: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    predictions: dict[str, list[dict[str, np.ndarray]]] = {}
    cost: dict[str, Any] = {}
    flops: dict[str, float] = {}
    plans: list[tuple[str, dict[str, Any] | None]] = [("whole_frame", None)]
    if advice is not None and advice.get("tiling_needed") and int(advice["tile_side_px"]) < longer:
        plans.append(("tiled", advice))
    elif advice is not None and advice.get("tiling_needed"):
        notes.append(
            f"No tiled run: the advised {advice['tile_side_px']}-px tiles are no "
            "smaller than the frames; only a larger input size would help."
        )
    elif advice is not None:
        notes.append(
            f"No tiled run: at input size {input_size} the whole frame keeps "
            "the objects at the target size."
        )
    for k, (run_id, tiling) in enumerate(plans):
        if cancel is not None:
            cancel.raise_if_cancelled()
        t_run = time.monotonic()
        lo, hi = 0.1 + 0.85 * k / len(plans), 0.1 + 0.85 * (k + 1) / len(plans)
        if tiling is not None:
            tile = int(tiling["tile_side_px"])
            progress(Progress("detector_prepare", lo, f"Cutting {tile}-px tiles"))
            tr = _tiles(
                train_recs,
                classes,
                input_size,
                tile,
                TILE_OVERLAP,
                True,
                config.max_tiles,
                config.seed,
            )
            va = _tiles(val_recs, classes, input_size, tile, TILE_OVERLAP, False, 0, 0)
            if len(tr) < 2:
                skipped.append(
                    {
                        "run": run_id,
                        "reason": "fewer than two training tiles hold a box",
                        "reason_code": message("detector_too_few_tiles"),
                        "estimated_seconds": None,
                        "budget_seconds": round(deadline.remaining, 1),
                    }
                )
                continue
        else:
            tr, va = train_in, val_in
        run, epochs = None, 0
        for stage in candidates:
            det = new_detector(stage)
            run = _Run(run_id, config, det, tr, va, device)
            run.measure(cancel)
            if not flops:
                flops = forward_flops(det, device)
                cost = dict(run.cost)
            available = float("inf")
            if config.budget_seconds is not None:
                # the runs still to come share the time left equally; one that needs less
                # (max_epochs reached) leaves the rest to the next
                available = deadline.remaining * (1 - _RESERVE) / (len(plans) - k)
            epochs = run.plan(available) if config.budget_seconds is not None else config.max_epochs
            if epochs:
                break
            need = run.estimate(config.min_epochs, False) + (time.monotonic() - t_run)
            skipped.append(
                {
                    "run": run_id,
                    "encoder": _mode(stage, candidates_all),
                    "reason": (
                        f"not run: {config.min_epochs} epochs on {len(tr)} inputs need about "
                        f"{need:.0f} s on this device and {available:.0f} s were left"
                    ),
                    "reason_code": message(
                        "detector_skipped_budget",
                        epochs=config.min_epochs,
                        n_inputs=len(tr),
                        needed_s=round(float(need), 1),
                        left_s=round(float(available), 1),
                    ),
                    "estimated_seconds": round(need, 1),
                    "budget_seconds": round(available, 1),
                    "cost": run.cost,
                }
            )
        if not epochs or run is None:
            continue
        end = (
            None
            if config.budget_seconds is None
            else (time.monotonic() + available - len(va) * run.cost["predict_seconds_per_input"])
        )

        def relay(p: Progress, lo: float = lo, hi: float = hi) -> None:
            progress(
                Progress(
                    "detector_train", lo + (hi - lo) * 0.9 * p.fraction, p.message, metric=p.metric
                )
            )

        fitted = run.fit(epochs, end, relay, cancel)
        t_pred = time.monotonic()
        preds = predict_inputs(det, va, device, config.batch_size, cancel)
        merged = merge_per_image(preds, va, len(val_recs))
        predict_seconds = time.monotonic() - t_pred
        metrics = detection_scores(truths, merged, names, n_boot=config.n_boot, seed=config.seed)
        predictions[run_id] = merged
        run_notes = []
        run_note_codes = []
        undertrained = fitted["epochs"] < config.min_epochs
        if fitted["stopped_by"] == "budget" or cast(TrainState, run.state).replanned:
            run_notes.append(
                f"Training ran slower than measured before it started (a shared machine): "
                f"{fitted['epochs']} of {epochs} planned epochs fitted the budget."
            )
            run_note_codes.append(
                message("detector_slower_than_measured", epochs=fitted["epochs"], planned=epochs)
            )
        if undertrained:
            run_notes.append(
                f"Fewer than {config.min_epochs} epochs: the scores understate what this "
                "detector reaches with the time it needs."
            )
            run_note_codes.append(message("detector_undertrained", epochs=config.min_epochs))
        runs.append(
            {
                "id": run_id,
                "tiling": None
                if tiling is None
                else {
                    "tile_side_px": int(tiling["tile_side_px"]),
                    "overlap": TILE_OVERLAP,
                    "scale_needed": tiling.get("scale_needed"),
                },
                "encoder": _mode(run.det.pyramid.start_stage, candidates_all),
                "trained_from_stage": run.det.pyramid.start_stage,
                "n_train_images": len(train_recs),
                "n_train_inputs": len(tr),
                "n_val_inputs": len(va),
                "mirrored_inputs": run.flip,
                "planned_epochs": epochs,
                "epochs": fitted["epochs"],
                "steps": fitted["steps"],
                "stopped_by": fitted["stopped_by"],
                "undertrained": undertrained,
                "history": run.state.history if run.state else [],
                "metrics": metrics,
                "cost": run.cost,
                "seconds": round(time.monotonic() - t_run, 3),
                "seconds_breakdown": {
                    "frozen_features": fitted["cache_seconds"],
                    "train": fitted["train_seconds"],
                    "predict": round(predict_seconds, 3),
                },
                "notes": run_notes,
                "note_codes": run_note_codes,
            }
        )
        m50 = metrics["map50"]["value"]
        progress(
            Progress(
                "detector_train",
                hi,
                f"{run_id.replace('_', ' ')}: mAP@0.5 "
                f"{m50 if m50 is not None else float('nan'):.3f}",
                metric={"map50": m50 if m50 is not None else float("nan")},
            )
        )

    scored = [r for r in runs if r["metrics"]["map50"]["value"] is not None]
    best = max(scored, key=lambda r: r["metrics"]["map50"]["value"]) if scored else None
    overlays: list[dict[str, Any]] = []
    if best is not None and config.n_overlays:
        preds = predictions[best["id"]]
        recall = np.asarray(
            [
                _per_image_recall(t, p, config.overlay_score)
                for t, p in zip(truths, preds, strict=True)
            ]
        )
        overlays = make_box_overlays(
            [r.path for r in val_recs],
            [_display_name(r.path, usable) for r in val_recs],
            truths,
            preds,
            names,
            recall,
            config.n_overlays,
            config.overlay_score,
            output_dir=Path(config.output_dir) if config.output_dir else None,
            prefix=f"boxes_{best['id']}",
        )
        for o in overlays:
            o["run"] = best["id"]
    gpu = _gpu_estimate(cost, flops, len(train_in), len(val_in), config, deadline)
    progress(Progress("detector_train", 1.0, "Detector fine-tune done"))
    return {
        "model": {
            "detector": f"FCOS (Tian et al. 2019), torchvision {_version('torchvision')}",
            "backbone": config.backbone,
            "backbone_source": str(
                (getattr(encoder[0], "pretrained_cfg", {}) or {}).get("source", "timm")
            )
            if config.pretrained
            else "random init",
            "neck": f"FPN P3-P7, {config.channels} channels",
            "head_convs": config.head_convs,
            "input_size": input_size,
            "encoder_stages": len(cast(Any, encoder[0]).blocks),
        },
        "classes": names,
        "split": {"n_train": len(train_recs), "n_val": len(val_recs), "source": split_source},
        "cost": {
            **cost,
            "flops_frozen_per_input": flops.get("frozen"),
            "flops_trained_per_input": flops.get("trained"),
        },
        "runs": runs,
        "best_run": best["id"] if best is not None else None,
        "skipped": skipped,
        "gpu_estimate": gpu,
        "overlays": overlays,
        "device": describe_device(device),
        "config": config.to_dict(),
        "timings": {
            "encoder_load": round(load_seconds, 3),
            "decode": round(decode_seconds, 3),
            "total": round(time.monotonic() - t_start, 3),
        },
        "notes": notes,
    }


def _mode(stage: int, stages: Sequence[int]) -> str:
    """``frozen_encoder`` when no encoder stage trains, else ``partial_finetune``."""
    return "frozen_encoder" if stage == stages[-1] else "partial_finetune"


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def _display_name(path: Path, records: Sequence[ImageRecord]) -> str:
    import os

    try:
        root = Path(os.path.commonpath([str(r.path.parent) for r in records]))
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).name


def _gpu_estimate(
    cost: dict[str, Any],
    flops: dict[str, float],
    n_train: int,
    n_val: int,
    config: DetectorConfig,
    deadline: Deadline,
) -> dict[str, Any] | None:
    """What a GPU would change: seconds for the minimum training, epochs in the budget."""
    if not cost or not flops:
        return None
    train_flops = 3.0 * flops["trained"]  # forward + backward of the trained part
    cpu_rate = train_flops / max(cost["train_seconds_per_input"], 1e-9)
    steps = math.ceil(n_train / config.batch_size)
    gpu_epoch = max(n_train * train_flops / config.gpu_flops, steps * GPU_STEP_SECONDS)
    gpu_fixed = (
        2 * n_train * flops["frozen"] + n_val * (flops["frozen"] + flops["trained"])
    ) / config.gpu_flops
    budget = config.budget_seconds
    return {
        "assumed_gpu_flops_per_second": config.gpu_flops,
        "assumed_gpu_seconds_per_step": GPU_STEP_SECONDS,
        "measured_cpu_flops_per_second": round(cpu_rate, 1),
        "training_flops_per_input": train_flops,
        "gpu_seconds_per_epoch": round(gpu_epoch, 4),
        "gpu_seconds_min_epochs": round(gpu_fixed + config.min_epochs * gpu_epoch, 3),
        "cpu_seconds_per_epoch": round(n_train * cost["train_seconds_per_input"], 3),
        "speedup": round(config.gpu_flops / max(cpu_rate, 1e-9), 1),
        "epochs_in_budget_on_gpu": (
            None if budget is None else int(max(0.0, budget - gpu_fixed) / max(gpu_epoch, 1e-9))
        ),
        "method": (
            "3 x forward FLOPs of the trained part per input (measured with "
            "torch.utils.flop_counter) over an assumed sustained GPU throughput, and "
            "at least the assumed fixed time of one step (kernel launches, loss "
            "matching) per batch; an estimate, not a measurement"
        ),
    }
