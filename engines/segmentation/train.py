"""Training the segmentation network with one transfer strategy, within a time budget.

* ``frozen_encoder``: the pretrained encoder is fixed and only the decoder learns —
  the segmentation counterpart of a linear probe. The encoder's feature maps are
  computed once per training view (the image, and its mirror images where the domain
  allows) and cached, so an epoch costs only the decoder.
* ``partial_finetune``: the stem and the first ``freeze_stages`` stages stay frozen
  (Yosinski et al. 2014, "How transferable are features in deep neural networks?",
  NeurIPS); their output is cached the same way for EfficientNet-style encoders.
* ``full_finetune``: everything trains, the encoder at a lower learning rate than the
  new decoder (discriminative fine-tuning, Howard & Ruder 2018).

Loss: cross-entropy plus the soft Dice loss (Milletari, Navab & Ahmadi 2016, "V-Net",
3DV), which keeps small foreground objects from being drowned by background pixels.
AdamW, linear warm-up then cosine decay; the schedule is resized after the first epoch
to the epochs the budget allows. Early stopping watches a slice of the *training*
split, so the held-out images that give the reported scores never steer training.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engines.progress import CancelToken, Deadline, Progress, ProgressCallback, ignore_progress
from engines.segmentation.config import SegmentationConfig
from engines.segmentation.data import PairArrays, normalise
from engines.segmentation.masks import IGNORE_INDEX
from engines.segmentation.model import (
    SegmentationNet,
    create_decoder,
    forward_stages,
    is_staged,
)
from engines.segmentation.scores import image_counts

_CACHE_BATCH = 16


@dataclass
class TrainedModel:
    """A trained network and how its training went.

    ``cached_frozen_part`` and ``stop_stage`` say which cached activations the network
    reads (see :func:`forward_from_cache`): the whole pyramid (``stop_stage`` None) or
    the output of the first ``stop_stage`` stages.
    """

    net: SegmentationNet
    strategy: str
    epochs: int
    stopped_by: str
    history: list[dict[str, float]]
    trainable_parameters: int
    frozen_stages: int
    cached_frozen_part: bool
    n_train: int
    n_early_stop: int
    seconds: float
    stop_stage: int | None = None
    views: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def view_names(config: SegmentationConfig) -> list[str]:
    """Training views valid in this domain: the image, and its allowed mirror images."""
    names = ["identity"]
    if config.hflip:
        names.append("hflip")
    if config.vflip:
        names.append("vflip")
    return names


def _apply_view(arr: np.ndarray, view: str) -> np.ndarray:
    """Flip a batch ``(n, H, W, ...)`` as the view says."""
    if view == "hflip":
        return arr[:, :, ::-1]
    if view == "vflip":
        return arr[:, ::-1]
    return arr


def _soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, n_classes: int) -> torch.Tensor:
    """1 - mean soft Dice of the foreground classes over the batch (void pixels left out)."""
    valid = target != IGNORE_INDEX
    t = torch.where(valid, target, torch.zeros_like(target)).long()
    v = valid.unsqueeze(1).float()
    prob = logits.float().softmax(1) * v
    onehot = F.one_hot(t, n_classes).permute(0, 3, 1, 2).float() * v
    inter = (prob * onehot).sum((0, 2, 3))
    denom = prob.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    dice = (2 * inter + 1.0) / (denom + 1.0)
    return 1.0 - (dice[1:] if n_classes > 1 else dice).mean()


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return 0.01 + 0.99 * step / max(1, warmup)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))


def _freeze_generic(encoder: Any, n_stages: int) -> int:
    """Freeze the encoder's first children up to its ``n_stages``-th pyramid output."""
    names = encoder.feature_info.module_name()
    stop_at = names[min(n_stages, len(names)) - 1].split(".")[0]
    frozen = 0
    for name, child in encoder.named_children():
        for p in child.parameters():
            p.requires_grad_(False)
        frozen += 1
        if name == stop_at:
            break
    return frozen


