"""Fine-tuning strategies on the client's sample: partial and full, within a time budget.

* Partial fine-tune (Yosinski et al. 2014, "How transferable are features in deep
  neural networks?", NeurIPS): the stem and the first ``k`` stages stay frozen. For
  EfficientNet-style models (``conv_stem``/``blocks``/``conv_head``) the frozen part's
  output is computed once per view (the image and, where the domain allows, its mirror
  image) and cached, so each epoch only runs the trainable top.
* Full fine-tune with layer-wise learning-rate decay (discriminative fine-tuning,
  Howard & Ruder 2018, ULMFiT; as in timm's ``layer_decay``).

Both use AdamW, linear warm-up then cosine decay, label smoothing (Szegedy et al. 2016),
optional mixup (Zhang et al. 2018), and early stopping on a slice of the *training*
split, so the held-out images that give the reported metrics never steer training.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from timm.optim import create_optimizer_v2
from timm.scheduler import CosineLRScheduler
from torch import nn

from engines.images import load_rgb
from engines.metrics import classification_metrics
from engines.progress import CancelToken, Deadline, Progress, ProgressCallback, ignore_progress

_RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


@dataclass
class FinetuneConfig:
    """Hyper-parameters of one fine-tuning run.

    Attributes:
        strategy: "partial_finetune" or "full_finetune".
        freeze_stages: Stages frozen after the stem (partial fine-tune only).
        image_size: Training resolution (None: the backbone's own).
        max_epochs: Upper bound on epochs; the budget and early stopping may stop sooner.
        batch_size: Images per step.
        lr: Peak learning rate of the top layers (the head gets 10x in partial mode).
        layer_decay: Per-stage learning-rate factor going down the network (full mode).
        weight_decay: AdamW weight decay.
        warmup_fraction: Share of the steps spent warming up.
        label_smoothing: Cross-entropy label smoothing.
        mixup_alpha: Beta parameter of mixup; 0 disables it.
        hflip: Whether mirror images are valid training views in this domain.
        patience: Epochs without improvement on the early-stopping slice before stopping.
        early_stop_fraction: Share of the training split held back for early stopping.
        seed: Seed for shuffling, augmentation and the new head.

    """

    strategy: str = "partial_finetune"
    freeze_stages: int = 4
    image_size: int | None = None
    max_epochs: int = 15
    batch_size: int = 32
    lr: float = 1e-3
    layer_decay: float = 0.7
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    label_smoothing: float = 0.1
    mixup_alpha: float = 0.0
    hflip: bool = True
    patience: int = 3
    early_stop_fraction: float = 0.15
    seed: int = 0

    def __post_init__(self) -> None:
        if self.strategy not in ("partial_finetune", "full_finetune"):
            raise ValueError(
                f"Unknown fine-tuning strategy {self.strategy!r}: use partial_finetune or "
                "full_finetune."
            )
        if self.freeze_stages < 0:
            raise ValueError("freeze_stages cannot be negative.")
        if self.max_epochs < 1 or self.batch_size < 1:
            raise ValueError("max_epochs and batch_size must be at least 1.")


def decode_square(path: Path, size: int, interpolation: str = "bicubic") -> np.ndarray:
    """Decode an image, resize its shorter side to ``size`` and center-crop a square."""
    img = load_rgb(path)
    w, h = img.size
    ratio = size / min(w, h)
    new_w, new_h = max(size, round(w * ratio)), max(size, round(h * ratio))
    img = img.resize((new_w, new_h), _RESAMPLE.get(interpolation, Image.Resampling.BICUBIC))
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)


def decode_all(paths: Sequence[Path], size: int, interpolation: str) -> np.ndarray:
    """Decode many images in parallel threads into one uint8 (n, size, size, 3) array."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        arrays = list(pool.map(lambda p: decode_square(p, size, interpolation), paths))
    return np.stack(arrays) if arrays else np.zeros((0, size, size, 3), np.uint8)


def _normalise(batch: np.ndarray, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float().div_(255.0)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def _center(batch: np.ndarray, size: int) -> np.ndarray:
    off = (batch.shape[1] - size) // 2
    return batch[:, off : off + size, off : off + size]


def _random_views(
    batch: np.ndarray, size: int, hflip: bool, rng: np.random.Generator
) -> np.ndarray:
    n, full = batch.shape[0], batch.shape[1]
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        top, left = rng.integers(0, full - size + 1, size=2)
        view = batch[i, top : top + size, left : left + size]
        out[i] = view[:, ::-1] if hflip and rng.random() < 0.5 else view
    return out


def _inner_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into training and early stopping, stratified; none held back when tiny."""
    rng = np.random.default_rng(seed)
    train, stop = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(len(idx) * fraction)) if len(idx) >= 5 else 0
        stop.extend(idx[:k])
        train.extend(idx[k:])
    if len(stop) < 4:  # too few to judge an epoch: train on all, fixed schedule
        return np.arange(len(labels)), np.array([], dtype=int)
    return np.sort(train), np.sort(stop)


def _is_efficientnet_like(model: nn.Module) -> bool:
    return all(hasattr(model, a) for a in ("conv_stem", "bn1", "blocks", "conv_head", "bn2"))


class _Tail(nn.Module):
    """The trainable top of an EfficientNet-style model, fed with cached activations."""

    def __init__(self, model: nn.Module, start: int, num_classes: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*list(model.blocks)[start:])
        self.conv_head, self.bn2 = model.conv_head, model.bn2
        self.global_pool = model.global_pool
        self.head = nn.Linear(model.num_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn2(self.conv_head(self.blocks(x)))
        return self.head(self.global_pool(x).flatten(1))


def _frozen_prefix(model: nn.Module, stop: int) -> nn.Module:
    return nn.Sequential(model.conv_stem, model.bn1, *list(model.blocks)[:stop]).eval()


def _mixup(
    x: torch.Tensor, y: torch.Tensor, alpha: float, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    lam = float(rng.beta(alpha, alpha))
    perm = torch.from_numpy(rng.permutation(x.shape[0]))
    return lam * x + (1 - lam) * x[perm], y, y[perm], lam


def _evaluate(
    net: nn.Module, inputs: torch.Tensor, device: torch.device, batch_size: int
) -> np.ndarray:
    net.eval()
    outs = []
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    with torch.inference_mode(), autocast:
        for k in range(0, inputs.shape[0], batch_size):
            outs.append(net(inputs[k : k + batch_size].to(device)).float().softmax(-1).cpu())
    return torch.cat(outs).numpy() if outs else np.zeros((0, 0), np.float32)


def finetune(
    model: nn.Module,
    data_cfg: dict[str, Any],
    train_paths: Sequence[Path],
    train_labels: Sequence[int],
    val_paths: Sequence[Path],
    val_labels: Sequence[int],
    class_names: Sequence[str],
    config: FinetuneConfig,
    *,
    device: torch.device,
    budget_seconds: float,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    decoded: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Fine-tune a copy of a pretrained model on the sample and evaluate it on held-out images.

    Args:
        model: The pretrained timm model (left untouched; a copy is trained).
        data_cfg: Preprocessing from :func:`engines.backbones.data_config`.
        train_paths: Training images.
        train_labels: Their integer labels.
        val_paths: Held-out images (only evaluated, never trained or early-stopped on).
        val_labels: Their integer labels.
        class_names: Class names, indexed by label.
        config: Hyper-parameters.
        device: Where to train.
        budget_seconds: Wall-clock budget of this run; epochs stop before exceeding it.
        progress: Progress callback.
        cancel: Cancellation token, checked every step.
        decoded: Optional cache of decoded arrays ({"train": ..., "val": ...}) shared
            between strategies; filled when empty.

    Returns:
        The experiment: strategy, metrics with intervals, epochs, history, seconds,
        configuration and the trainable parameter count (JSON-ready), plus
        ``"_proba"``, the held-out probabilities (an array; pop it before saving).

    """
    start = time.monotonic()
    deadline = Deadline(budget_seconds)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    size = config.image_size or data_cfg["input_size"]
    full = int(round(size / data_cfg["crop_pct"]))
    decoded = decoded if decoded is not None else {}
    key = f"{full}"
    if key not in decoded:
        progress(Progress(config.strategy, 0.0, "Decoding images for fine-tuning"))
        decoded[key] = decode_all(list(train_paths) + list(val_paths), full,
                                  data_cfg["interpolation"])
    images = decoded[key]
    n_train = len(train_paths)
    x_train_raw, x_val_raw = images[:n_train], images[n_train:]
    y_all = np.asarray(train_labels, dtype=np.int64)
    inner, stop = _inner_split(y_all, config.early_stop_fraction, config.seed)
    mean = torch.tensor(data_cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(data_cfg["std"]).view(1, 3, 1, 1)
    num_classes = len(class_names)
    work = copy.deepcopy(model).to(device)

    cached = config.strategy == "partial_finetune" and _is_efficientnet_like(work)
    stages = len(work.blocks) if hasattr(work, "blocks") else 0
    freeze = min(config.freeze_stages, max(stages - 1, 0))
    if cached:
        prefix = _frozen_prefix(work, freeze).to(device)
        net: nn.Module = _Tail(work, freeze, num_classes).to(device)

        def encode(raw: np.ndarray) -> torch.Tensor:
            outs = []
            with torch.inference_mode():
                for k in range(0, raw.shape[0], 64):
                    outs.append(prefix(_normalise(raw[k : k + 64], mean, std).to(device)).cpu())
            return torch.cat(outs)

        progress(Progress(config.strategy, 0.05, f"Caching the frozen stem + {freeze} stages"))
        views = [_center(x_train_raw, size)]
        if config.hflip:
            views.append(views[0][:, :, ::-1])
        train_views = [encode(v) for v in views]
        val_inputs = encode(_center(x_val_raw, size))
        params = [p for p in net.parameters() if p.requires_grad]
        head_ids = {id(p) for p in net.head.parameters()}
        optimizer = torch.optim.AdamW(
            [
                {"params": [p for p in params if id(p) not in head_ids], "lr": config.lr},
                {"params": list(net.head.parameters()), "lr": config.lr * 10},
            ],
            weight_decay=config.weight_decay,
        )
    else:
        work.reset_classifier(num_classes)
        if config.strategy == "partial_finetune":
            frozen = [work.conv_stem, work.bn1, *list(work.blocks)[:freeze]] if stages else []
            for module in frozen:
                for p in module.parameters():
                    p.requires_grad_(False)
        net = work.to(memory_format=torch.channels_last)
        optimizer = create_optimizer_v2(
            net, opt="adamw", lr=config.lr, weight_decay=config.weight_decay,
            layer_decay=config.layer_decay if config.strategy == "full_finetune" else None,
        )
        val_inputs = _normalise(_center(x_val_raw, size), mean, std)

    steps_per_epoch = max(1, math.ceil(len(inner) / config.batch_size))
    total_steps = steps_per_epoch * config.max_epochs
    warmup_steps = max(1, int(config.warmup_fraction * total_steps))
    scheduler = CosineLRScheduler(
        optimizer, t_initial=total_steps, warmup_t=warmup_steps,
        warmup_lr_init=config.lr * 0.01, t_in_epochs=False,
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    y_train = torch.from_numpy(y_all)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

    def train_batch(idx: np.ndarray) -> torch.Tensor:
        if cached:
            view = train_views[int(rng.integers(len(train_views)))]
            return view[torch.from_numpy(idx)]
        return _normalise(_random_views(x_train_raw[idx], size, config.hflip, rng), mean, std)

    def stop_inputs() -> torch.Tensor:
        if cached:
            return train_views[0][torch.from_numpy(stop)]
        return _normalise(_center(x_train_raw[stop], size), mean, std)

    history: list[dict[str, float]] = []
    best_state, best_score, best_loss, bad_epochs, step = None, -1.0, float("inf"), 0, 0
    stopped_by = "max_epochs"
    epoch_seconds = 0.0
    for epoch in range(config.max_epochs):
        if epoch > 0 and deadline.remaining < epoch_seconds * 1.1:
            stopped_by = "budget"
            break
        t_epoch = time.monotonic()
        net.train()
        if cached is False and config.strategy == "partial_finetune":
            for module in [work.conv_stem, work.bn1, *list(work.blocks)[:freeze]]:
                module.eval()  # frozen batch-norm statistics stay pretrained
        order = rng.permutation(inner)
        running = 0.0
        for k in range(0, len(order), config.batch_size):
            if cancel is not None:
                cancel.raise_if_cancelled()
            idx = order[k : k + config.batch_size]
            x, y = train_batch(idx).to(device), y_train[idx].to(device)
            with autocast:
                if config.mixup_alpha > 0 and len(idx) > 1:
                    x, ya, yb, lam = _mixup(x, y, config.mixup_alpha, rng)
                    out = net(x)
                    loss = lam * loss_fn(out, ya) + (1 - lam) * loss_fn(out, yb)
                else:
                    loss = loss_fn(net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            scheduler.step_update(step)
            running += float(loss.detach()) * len(idx)
        epoch_seconds = time.monotonic() - t_epoch
        record = {"epoch": epoch + 1, "train_loss": running / max(len(order), 1),
                  "seconds": round(epoch_seconds, 3)}
        if len(stop):
            proba = _evaluate(net, stop_inputs(), device, config.batch_size)
            score = float((proba.argmax(1) == y_all[stop]).mean())
            stop_loss = float(-np.log(np.clip(proba[np.arange(len(stop)), y_all[stop]],
                                              1e-7, 1.0)).mean())
            record["early_stop_accuracy"] = score
            record["early_stop_loss"] = round(stop_loss, 4)
            # On a handful of early-stopping images accuracy ties often; the loss breaks
            # ties so that a barely trained head is not kept for a lucky accuracy.
            if (score, -stop_loss) > (best_score, -best_loss):
                best_score, best_loss, bad_epochs = score, stop_loss, 0
                best_state = copy.deepcopy(net.state_dict())
            else:
                bad_epochs += 1
        history.append(record)
        progress(Progress(
            config.strategy, (epoch + 1) / config.max_epochs,
            f"Epoch {epoch + 1}: loss {record['train_loss']:.3f}",
            eta_seconds=epoch_seconds * (config.max_epochs - epoch - 1),
            metric={"early_stop_accuracy": record.get("early_stop_accuracy", float("nan"))},
        ))
        if len(stop) and bad_epochs >= config.patience:
            stopped_by = "early_stopping"
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    proba = _evaluate(net, val_inputs, device, config.batch_size)
    metrics = classification_metrics(
        np.asarray(val_labels), proba.argmax(1), proba, class_names=list(class_names),
        seed=config.seed,
    )
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    return {
        "id": f"{config.strategy}:{model.pretrained_cfg.get('architecture', 'model')}",
        "strategy": config.strategy,
        "n_train": len(inner),
        "n_early_stop": len(stop),
        "n_val": len(val_paths),
        "metrics": metrics,
        "epochs": len(history),
        "stopped_by": stopped_by,
        "history": history,
        "image_size": size,
        "frozen_stages": freeze if config.strategy == "partial_finetune" else 0,
        "cached_frozen_part": cached,
        "trainable_parameters": int(trainable),
        "config": asdict(config),
        "seconds": round(time.monotonic() - start, 3),
        # Held-out probabilities for the caller (not JSON): misclassified examples.
        "_proba": proba,
    }
