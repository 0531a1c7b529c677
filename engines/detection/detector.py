"""A light FCOS detector on a pretrained timm encoder, trained fast on the CPU.

Model: torchvision's FCOS head and loss (Tian, Shen, Chen & He 2019, "FCOS: Fully
Convolutional One-Stage Object Detection", ICCV) over a feature pyramid (Lin et al.
2017, "Feature Pyramid Networks for Object Detection", CVPR, with the P6/P7 levels of
RetinaNet) built on the strides 8, 16 and 32 of a timm ``features_only`` encoder that
carries the bundled offline ImageNet weights (:func:`engines.segmentation.model.
create_encoder`). The pyramid and the head are slimmed for CPUs (32 channels by default
and two convolutions per branch, instead of 256 and four).

FCOS is anchor-free: one prediction per feature-map cell, assigned to objects by size
range per level, so there are no anchor shapes to fit to the client's boxes.

Fast training: the encoder's stem and first stages (up to stride 8) stay frozen, as do
all its batch-norm statistics (batches of a few images cannot estimate them). The
frozen part runs once per training input and its output is cached; each training step
runs only the later stages, the pyramid and the head.

Inputs: every image (or tile) is letterboxed to a square ``size x size`` canvas: the
longer side is resized to ``size``, the rest padded with mid-gray, so boxes scale by
one factor and batches need no further padding.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.models.detection import FCOS
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.fcos import (
    FCOSClassificationHead,
    FCOSHead,
    FCOSRegressionHead,
)
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

from engines.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from engines.segmentation.model import create_encoder, forward_stages, is_staged

ANCHOR_SIZES = ((8,), (16,), (32,), (64,), (128,))
"""One point per cell of P3-P7; FCOS uses these as the levels' strides (size ranges
0-64, 64-128, 128-256, 256-512 and beyond, in input pixels)."""

PAD_VALUE = 128


@dataclass
class Inputs:
    """Letterboxed network inputs and their boxes, in input pixels.

    Attributes:
        images: ``(N, size, size, 3)`` uint8.
        boxes: Per input, ``(n, 4)`` float32 ``x0, y0, x1, y1``.
        labels: Per input, ``(n,)`` int64 class indices (0-based).
        source: Per input, ``(image index, x offset, y offset, scale)``: input pixel
            ``p`` is native pixel ``offset + p / scale`` of that image.

    """

    images: np.ndarray
    boxes: list[np.ndarray]
    labels: list[np.ndarray]
    source: list[tuple[int, float, float, float]] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.images.shape[0])


def letterbox(image: Image.Image, size: int) -> tuple[np.ndarray, float]:
    """Resize the longer side to ``size`` and pad to a square (top-left aligned).

    Returns:
        ``(pixels, scale)``: ``(size, size, 3)`` uint8 and input px per native px.

    """
    scale = size / max(image.size)
    w, h = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    canvas[:h, :w] = np.asarray(image.convert("RGB").resize((w, h), Image.Resampling.BILINEAR))
    return canvas, scale


def box_array(
    boxes: Sequence[tuple[int, float, float, float, float]],
) -> tuple[np.ndarray, np.ndarray]:
    """``[(label, x, y, w, h)]`` in native px to ``(xyxy float32, labels int64)``."""
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.int64)
    arr = np.asarray([[x, y, x + w, y + h] for _, x, y, w, h in boxes], np.float32)
    return arr, np.asarray([lab for lab, *_ in boxes], np.int64)


def crop_boxes(
    xyxy: np.ndarray,
    labels: np.ndarray,
    x0: float,
    y0: float,
    side_w: float,
    side_h: float,
    min_visible: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes of a crop, clipped to it; those with under ``min_visible`` of their area left out."""
    if xyxy.shape[0] == 0:
        return xyxy, labels
    c = xyxy.copy()
    c[:, [0, 2]] = np.clip(c[:, [0, 2]] - x0, 0, side_w)
    c[:, [1, 3]] = np.clip(c[:, [1, 3]] - y0, 0, side_h)
    area = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
    kept = (c[:, 2] - c[:, 0]) * (c[:, 3] - c[:, 1])
    keep = (kept > 0) & (kept >= min_visible * np.maximum(area, 1e-9))
    return c[keep], labels[keep]


