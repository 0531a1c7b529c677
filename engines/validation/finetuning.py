"""Which fine-tunes fit in the time left, and running them on the same split.

A fine-tune is only informative if it can train for a few epochs; one that would be
cut after a single epoch is skipped with the reason, rather than reported as a weak
number. Epoch cost is estimated from a measured forward pass of the backbone.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from engines.deployment import measure_latency
from engines.finetune import FinetuneConfig, finetune
from engines.progress import CancelToken, ProgressCallback
from engines.validation.config import DECODE_SECONDS_PER_IMAGE, LabeledSplit, ValidationConfig

# Epochs a fine-tune needs before its score means something.
MIN_INFORMATIVE_EPOCHS = 3
DEFAULT_FREEZE_FRACTION = 0.6


@dataclass(frozen=True)
class StepCost:
    """Measured seconds per image of a forward pass and of a training step."""

    forward: float
    train: float


def _timed(fn: Any, device: torch.device, repeats: int = 1) -> float:
    fn()  # warm-up: allocations, kernel selection
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def measure_forward_cost(
    model: nn.Module, input_size: int, device: torch.device, batch: int = 4
) -> float:
    """Measured forward seconds per image at ``input_size`` (model put in eval mode)."""
    latency = measure_latency(model, input_size, device, batch_size=batch, repeats=1, warmup=1)
    return latency["per_image_ms"] / 1000.0


def measure_step_cost(
    model: nn.Module, input_size: int, device: torch.device, batch: int = 4
) -> StepCost:
    """Measure forward and training-step seconds per image at the training input size.

    The training step (forward, backward, no optimizer) runs on a copy, so the
    model's batch-norm statistics are left untouched. On CPUs the backward pass of
    depthwise convolutions costs several forward passes, so it is measured rather
    than assumed.

    Args:
        model: The backbone.
        input_size: Square input side.
        device: Where it runs.
        batch: Images per timed pass.

    Returns:
        The :class:`StepCost`.

    """
    x = torch.zeros(batch, 3, input_size, input_size, device=device).contiguous(
        memory_format=torch.channels_last
    )
    trainable = copy.deepcopy(model).train()

    def step() -> None:
        trainable.zero_grad(set_to_none=True)
        trainable(x).float().sum().backward()

    return StepCost(
        forward=measure_forward_cost(model, input_size, device, batch),
        train=_timed(step, device) / batch,
    )


def epoch_seconds(
    strategy: str, n_train: int, n_val: int, cost: StepCost, freeze_fraction: float
) -> tuple[float, float]:
    """Estimated (one-off set-up, per-epoch) seconds of a fine-tune.

    Args:
        strategy: "partial_finetune" or "full_finetune".
        n_train: Training images.
        n_val: Held-out images.
        cost: Measured per-image costs of the whole backbone.
        freeze_fraction: Share of stages frozen (partial only; its output is cached).

    Returns:
        Set-up seconds (decoding, caching the frozen part) and seconds per epoch.

    """
    decode = DECODE_SECONDS_PER_IMAGE * (n_train + n_val)
    if strategy == "partial_finetune":
        trainable = max(1.0 - freeze_fraction, 0.1)
        setup = decode + cost.forward * freeze_fraction * (2 * n_train + n_val)
        per_epoch = trainable * (cost.train * n_train + cost.forward * n_val)
    else:
        setup = decode
        per_epoch = cost.train * n_train + cost.forward * 0.15 * n_train
    return setup, per_epoch


def freeze_stages_for(model: nn.Module, fraction: float | None) -> int:
    """Stages of the backbone to freeze for a share of its depth (at least one trains)."""
    stages = len(model.blocks) if hasattr(model, "blocks") else 0
    share = DEFAULT_FREEZE_FRACTION if fraction is None else fraction
    return max(0, min(stages - 1, int(round(share * stages))))


def plan_finetunes(
    config: ValidationConfig,
    split: LabeledSplit,
    cost: StepCost,
    seconds_left: float,
) -> tuple[list[tuple[str, float]], list[dict[str, Any]]]:
    """Share the time left between the fine-tunes that fit, cheapest first.

    Args:
        config: Run settings (which strategies, frozen share).
        split: The split (sizes).
        cost: Measured per-image costs of the backbone to fine-tune.
        seconds_left: Time available to all fine-tunes.

    Returns:
        ``[(strategy, seconds given)]`` to run, and ``[{"strategy", "reason",
        "estimated_seconds"}]`` for those skipped.

    """
    wanted = [s for s in config.strategies if s != "linear_probe"]
    n_train, n_val = len(split.train_paths), len(split.val_paths)
    freeze = DEFAULT_FREEZE_FRACTION if config.freeze_fraction is None else config.freeze_fraction
    needs = {}
    for s in wanted:
        setup, per_epoch = epoch_seconds(s, n_train, n_val, cost, freeze)
        needs[s] = setup + MIN_INFORMATIVE_EPOCHS * per_epoch
    plan: list[tuple[str, float]] = []
    skipped: list[dict[str, Any]] = []
    fitting = []
    total = 0.0
    for s in wanted:
        if total + needs[s] <= seconds_left:
            fitting.append(s)
            total += needs[s]
        else:
            skipped.append(
                {
                    "strategy": s,
                    "reason": f"needs about {needs[s]:.0f} s for {MIN_INFORMATIVE_EPOCHS} "
                    f"epochs and {max(seconds_left - total, 0):.0f} s of the budget were "
                    "left; give the validation more time to run it",
                    "estimated_seconds": round(needs[s], 1),
                }
            )
    # Time beyond the minimum goes to each in proportion to its need.
    for s in fitting:
        plan.append((s, seconds_left * needs[s] / total))
    return plan, skipped


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
) -> tuple[dict[str, Any], np.ndarray]:
    """Fine-tune one strategy on the split within its share of the budget.

    Args:
        strategy: "partial_finetune" or "full_finetune".
        seconds: Its time budget.
        model: The pretrained backbone (left untouched).
        backbone: Its name.
        data_cfg: Its preprocessing.
        split: The split.
        config: Run settings.
        device: Where to train.
        decoded: Decoded images shared between the fine-tunes.
        progress: Progress callback.
        cancel: Cancellation token.

    Returns:
        The experiment record and its held-out probabilities.

    """
    ft_config = FinetuneConfig(
        strategy=strategy,
        freeze_stages=freeze_stages_for(model, config.freeze_fraction),
        max_epochs=config.max_epochs,
        batch_size=config.batch_size,
        lr=1e-3 if strategy == "partial_finetune" else 5e-4,
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
    )
    proba = result.pop("_proba")
    result["id"] = f"{strategy}:{backbone}"
    result["backbone"] = backbone
    result["budget_seconds"] = round(seconds, 1)
    return result, proba