def build_cache(
    encoder: nn.Module,
    images: np.ndarray,
    data_cfg: dict[str, Any],
    views: Sequence[str],
    stop_stage: int | None,
    device: torch.device,
    cancel: CancelToken | None = None,
) -> list[torch.Tensor]:
    """Frozen-part outputs of every image in every view, stored in half precision.

    Args:
        encoder: The (frozen) encoder.
        images: ``uint8`` ``(n, S, S, 3)``.
        data_cfg: Preprocessing of the encoder's weights.
        views: View names (:func:`view_names`).
        stop_stage: Cache the pyramid outputs and the activation after this many
            stages (staged encoders); None caches the encoder's four outputs.
        device: Where to compute.
        cancel: Cancellation token.

    Returns:
        One tensor per cached level, ``(len(views) * n, C, h, w)``; row ``v * n + i``
        is image ``i`` in view ``v``.

    """
    levels: list[list[torch.Tensor]] = []
    encoder.eval()
    with torch.inference_mode():
        for view in views:
            flipped = _apply_view(images, view)
            for k in range(0, images.shape[0], _CACHE_BATCH):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                x = normalise(flipped[k : k + _CACHE_BATCH], data_cfg["mean"], data_cfg["std"]).to(
                    device
                )
                if stop_stage is None:
                    outs = list(encoder(x))
                else:
                    last, feats = forward_stages(encoder, x, -1, stop_stage, [])
                    outs = [*feats, last]
                if not levels:
                    levels = [[] for _ in outs]
                for lst, o in zip(levels, outs, strict=True):
                    lst.append(o.to("cpu", torch.float16))
    return [torch.cat(lst) for lst in levels]


def cached_levels(
    encoder: nn.Module,
    data_cfg: dict[str, Any],
    pairs: PairArrays,
    views: Sequence[str],
    stop_stage: int | None,
    device: torch.device,
    cache: dict[Any, list[torch.Tensor]] | None,
    progress: Any = None,
    cancel: CancelToken | None = None,
) -> list[torch.Tensor]:
    """Frozen-part activations for a strategy, computed once and shared through ``cache``.

    When a partial fine-tune's frozen part ends on a pyramid level (for EfficientNet-
    Lite0, three frozen stages end at stride 8), its activations are a prefix of the
    frozen encoder's pyramid, so that cache serves both strategies.

    Args:
        encoder: The pretrained encoder (its frozen part is what is cached).
        data_cfg: Its preprocessing.
        pairs: Training pairs.
        views: Training views.
        stop_stage: None for the whole encoder, else the number of frozen stages.
        device: Where to compute.
        cache: Shared store (None: not shared).
        progress: Called with a message before a cache is computed.
        cancel: Cancellation token.

    Returns:
        The cached levels (see :func:`build_cache`).

    """
    base = (tuple(views), int(pairs.images.shape[1]), id(pairs))
    out_stages = sorted(getattr(encoder, "_stage_out_idx", {}) or {})
    reuse = stop_stage is not None and stop_stage in out_stages
    key = ("pyramid", *base) if stop_stage is None or reuse else ("stage", stop_stage, *base)
    store = cache if cache is not None else {}
    if key not in store:
        if progress is not None:
            progress("Computing the frozen encoder's features once")
        store[key] = build_cache(
            encoder,
            pairs.images,
            data_cfg,
            views,
            None if key[0] == "pyramid" else stop_stage,
            device,
            cancel,
        )
    levels = store[key]
    if reuse:
        n_before = sum(1 for s in out_stages if s <= stop_stage)
        return [*levels[:n_before], levels[n_before - 1]]
    return levels


def _stop_score(counts: np.ndarray) -> float:
    pooled = counts.sum(axis=0)
    inter, total = pooled[1:, 0].astype(float), pooled[1:, 1] + pooled[1:, 2]
    present = pooled[1:, 2] > 0
    if not present.any():
        return float("nan")
    return float(np.mean(2 * inter[present] / np.maximum(total[present], 1)))