def start_stages(encoder: Any) -> list[int]:
    """Stages where training may start: right after a level of stride 8 or coarser.

    For EfficientNet-Lite0 ``[3, 5, 7]``: after the stride-8 level (partial fine-tune),
    after the stride-16 level, or after the last stage (frozen encoder).
    """
    if not is_staged(encoder):
        return []
    return sorted(int(k) for k, v in encoder._stage_out_idx.items() if v >= 2)


class _Pyramid(nn.Module):
    """Encoder stages after the frozen part, then the feature pyramid P3-P7."""

    def __init__(self, encoder: Any, start_stage: int, channels: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.start_stage = start_stage
        in_channels = list(encoder.feature_info.channels())[-3:]
        self.fpn = FeaturePyramidNetwork(
            in_channels, channels, extra_blocks=LastLevelP6P7(channels, channels)
        )
        self.out_channels = channels

    def frozen(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Run the frozen stages: the pyramid levels from stride 8 they produce.

        The frozen part ends where a level ends (:func:`start_stages`), so its last
        level is also the input of the first trained stage.
        """
        _, feats = forward_stages(self.encoder, x, -1, self.start_stage, [])
        return feats[1:]

    def from_frozen(self, cached: list[torch.Tensor]) -> list[torch.Tensor]:
        """Pyramid levels P3-P7 from the frozen part's output."""
        _, feats = forward_stages(
            self.encoder, cached[-1], self.start_stage, len(self.encoder.blocks), list(cached)
        )
        levels = OrderedDict((f"p{i + 3}", f) for i, f in enumerate(feats[-3:]))
        return list(self.fpn(levels).values())

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        """P3-P7 of normalised images (the torchvision backbone interface)."""
        levels = self.from_frozen(self.frozen(x))
        return OrderedDict((str(i), f) for i, f in enumerate(levels))


class Detector(nn.Module):
    """FCOS over a partly frozen encoder; inputs are letterboxed ``size x size`` images."""

    mean: torch.Tensor  # registered buffers
    std: torch.Tensor

    def __init__(
        self,
        encoder: Any,
        data_cfg: dict[str, Any],
        num_classes: int,
        size: int,
        channels: int = 32,
        head_convs: int = 2,
        start_stage: int = 3,
        score_thresh: float = 0.05,
    ) -> None:
        super().__init__()
        if not is_staged(encoder):
            raise ValueError("The detector needs an EfficientNet-style staged encoder.")
        self.size = size
        self.pyramid = _Pyramid(encoder, start_stage, channels)
        anchors = AnchorGenerator(ANCHOR_SIZES, ((1.0,),) * len(ANCHOR_SIZES))
        head = FCOSHead(channels, 1, num_classes, num_convs=head_convs)
        # GroupNorm of at least two channels per group: with one, a 1x1 level (P7 of a
        # small input) has a single value per group and cannot be normalised
        norm = partial(nn.GroupNorm, min(32, channels // 2))
        head.classification_head = FCOSClassificationHead(
            channels, 1, num_classes, head_convs, norm_layer=norm
        )
        head.regression_head = FCOSRegressionHead(channels, 1, head_convs, norm_layer=norm)
        self.fcos = FCOS(
            self.pyramid,
            num_classes,
            min_size=size,
            max_size=size,
            image_mean=list(data_cfg["mean"]),
            image_std=list(data_cfg["std"]),
            anchor_generator=anchors,
            head=head,
            score_thresh=score_thresh,
            nms_thresh=0.6,
            detections_per_img=100,
            topk_candidates=1000,
        )
        self.register_buffer("mean", torch.tensor(data_cfg["mean"]).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor(data_cfg["std"]).view(1, 3, 1, 1) * 255)
        for i, block in enumerate(encoder.blocks):
            block.requires_grad_(i >= start_stage)
        encoder.conv_stem.requires_grad_(False)
        encoder.bn1.requires_grad_(False)
        self._anchors: dict[tuple[int, ...], list[torch.Tensor]] = {}

    def train(self, mode: bool = True) -> Detector:
        """Train mode, with every batch norm of the encoder kept in eval mode."""
        super().train(mode)
        for m in self.pyramid.encoder.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, H, W, 3)`` uint8 to normalised float ``(N, 3, H, W)``."""
        x = images.permute(0, 3, 1, 2).float()
        return ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)

    def frozen(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Output of the frozen part for uint8 images (computed without gradients)."""
        with torch.no_grad():
            return self.pyramid.frozen(self.normalise(images))

    def _anchor_list(self, levels: list[torch.Tensor], n: int) -> list[torch.Tensor]:
        key = tuple(int(v) for f in levels for v in f.shape[-2:])
        if key not in self._anchors:
            shape = torch.zeros((), device=levels[0].device).expand(1, 3, self.size, self.size)
            self._anchors = {
                key: self.fcos.anchor_generator(ImageList(shape, [(self.size, self.size)]), levels)
            }
        return self._anchors[key] * n

    def loss(
        self, cached: list[torch.Tensor], targets: list[dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        """FCOS losses (focal classification, GIoU boxes, centre-ness) of a batch."""
        levels = self.pyramid.from_frozen(cached)
        head = self.fcos.head(levels)
        anchors = self._anchor_list(levels, len(targets))
        return self.fcos.compute_loss(
            targets, head, anchors, [f.shape[2] * f.shape[3] for f in levels]
        )

    @torch.no_grad()
    def detect(self, cached: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """Boxes (input px, ``x0 y0 x1 y1``), scores and labels per input, after NMS."""
        levels = self.pyramid.from_frozen(cached)
        head = self.fcos.head(levels)
        n = levels[0].shape[0]
        per_level = [f.shape[2] * f.shape[3] for f in levels]
        split_head = {k: list(v.split(per_level, dim=1)) for k, v in head.items()}
        split_anchors = [list(a.split(per_level)) for a in self._anchor_list(levels, n)]
        return self.fcos.postprocess_detections(
            split_head, split_anchors, [(self.size, self.size)] * n
        )


def build_detector(
    backbone: str,
    num_classes: int,
    size: int,
    pretrained: bool = True,
    channels: int = 32,
    head_convs: int = 2,
    start_stage: int = 3,
    encoder: tuple[nn.Module, dict[str, Any]] | None = None,
) -> Detector:
    """Build the detector on a bundled (offline) or timm encoder.

    Args:
        backbone: Encoder name (:func:`engines.segmentation.model.create_encoder`).
        num_classes: Object classes (no background class: FCOS scores each class alone).
        size: Side of the square input.
        pretrained: Load the encoder's pretrained weights.
        channels: Channels of the pyramid and the head (a multiple of 16).
        head_convs: Convolutions per head branch.
        start_stage: First encoder stage trained (earlier ones stay frozen and cached).
        encoder: An already built ``(encoder, data_cfg)`` (its weights are copied).

    Returns:
        The detector in train mode.

    Raises:
        BackboneUnavailable: The encoder cannot be built here.
        ValueError: A setting is out of range.

    """
    if size < 64 or size % 32:
        raise ValueError(f"The input size must be a multiple of 32 of at least 64, got {size}.")
    if num_classes < 1:
        raise ValueError("A detector needs at least one object class.")
    if channels < 16 or channels % 16:
        raise ValueError("channels must be a multiple of 16 (the head's GroupNorm).")
    import copy

    if encoder is None:
        enc, cfg = create_encoder(backbone, pretrained=pretrained)
    else:
        enc, cfg = copy.deepcopy(encoder[0]), encoder[1]
    allowed = start_stages(enc)
    if start_stage not in allowed:
        raise ValueError(f"start_stage must be one of {allowed}, got {start_stage}.")
    return Detector(enc, cfg, num_classes, size, channels, head_convs, start_stage).train()


def cache_frozen(
    det: Detector,
    inputs: Inputs,
    device: torch.device,
    batch_size: int = 16,
    flip: bool = False,
    cancel: CancelToken | None = None,
) -> list[list[torch.Tensor]]:
    """Frozen-part outputs of every input (half precision, on the device), one per input."""
    out: list[list[torch.Tensor]] = []
    for i in range(0, len(inputs), batch_size):
        if cancel is not None:
            cancel.raise_if_cancelled()
        x = torch.from_numpy(inputs.images[i : i + batch_size]).to(device)
        if flip:
            x = x.flip(2)
        feats = det.frozen(x)
        for j in range(x.shape[0]):
            out.append([f[j].to(torch.float16) for f in feats])
    return out


def _targets(
    inputs: Inputs, rows: Sequence[int], flips: Sequence[bool], size: int, device: torch.device
) -> list[dict[str, torch.Tensor]]:
    out = []
    for r, fl in zip(rows, flips, strict=True):
        b = inputs.boxes[r].copy()
        if fl and b.shape[0]:
            b[:, [0, 2]] = size - b[:, [2, 0]]
        out.append(
            {
                "boxes": torch.from_numpy(b).to(device),
                "labels": torch.from_numpy(inputs.labels[r]).to(device),
            }
        )
    return out


def _stack(
    cache: Sequence[list[torch.Tensor]], rows: Sequence[int], device: torch.device
) -> list[torch.Tensor]:
    return [
        torch.stack([cache[r][k] for r in rows])
        .to(device)
        .float()
        .contiguous(memory_format=torch.channels_last)
        for k in range(len(cache[rows[0]]))
    ]


@dataclass
class TrainState:
    """A detector being trained: optimiser, schedule and what was measured so far."""

    det: Detector
    inputs: Inputs
    cache: list[list[torch.Tensor]]
    cache_flip: list[list[torch.Tensor]] | None
    device: torch.device
    batch_size: int
    lr: float
    weight_decay: float
    seed: int
    total_steps: int = 0
    step: int = 0
    replanned: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    optimizer: torch.optim.Optimizer | None = None
    rng: np.random.Generator | None = None
    _order: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        params = [p for p in self.det.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        self.rng = np.random.default_rng(self.seed)

    def _lr(self) -> float:
        warm = max(1, min(50, self.total_steps // 10)) if self.total_steps else 50
        if self.step < warm:
            return self.lr * (self.step + 1) / warm
        if not self.total_steps:
            return self.lr
        t = min(1.0, (self.step - warm) / max(1, self.total_steps - warm))
        return self.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))

    def _next_rows(self) -> list[int]:
        if len(self._order) < self.batch_size:
            rng = cast(np.random.Generator, self.rng)  # set in __post_init__
            self._order += rng.permutation(len(self.inputs)).tolist()
        rows, self._order = self._order[: self.batch_size], self._order[self.batch_size :]
        return rows

    def train_step(self) -> float:
        """One optimiser step on a batch; returns the loss."""
        t0 = time.monotonic()
        rows = self._next_rows()
        rng = cast(np.random.Generator, self.rng)  # both set in __post_init__
        optimizer = cast(torch.optim.Optimizer, self.optimizer)
        flips = [bool(self.cache_flip is not None and rng.random() < 0.5) for _ in rows]
        cached = [
            self.cache_flip[r] if f else self.cache[r]  # type: ignore[index]
            for r, f in zip(rows, flips, strict=True)
        ]
        feats = _stack(cached, list(range(len(rows))), self.device)
        targets = _targets(self.inputs, rows, flips, self.det.size, self.device)
        for g in optimizer.param_groups:
            g["lr"] = self._lr()
        self.det.train()
        losses = self.det.loss(feats, targets)
        loss = cast(torch.Tensor, sum(losses.values()))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in self.det.parameters() if p.requires_grad], 10.0)
        optimizer.step()
        self.step += 1
        self.step_seconds.append(time.monotonic() - t0)
        return float(loss.detach())


def train_for(
    state: TrainState,
    steps: int,
    deadline_at: float | None,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> str:
    """Run up to ``steps`` more steps; stop at ``deadline_at`` (``time.monotonic()``).

    After each epoch the steps still affordable are recomputed from the measured step
    times; when fewer than planned remain, the schedule is shortened (the cosine decay
    then still ends at a low learning rate) and ``state.replanned`` records it.

    Returns:
        ``"completed"`` or ``"budget"`` (cut by the deadline mid-schedule).

    """
    steps_per_epoch = max(1, math.ceil(len(state.inputs) / state.batch_size))
    losses: list[float] = []
    target = state.step + steps
    while state.step < target:
        if cancel is not None:
            cancel.raise_if_cancelled()
        mean_step = float(np.mean(state.step_seconds[-10:])) if state.step_seconds else 0.0
        if deadline_at is not None and time.monotonic() + mean_step > deadline_at:
            return "budget"
        losses.append(state.train_step())
        if state.step % steps_per_epoch == 0 or state.step == target:
            state.history.append(
                {
                    "epoch": round(state.step / steps_per_epoch, 2),
                    "step": state.step,
                    "loss": float(np.mean(losses)),
                    "seconds": round(float(np.sum(state.step_seconds[-len(losses) :])), 3),
                }
            )
            losses = []
            progress(
                Progress(
                    "detector_train",
                    state.step / max(1, state.total_steps),
                    f"Detector step {state.step}/{state.total_steps}",
                    metric={"loss": state.history[-1]["loss"]},
                )
            )
            if deadline_at is not None and state.step < target:
                recent = float(np.mean(state.step_seconds[-steps_per_epoch:]))
                feasible = state.step + int((deadline_at - time.monotonic()) / recent)
                if feasible < target:
                    target = max(state.step + 1, feasible)
                    state.total_steps = target
                    state.replanned = True
    return "completed"


@torch.no_grad()
def predict_inputs(
    det: Detector,
    inputs: Inputs,
    device: torch.device,
    batch_size: int = 16,
    cancel: CancelToken | None = None,
) -> list[dict[str, np.ndarray]]:
    """Detections per input, mapped back to native pixels of the source image."""
    det.eval()
    out = []
    for i in range(0, len(inputs), batch_size):
        if cancel is not None:
            cancel.raise_if_cancelled()
        x = torch.from_numpy(inputs.images[i : i + batch_size]).to(device)
        dets = det.detect(det.pyramid.frozen(det.normalise(x)))
        for j, d in enumerate(dets):
            _, ox, oy, scale = inputs.source[i + j]
            b = d["boxes"].cpu().numpy().astype(np.float64) / scale
            b[:, [0, 2]] += ox
            b[:, [1, 3]] += oy
            out.append(
                {
                    "boxes": b,
                    "scores": d["scores"].cpu().numpy().astype(np.float64),
                    "labels": d["labels"].cpu().numpy().astype(np.int64),
                }
            )
    det.train()
    return out


def merge_per_image(
    preds: Sequence[dict[str, np.ndarray]],
    inputs: Inputs,
    n_images: int,
    iou: float = 0.6,
    keep: int = 100,
) -> list[dict[str, np.ndarray]]:
    """Join the detections of each image's tiles: class-wise NMS over the whole image."""
    from torchvision.ops import batched_nms

    grouped: list[list[dict[str, np.ndarray]]] = [[] for _ in range(n_images)]
    for p, src in zip(preds, inputs.source, strict=True):
        grouped[src[0]].append(p)
    out = []
    for parts in grouped:
        if not parts:
            out.append(
                {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0, np.int64)}
            )
            continue
        b = np.concatenate([p["boxes"] for p in parts])
        s = np.concatenate([p["scores"] for p in parts])
        lab = np.concatenate([p["labels"] for p in parts])
        if len(parts) > 1 and b.shape[0]:
            k = batched_nms(
                torch.from_numpy(b).float(), torch.from_numpy(s).float(), torch.from_numpy(lab), iou
            ).numpy()[:keep]
            b, s, lab = b[k], s[k], lab[k]
        out.append({"boxes": b, "scores": s, "labels": lab})
    return out


def forward_flops(det: Detector, device: torch.device) -> dict[str, float]:
    """FLOPs of one input through the frozen part and through the trained part."""
    from torch.utils.flop_counter import FlopCounterMode

    det.eval()
    x = torch.zeros((1, det.size, det.size, 3), dtype=torch.uint8, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        cached = det.pyramid.frozen(det.normalise(x))
    frozen = float(fc.get_total_flops())
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        det.fcos.head(det.pyramid.from_frozen(cached))
    det.train()
    return {"frozen": frozen, "trained": float(fc.get_total_flops())}
