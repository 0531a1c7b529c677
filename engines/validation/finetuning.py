"""Which fine-tunes fit in the time left, and running them on the same split.

A fine-tune is only informative if it can train for a few epochs; one that cannot fit
three is skipped with the reason and the time it would need, rather than reported as a
weak number. Its cost is measured, not guessed: the real training step of the strategy
is timed on a batch of the sample's own images at the training input size (median of
several passes), and the estimate is corrected by what the stages before it took.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from engines.finetune import FinetuneConfig, finetune
from engines.progress import CancelToken, Clock, ProgressCallback
from engines.validation.config import LabeledSplit, ValidationConfig

# Epochs a fine-tune needs before its score means something.
MIN_INFORMATIVE_EPOCHS = 3
DEFAULT_FREEZE_FRACTION = 0.6


@dataclass(frozen=True)
class StrategyCost:
    """What one fine-tune costs, measured on real batches of the sample's images.

    Attributes:
        strategy: "partial_finetune" or "full_finetune".
        image_size: Input side the costs were measured (or scaled) at.
        setup: One-off seconds (caching the frozen part; the probe features where the
            input size differs from the probe's).
        per_epoch: Seconds of one epoch: training steps on the training part plus
            scoring the early-stopping slice.
        final: Seconds to score the held-out images.
        measured: True when timed at this size, False when scaled from another size.
        probe_pass: Seconds of one scoring pass over the training part (the probe
            features the LP-FT head needs when the input size is not the probe's).

    """

    strategy: str
    image_size: int
    setup: float
    per_epoch: float
    final: float
    measured: bool = True
    probe_pass: float = 0.0

    def seconds(self, epochs: int) -> float:
        """Predicted seconds of a run of ``epochs`` epochs."""
        return self.setup + epochs * self.per_epoch + self.final

    def epochs_within(self, seconds: float) -> int:
        """Whole epochs that fit in ``seconds``."""
        if self.per_epoch <= 0:
            return 10**6
        return max(0, math.floor((seconds - self.setup - self.final) / self.per_epoch))

    def scaled(self, image_size: int, factor: float = 1.0) -> StrategyCost:
        """The cost at another input size, times a correction ``factor``.

        Compute grows with the pixel count; away from the probe's input size the
        probe features for the LP-FT head must be computed too (``probe_pass``). The
        factor is learnt from the stages run so far (actual / predicted).
        """
        area = (image_size / self.image_size) ** 2
        extra = 0.0 if image_size == self.image_size else self.probe_pass * area
        return StrategyCost(
            self.strategy,
            image_size,
            (self.setup * area + extra) * factor,
            self.per_epoch * area * factor,
            self.final * area * factor,
            measured=self.measured and image_size == self.image_size,
            probe_pass=self.probe_pass * area * factor,
        )


def _median_time(fn: Any, device: torch.device, passes: int, clock: Clock) -> float:
    fn()  # warm-up: allocations, kernel selection, lazy init
    times = []
    for _ in range(passes):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = clock()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(clock() - t0)
    return float(np.median(times))


def measure_strategy_cost(
    strategy: str,
    model: nn.Module,
    data_cfg: dict[str, Any],
    images: np.ndarray,
    n_train: int,
    n_val: int,
    config: ValidationConfig,
    device: torch.device,
    passes: int = 3,
    clock: Clock = time.monotonic,
) -> StrategyCost:
    """Time the real training step of a strategy on real images; estimate its run from it.

    The network is built as the fine-tune builds it (frozen prefix and trainable top
    for the partial fine-tune, the whole model for the full one), fed a batch of the
    sample's own decoded images at the training input size, and one optimizer step
    (forward, backward, AdamW) is timed: the median of ``passes`` passes after a
    warm-up, since single passes on a shared CPU vary by 2-3x. The scoring forward
    pass and (partial) the frozen prefix are timed the same way.

    Args:
        strategy: "partial_finetune" or "full_finetune".
        model: The pretrained backbone (left untouched).
        data_cfg: Its preprocessing.
        images: Decoded uint8 training images at the fine-tune's decode side.
        n_train: Training images (the early-stopping slice is carved from them).
        n_val: Held-out images.
        config: Run settings (batch size, frozen share).
        device: Where to train.
        passes: Timed passes (the median is kept).
        clock: Monotonic clock.

    Returns:
        The :class:`StrategyCost` at the backbone's input size.

    """
    from engines.finetune import (
        _center,
        _freeze_batchnorm,
        _frozen_prefix,
        _is_efficientnet_like,
        _normalise,
        _Tail,
    )

    size = data_cfg["input_size"]
    # A CPU step costs the same per image from a few images up; a GPU needs its real batch.
    # the step is timed at the batch the fine-tune will train with: per image, a larger
    # CPU batch costs more (bigger activations fall out of the caches)
    batch = max(2, min(training_batch_size(config.batch_size, device), len(images)))
    raw = _center(images[:batch], size)
    mean = torch.tensor(data_cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(data_cfg["std"]).view(1, 3, 1, 1)
    x = _normalise(raw, mean, std).to(device)
    work: Any = copy.deepcopy(model).to(device)  # a timm model (blocks, reset_classifier)
    prefix_per_image = 0.0
    cached = strategy == "partial_finetune" and _is_efficientnet_like(work)
    if cached:
        freeze = freeze_stages_for(work, config.freeze_fraction)
        prefix = _frozen_prefix(work, freeze)
        with torch.no_grad():  # a plain tensor: autograd may save it in the step
            x_top = prefix(x)

        def run_prefix() -> None:
            with torch.inference_mode():
                prefix(x)

        prefix_per_image = _median_time(run_prefix, device, max(passes - 1, 1), clock) / batch
        net: nn.Module = _Tail(work, freeze, 2).to(device)
        inputs = x_top
    else:
        work.reset_classifier(2)
        net, inputs = work, x
    net.train()
    _freeze_batchnorm(net)
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-6)
    y = torch.arange(batch, device=device) % 2
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

    def train_step() -> None:
        with autocast:
            loss = nn.functional.cross_entropy(net(inputs), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    train_per_image = _median_time(train_step, device, passes, clock) / batch

    def score() -> None:
        net.eval()
        with torch.inference_mode(), autocast:
            net(inputs)

    eval_per_image = _median_time(score, device, max(passes - 1, 1), clock) / batch
    n_stop = int(round(n_train * 0.15))
    n_inner = n_train - n_stop
    views = 2  # the image and its mirror image are cached (partial)
    setup = prefix_per_image * (views * n_train + n_val) if cached else 0.0
    per_epoch = train_per_image * n_inner + eval_per_image * n_stop
    return StrategyCost(
        strategy,
        size,
        setup,
        per_epoch,
        eval_per_image * n_val,
        probe_pass=eval_per_image * n_inner,
    )


def choose_size_and_epochs(
    cost: StrategyCost,
    seconds: float,
    max_epochs: int,
    min_epochs: int = 3,
    smallest: int = 128,
) -> tuple[int, int] | None:
    """The largest input size at which ``min_epochs`` fit, and the epochs that fit there.

    Sizes step down by a quarter of the pixels at a time from the measured one (cost
    grows with the pixel count) to ``smallest``; a smaller input trains on less detail,
    so the native size is kept whenever it fits.

    Args:
        cost: Measured cost at the backbone's input size.
        seconds: Time given to this fine-tune.
        max_epochs: Epoch cap.
        min_epochs: Epochs a fine-tune needs to mean something.
        smallest: Smallest input side tried.

    Returns:
        ``(image_size, epochs)``, or None when not even ``min_epochs`` fit at the
        smallest size.

    """
    size = cost.image_size
    while True:
        scaled = cost.scaled(size)
        epochs = scaled.epochs_within(seconds)
        if epochs >= min_epochs:
            return size, min(epochs, max_epochs)
        nxt = int(round(size * math.sqrt(0.75) / 32)) * 32
        if nxt >= size:
            nxt = size - 32
        if nxt < min(smallest, cost.image_size):
            return None
        size = nxt


def freeze_stages_for(model: nn.Module, fraction: float | None) -> int:
    """Stages of the backbone to freeze for a share of its depth (at least one trains)."""
    stages = len(cast(Any, model).blocks) if hasattr(model, "blocks") else 0
    share = DEFAULT_FREEZE_FRACTION if fraction is None else fraction
    return max(0, min(stages - 1, int(round(share * stages))))


GPU_BATCH = 128
"""Training batch on a GPU: small models at 224 px fit easily in bf16 and use the card
far better than a CPU-sized batch."""
# On the CPU a training step costs less per image in small batches: a full step of
# EfficientNet-Lite2 at 260 px took 113 ms per image at 8 images and 188 ms at 32
# (2 cores, channels-last); Lite0 at 224 px 65 and 73 ms. With batch-norm statistics
# frozen, the small batch changes nothing else the fine-tune relies on.
CPU_BATCH = 8


def training_batch_size(batch_size: int, device: torch.device) -> int:
    """The training batch: at least :data:`GPU_BATCH` on GPUs, at most :data:`CPU_BATCH` on CPUs."""
    return max(batch_size, GPU_BATCH) if device.type == "cuda" else min(batch_size, CPU_BATCH)


def run_finetune(
    strategy: str,
    seconds: float,
    model: nn.Module,
    backbone: str,
    data_cfg: dict[str, Any],
    split: LabeledSplit,
    config: ValidationConfig,
    device: torch.device,
    decoded: dict[str, np.ndarray],
    progress: ProgressCallback,
    cancel: CancelToken | None,
    *,
    image_size: int | None = None,
    epochs: int | None = None,
    probe_features: np.ndarray | None = None,
    probe_val_proba: np.ndarray | None = None,
    clock: Clock = time.monotonic,
) -> tuple[dict[str, Any], np.ndarray]:
    """Fine-tune one strategy on the split within its share of the budget (LP-FT).

    Args:
        strategy: "partial_finetune" or "full_finetune".
        seconds: Its time budget.
        model: The pretrained backbone (left untouched).
        backbone: Its name.
        data_cfg: Its preprocessing (with the run's resize mode).
        split: The split.
        config: Run settings.
        device: Where to train.
        decoded: Decoded images shared between the fine-tunes.
        progress: Progress callback.
        cancel: Cancellation token.
        image_size: Training input side (None: the backbone's).
        epochs: Epochs planned from the measured cost (None: ``config.max_epochs``).
        probe_features: The linear probe's training features of this backbone, for
            the LP-FT head.
        probe_val_proba: That probe's held-out probabilities: the fine-tune ends as the
            probe when no epoch beats it.
        clock: Monotonic clock.

    Returns:
        The experiment record and its held-out probabilities.

    """
    ft_config = FinetuneConfig(
        strategy=strategy,
        freeze_stages=freeze_stages_for(model, config.freeze_fraction),
        image_size=image_size,
        max_epochs=epochs or config.max_epochs,
        batch_size=training_batch_size(config.batch_size, device),
        # LP-FT: the head starts as the probe, so small rates keep the features intact
        lr=2e-4 if strategy == "partial_finetune" else 1e-4,
        layer_decay=0.7,
        warmup_fraction=0.05,
        # the planned epochs fit the budget: give a slow LP-FT start half of them
        patience=max(3, math.ceil((epochs or config.max_epochs) / 2)),
        seed=config.seed,
    )
    result = finetune(
        model,
        data_cfg,
        split.train_paths,
        split.train_labels,
        split.val_paths,
        split.val_labels,
        split.class_names,
        ft_config,
        device=device,
        budget_seconds=seconds,
        progress=progress,
        cancel=cancel,
        decoded=decoded,
        probe_features=probe_features,
        probe_val_proba=probe_val_proba,
        clock=clock,
    )
    proba = result.pop("_proba")
    result["id"] = f"{strategy}:{backbone}"
    result["backbone"] = backbone
    result["budget_seconds"] = round(seconds, 1)
    return result, proba