def forward_from_cache(
    net: SegmentationNet,
    inputs: list[torch.Tensor],
    stop_stage: int | None,
    out_size: tuple[int, int],
) -> torch.Tensor:
    """Logits from cached frozen-part activations (see :func:`cached_levels`).

    Args:
        net: The network.
        inputs: Cached levels of a batch: the pyramid, or the pyramid outputs before
            ``stop_stage`` followed by that stage's activation.
        stop_stage: None when ``inputs`` is the whole pyramid, else the frozen stages.
        out_size: ``(H, W)`` of the logits.

    Returns:
        Logits ``(N, C, H, W)``.

    """
    if stop_stage is None:
        return net.decoder(inputs, out_size)
    _, feats = forward_stages(
        net.encoder, inputs[-1], stop_stage, len(net.encoder.blocks), inputs[:-1]
    )
    return net.decoder(feats, out_size)


def train_segmentation(
    encoder: nn.Module,
    data_cfg: dict[str, Any],
    pairs: PairArrays,
    train_idx: np.ndarray,
    stop_idx: np.ndarray,
    n_classes: int,
    strategy: str,
    config: SegmentationConfig,
    *,
    device: torch.device,
    budget_seconds: float | None,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    cache: dict[Any, list[torch.Tensor]] | None = None,
    stage: str | None = None,
    views: Sequence[str] | None = None,
) -> TrainedModel:
    """Train a copy of the encoder and a new decoder with one strategy.

    Args:
        encoder: Pretrained features-only encoder (left untouched; a copy is trained).
        data_cfg: Its preprocessing.
        pairs: Decoded training pairs (training and early-stopping images).
        train_idx: Rows of ``pairs`` that train.
        stop_idx: Rows of ``pairs`` that judge early stopping (may be empty).
        n_classes: Classes, background included.
        strategy: "frozen_encoder", "partial_finetune" or "full_finetune".
        config: Hyper-parameters.
        device: Where to train.
        budget_seconds: Wall-clock budget of this run; epochs stop before exceeding it.
        progress: Progress callback (``fraction`` is this run's share done).
        cancel: Cancellation token, checked every step.
        cache: Shared store of frozen-part activations, filled on first use, so that
            repeated runs (the learning curve) compute them once.
        stage: Stage name reported in progress (default: the strategy).
        views: Training views of the cached strategies (default: :func:`view_names`);
            the caller may drop the mirror views when the budget cannot pay their cache.

    Returns:
        :class:`TrainedModel`, with the best state on the early-stopping slice loaded.

    """
    start = time.monotonic()
    deadline = Deadline(budget_seconds)
    stage = stage or strategy
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    size = int(pairs.images.shape[1])
    # Module.to takes a device and a memory format together (its stub lacks that overload).
    enc = copy.deepcopy(encoder).to(  # type: ignore[call-overload]
        device, memory_format=torch.channels_last
    )
    for p in enc.parameters():
        p.requires_grad_(strategy == "full_finetune")
    decoder = create_decoder(enc, n_classes, config.decoder_channels).to(  # type: ignore[call-overload]
        device, memory_format=torch.channels_last
    )
    staged = is_staged(enc)
    n_blocks = len(enc.blocks) if staged else 0
    notes: list[str] = []
    frozen_stages = 0
    cached = strategy == "frozen_encoder" or (strategy == "partial_finetune" and staged)
    views = list(views) if views is not None and cached else view_names(config)
    k_stop: int | None = None
    if strategy == "frozen_encoder":
        frozen_stages = n_blocks if staged else len(enc.feature_info.module_name())
    elif strategy == "partial_finetune":
        if staged:
            frozen_stages = min(config.freeze_stages, n_blocks - 1)
            k_stop = frozen_stages
            for p in enc.blocks[frozen_stages:].parameters():
                p.requires_grad_(True)
        else:
            for p in enc.parameters():
                p.requires_grad_(True)
            frozen_stages = _freeze_generic(enc, config.freeze_stages)
            notes.append(
                "The encoder's frozen part is recomputed every step (no cache for "
                "this architecture)."
            )
    mean, std = data_cfg["mean"], data_cfg["std"]
    levels: list[torch.Tensor] = []
    if cached:
        levels = cached_levels(
            enc,
            data_cfg,
            pairs,
            views,
            k_stop,
            device,
            cache,
            progress=lambda m: progress(Progress(stage, 0.0, m)),
            cancel=cancel,
        )
    n_all = len(pairs)

    pair_net = SegmentationNet(enc, decoder)

    def batch(idx: np.ndarray, train: bool) -> tuple[Any, torch.Tensor]:
        vids = rng.integers(0, len(views), size=idx.size) if train else np.zeros(idx.size, int)
        masks = np.stack(
            [
                _apply_view(pairs.masks[i : i + 1], views[v])[0]
                for i, v in zip(idx, vids, strict=True)
            ]
        )
        y = torch.from_numpy(np.ascontiguousarray(masks)).long().to(device)
        if cached:
            rows = torch.from_numpy(vids * n_all + idx)
            return [lvl[rows].float().to(device) for lvl in levels], y
        imgs = np.stack(
            [
                _apply_view(pairs.images[i : i + 1], views[v])[0]
                for i, v in zip(idx, vids, strict=True)
            ]
        )
        return normalise(imgs, mean, std).to(device), y

    def run(inputs: Any) -> torch.Tensor:
        if cached:
            return forward_from_cache(pair_net, inputs, k_stop, (size, size))
        return decoder(enc(inputs), (size, size))

    trainable_enc = [p for p in enc.parameters() if p.requires_grad]
    groups: list[dict[str, Any]] = [{"params": list(decoder.parameters()), "lr": config.lr}]
    if trainable_enc:
        groups.append({"params": trainable_enc, "lr": config.lr * config.encoder_lr_factor})
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    base_lrs = [g["lr"] for g in groups]
    steps_per_epoch = max(1, math.ceil(train_idx.size / config.batch_size))
    plan = {"total": steps_per_epoch * config.max_epochs}
    warmup = max(1, int(config.warmup_fraction * plan["total"]))
    for g, lr in zip(optimizer.param_groups, base_lrs, strict=True):
        g["lr"] = lr * _lr_factor(0, plan["total"], warmup)
    ce = nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX)

    def set_train_mode() -> None:
        decoder.train()
        enc.eval()  # frozen batch-norm statistics stay pretrained
        if strategy == "full_finetune":
            enc.train()
        elif strategy == "partial_finetune":
            if staged:
                enc.blocks[frozen_stages:].train()
            else:
                for child in enc.children():
                    if any(p.requires_grad for p in child.parameters()):
                        child.train()

    def stop_counts() -> np.ndarray:
        decoder.eval()
        enc.eval()
        rows = []
        with torch.inference_mode():
            for k in range(0, stop_idx.size, config.batch_size):
                idx = stop_idx[k : k + config.batch_size]
                inputs, y = batch(idx, train=False)
                pred = run(inputs).argmax(1).cpu().numpy()
                for p_img, t_img in zip(pred, y.cpu().numpy(), strict=True):
                    rows.append(image_counts(p_img, t_img, n_classes)[0])
        return np.stack(rows)

    history: list[dict[str, float]] = []
    best_state, best_score, bad, step = None, -1.0, 0, 0
    stopped_by = "max_epochs"
    epoch_seconds = 0.0
    max_epochs = config.max_epochs
    probe_steps = min(3, steps_per_epoch)
    epoch = 0
    while epoch < max_epochs:
        if epoch > 0 and deadline.remaining < epoch_seconds * 1.1:
            stopped_by = "budget"
            break
        t0 = time.monotonic()
        set_train_mode()
        order = rng.permutation(train_idx)
        running, seen = 0.0, 0
        # Balanced chunks: never a lone image, whose batch-norm statistics are undefined.
        for n_step, idx in enumerate(np.array_split(order, steps_per_epoch)):
            if cancel is not None:
                cancel.raise_if_cancelled()
            if n_step and deadline.remaining <= 0:
                stopped_by = "budget"  # an epoch longer than the whole budget: cut it short
                break
            inputs, y = batch(idx, train=True)
            logits = run(inputs)
            loss = ce(logits, y)
            if config.dice_loss_weight > 0:
                loss = loss + config.dice_loss_weight * _soft_dice_loss(logits, y, n_classes)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if step == probe_steps and budget_seconds is not None:
                # Fit the schedule to the epochs the budget allows, so that a short run
                # still warms up and decays instead of stopping mid-warm-up.
                per_step = (time.monotonic() - t0) / step
                fit = int(deadline.remaining / max(per_step * steps_per_epoch * 1.1, 1e-9)) + 1
                if fit < max_epochs:
                    max_epochs = max(1, fit)
                    plan["total"] = steps_per_epoch * max_epochs
                    warmup = max(1, int(config.warmup_fraction * plan["total"]))
            factor = _lr_factor(step, plan["total"], warmup)
            for g, lr in zip(optimizer.param_groups, base_lrs, strict=True):
                g["lr"] = lr * factor
            running += float(loss.detach()) * idx.size
            seen += idx.size
        record: dict[str, float] = {"epoch": epoch + 1, "train_loss": running / max(seen, 1)}
        if stop_idx.size:
            score = _stop_score(stop_counts())
            record["early_stop_dice"] = score
            if not math.isnan(score) and score > best_score:
                best_score, bad = score, 0
                best_state = (copy.deepcopy(enc.state_dict()), copy.deepcopy(decoder.state_dict()))
            else:
                bad += 1
        epoch_seconds = time.monotonic() - t0
        record["seconds"] = round(epoch_seconds, 3)
        if epoch == 0 and budget_seconds is not None:
            # Re-plan on the measured epoch (the probe on the first steps is noisier).
            fit = int(max(0.0, deadline.remaining / max(epoch_seconds * 1.1, 1e-6))) + 1
            max_epochs = min(config.max_epochs, fit)
            plan["total"] = steps_per_epoch * max_epochs
            warmup = max(1, int(config.warmup_fraction * plan["total"]))
            if max_epochs < config.max_epochs:
                notes.append(f"The budget allows about {max_epochs} epochs.")
        history.append(record)
        epoch += 1
        progress(
            Progress(
                stage,
                epoch / max_epochs,
                f"Epoch {epoch}: loss {record['train_loss']:.3f}",
                eta_seconds=epoch_seconds * (max_epochs - epoch),
                metric={"early_stop_dice": record.get("early_stop_dice", float("nan"))},
            )
        )
        if stopped_by == "budget":
            break
        if stop_idx.size and bad >= config.patience:
            stopped_by = "early_stopping"
            break
    if best_state is not None:
        enc.load_state_dict(best_state[0])
        decoder.load_state_dict(best_state[1])
    net = pair_net.eval()
    trainable = sum(p.numel() for p in decoder.parameters()) + sum(p.numel() for p in trainable_enc)
    return TrainedModel(
        net=net,
        strategy=strategy,
        epochs=len(history),
        stopped_by=stopped_by,
        history=history,
        trainable_parameters=int(trainable),
        frozen_stages=frozen_stages,
        cached_frozen_part=cached,
        n_train=int(train_idx.size),
        n_early_stop=int(stop_idx.size),
        seconds=round(time.monotonic() - start, 3),
        stop_stage=k_stop,
        views=list(views),
        notes=notes,
    )
