"""Fine-tuning strategies on the client's sample: partial and full, within a time budget.

* Partial fine-tune (Yosinski et al. 2014, "How transferable are features in deep
  neural networks?", NeurIPS): the stem and the first ``k`` stages stay frozen. For
  EfficientNet-style models (``conv_stem``/``blocks``/``conv_head``) the frozen part's
  output is computed once per view (the image and, where the domain allows, its mirror
  image) and cached, so each epoch only runs the trainable top.
* Full fine-tune with layer-wise learning-rate decay (discriminative fine-tuning,
  Howard & Ruder 2018, ULMFiT; as in timm's ``layer_decay``).

Both start from the linear probe: LP-FT (Kumar et al., ICLR 2022, "Fine-Tuning can
Distort Pretrained Features and Underperform Out-of-Distribution"). The new head is
initialised from a logistic-regression probe fitted on the same backbone's pooled
features of the training images (the same pixels and normalisation the fine-tune sees),
then everything trainable is tuned at a small learning rate with layer decay and with
batch-norm statistics kept frozen. Training starts from a probe fitted on the rows it
trains on (not the early-stopping slice), so the probe-initialised model ("epoch 0")
and every later epoch are judged on the slice on equal terms: a probe fitted on the
slice too would be scored on its own training images and no epoch could fairly beat
it. When no epoch beats epoch 0 and the probe's own features are given, the fine-tune
ends as the linear probe itself (same rows, same fit), so it scores what the probe
scores on the held-out images, never below it.

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
from typing import Any, cast

import numpy as np
import torch
from PIL import Image
from timm.optim import create_optimizer_v2
from timm.scheduler import CosineLRScheduler
from torch import nn

from engines.images import load_rgb
from engines.linear_probe import ProbeModel, fit_linear_probe
from engines.metrics import classification_metrics
from engines.progress import (
    CancelToken,
    Clock,
    Deadline,
    Progress,
    ProgressCallback,
    ignore_progress,
)

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
        head_init: "probe" (LP-FT: the head starts as the fitted linear probe) or
            "random" (a freshly initialised head).
        freeze_bn: Keep batch-norm running statistics as pretrained (their affine
            weights still train); small client batches make poor statistics, and
            frozen ones keep the probe-initialised head valid at the first step.

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
    head_init: str = "probe"
    freeze_bn: bool = True

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
        if self.head_init not in ("probe", "random"):
            raise ValueError(
                f"Unknown head initialisation {self.head_init!r}: use probe or random."
            )


def decode_square(
    path: Path, size: int, interpolation: str = "bicubic", resize_mode: str = "crop"
) -> np.ndarray:
    """Decode an image into a ``size`` square.

    Args:
        path: Image file.
        size: Side of the square.
        interpolation: "bicubic" or "bilinear".
        resize_mode: "crop" resizes the shorter side to ``size`` and centre-crops;
            "squash" resizes the whole image to the square (elongated images keep
            everything, at a distorted aspect).

    Returns:
        uint8 array (size, size, 3).

    """
    img = load_rgb(path, reduce_to=size)
    resample = _RESAMPLE.get(interpolation, Image.Resampling.BICUBIC)
    if resize_mode == "squash":
        return np.asarray(img.resize((size, size), resample), dtype=np.uint8)
    w, h = img.size
    ratio = size / min(w, h)
    new_w, new_h = max(size, round(w * ratio)), max(size, round(h * ratio))
    img = img.resize((new_w, new_h), resample)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)


def decode_all(
    paths: Sequence[Path], size: int, interpolation: str, resize_mode: str = "crop"
) -> np.ndarray:
    """Decode many images in parallel threads into one uint8 (n, size, size, 3) array."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        arrays = list(pool.map(lambda p: decode_square(p, size, interpolation, resize_mode), paths))
    return np.stack(arrays) if arrays else np.zeros((0, size, size, 3), np.uint8)


def decoded_key(data_cfg: dict[str, Any], image_size: int | None = None) -> str:
    """Key of the decoded-image cache shared by strategies: decode side and resize mode."""
    size = image_size or data_cfg["input_size"]
    full = int(round(size / data_cfg["crop_pct"]))
    return f"{full}:{data_cfg.get('resize_mode', 'crop')}"


def decode_for(
    paths: Sequence[Path],
    data_cfg: dict[str, Any],
    decoded: dict[str, np.ndarray],
    image_size: int | None = None,
) -> np.ndarray:
    """Decoded uint8 images at the fine-tune's decode side, from ``decoded`` or filled into it.

    Each image is decoded and resized once; every epoch and strategy reads the arrays.
    """
    key = decoded_key(data_cfg, image_size)
    if key not in decoded:
        full = int(key.split(":")[0])
        decoded[key] = decode_all(
            list(paths), full, data_cfg["interpolation"], data_cfg.get("resize_mode", "crop")
        )
    return decoded[key]


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


def _inner_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into training and early stopping, stratified; none held back when tiny."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    stop: list[int] = []
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

    # ``model``: a timm EfficientNet-style model (see _is_efficientnet_like), whose stages
    # and head are attributes timm sets at run time.
    def __init__(self, model: Any, start: int, num_classes: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*list(model.blocks)[start:])
        self.conv_head, self.bn2 = model.conv_head, model.bn2
        self.global_pool = model.global_pool
        self.head = nn.Linear(model.num_features, num_classes)

    def pre_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features, the input of the head."""
        return self.global_pool(self.bn2(self.conv_head(self.blocks(x)))).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pre_logits(x))


def _pre_logits(net: Any, x: torch.Tensor) -> torch.Tensor:
    if isinstance(net, _Tail):
        return net.pre_logits(x)
    return net.forward_head(net.forward_features(x), pre_logits=True)


def _head_of(net: Any) -> nn.Linear:
    head = net.head if isinstance(net, _Tail) else net.get_classifier()
    if not isinstance(head, nn.Linear):
        raise TypeError("The model's classifier is not one linear layer.")
    return head


def probe_to_head(probe: ProbeModel, head: nn.Linear) -> None:
    """Copy a fitted linear probe into a linear head (the probe's standardisation folded in).

    The probe computes ``((f - mean) / scale) @ coef + b``; the head gets
    ``W = (coef / scale).T`` and ``bias = b - (mean / scale) @ coef``. Classes absent
    from the probe's training labels get zero weights and a low bias.
    """
    coef = probe.coef_ / probe.scale_[:, None]
    bias = probe.intercept_ - (probe.mean_ / probe.scale_) @ probe.coef_
    weight = np.zeros((head.out_features, head.in_features))
    full_bias = np.full(head.out_features, -10.0)
    rows = np.searchsorted(probe.classes_, probe.trained_classes_)
    weight[rows] = coef.T
    full_bias[rows] = bias
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(weight, dtype=head.weight.dtype))
        head.bias.copy_(torch.as_tensor(full_bias, dtype=head.bias.dtype))


def _freeze_batchnorm(net: nn.Module) -> None:
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def _tail_param_groups(
    net: _Tail, lr: float, decay: float, weight_decay: float
) -> list[dict[str, Any]]:
    """Layer-wise learning rates for the trainable top (Howard & Ruder 2018).

    The head and the last stage train at ``lr``, each stage below at ``decay`` times
    the rate of the one above.
    """
    groups = [
        {
            "params": [*net.head.parameters(), *net.conv_head.parameters(), *net.bn2.parameters()],
            "lr_scale": 1.0,
        }
    ]
    for depth, block in enumerate(reversed(list(net.blocks))):
        groups.append({"params": list(block.parameters()), "lr_scale": decay ** (depth + 1)})
    for g in groups:
        # timm's scheduler sets each group's rate to the schedule's value times its
        # lr_scale at every step, from the same base rate
        g["lr"] = lr
        g["weight_decay"] = weight_decay
    return [g for g in groups if g["params"]]


def _frozen_prefix(model: Any, stop: int) -> nn.Module:
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
    probe_features: np.ndarray | None = None,
    probe_val_proba: np.ndarray | None = None,
    clock: Clock = time.monotonic,
) -> dict[str, Any]:
    """Fine-tune a copy of a pretrained model on the sample and evaluate it on held-out images.

    Args:
        model: The pretrained timm model (left untouched; a copy is trained).
        data_cfg: Preprocessing from :func:`engines.backbones.data_config` (with
            ``resize_mode`` where the whole image is resized instead of centre-cropped).
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
        decoded: Optional cache of decoded arrays shared between strategies (see
            :func:`decode_for`); filled when empty.
        probe_features: Pooled features of the training images from the same model at
            the same input size and preprocessing (the linear probe's features), used
            for the LP-FT head; None (or another image size) computes them here.
        probe_val_proba: That probe's probabilities on the held-out images (fitted on
            ``probe_features`` and all training labels). With both, the linear probe is
            a checkpoint of its own: when no epoch beats it on the early-stopping slice
            (at whatever input size the fine-tune trains), the fine-tune ends as that
            probe (``final_model`` "linear_probe", its probabilities as they are), so it
            never ends below the probe it started from (LP-FT, Kumar et al., ICLR 2022).
        clock: Monotonic clock (injectable for tests).

    Returns:
        The experiment: strategy, metrics with intervals, epochs, history, seconds,
        configuration and the trainable parameter count (JSON-ready), plus
        ``"_proba"``, the held-out probabilities (an array; pop it before saving).

    """
    start = clock()
    deadline = Deadline(budget_seconds, clock=clock)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    size = config.image_size or data_cfg["input_size"]
    decoded = decoded if decoded is not None else {}
    if decoded_key(data_cfg, size) not in decoded:
        progress(Progress(config.strategy, 0.0, "Decoding images for fine-tuning"))
    images = decode_for(list(train_paths) + list(val_paths), data_cfg, decoded, size)
    n_train = len(train_paths)
    x_train_raw, x_val_raw = images[:n_train], images[n_train:]
    y_all = np.asarray(train_labels, dtype=np.int64)
    inner, stop = _inner_split(y_all, config.early_stop_fraction, config.seed)
    mean = torch.tensor(data_cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(data_cfg["std"]).view(1, 3, 1, 1)
    num_classes = len(class_names)
    work: Any = copy.deepcopy(model).to(device)  # a timm model (blocks, reset_classifier)

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
        optimizer: torch.optim.Optimizer = torch.optim.AdamW(
            _tail_param_groups(cast(_Tail, net), config.lr, config.layer_decay, config.weight_decay)
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
            net,
            opt="adamw",
            lr=config.lr,
            weight_decay=config.weight_decay,
            layer_decay=config.layer_decay,
        )
        val_inputs = _normalise(_center(x_val_raw, size), mean, std)

    def clean_inputs(idx: np.ndarray) -> torch.Tensor:
        """Centre views of training images, as the network's input (no augmentation)."""
        if cached:
            return train_views[0][torch.from_numpy(idx)]
        return _normalise(_center(x_train_raw[idx], size), mean, std)

    head_init = config.head_init
    classes = np.arange(num_classes)
    own = probe_features is not None and len(probe_features) == n_train
    at_probe_size = own and size == data_cfg["input_size"]
    # the probe itself is a checkpoint when its held-out probabilities are given
    probe_checkpoint = (
        own and probe_val_proba is not None and len(probe_val_proba) == len(val_paths)
    )
    if head_init == "probe":
        progress(Progress(config.strategy, 0.08, "Starting the head from the linear probe"))
        fit_rows = inner if len(inner) else np.arange(n_train)
        if at_probe_size:
            feats_fit = np.asarray(probe_features)[fit_rows]
        else:
            feats_fit = _pooled(net, clean_inputs(fit_rows), device, config.batch_size)
        try:
            # epoch 0 is fitted on the rows the fine-tune trains on: judged on the
            # slice, it is out of sample like every later epoch
            probe = fit_linear_probe(feats_fit, y_all[fit_rows], classes=classes)
            probe_to_head(probe, _head_of(net))
        except (ValueError, TypeError):
            head_init = "random"  # one class in the training part, or no linear head
    probe_checkpoint = probe_checkpoint and head_init == "probe"

    steps_per_epoch = max(1, math.ceil(len(inner) / config.batch_size))
    total_steps = steps_per_epoch * config.max_epochs
    warmup_steps = max(1, int(config.warmup_fraction * total_steps))
    scheduler = CosineLRScheduler(
        optimizer,
        t_initial=total_steps,
        warmup_t=warmup_steps,
        warmup_lr_init=config.lr * 0.01,
        t_in_epochs=False,
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    y_train = torch.from_numpy(y_all)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

    def train_batch(idx: np.ndarray) -> torch.Tensor:
        if cached:
            view = train_views[int(rng.integers(len(train_views)))]
            return view[torch.from_numpy(idx)]
        return _normalise(_random_views(x_train_raw[idx], size, config.hflip, rng), mean, std)

    def judge() -> tuple[float, float]:
        return _slice_score(
            _evaluate(net, clean_inputs(stop), device, config.batch_size), y_all[stop]
        )

    history: list[dict[str, float]] = []
    best_state, best_score, best_loss, bad_epochs, step = None, -1.0, float("inf"), 0, 0
    best_epoch = 0
    initial: dict[str, float] | None = None
    if len(stop):
        # Epoch 0: the probe-initialised model is a checkpoint like any other.
        best_score, best_loss = judge()
        best_state = copy.deepcopy(net.state_dict())
        initial = {"early_stop_accuracy": best_score, "early_stop_loss": round(best_loss, 4)}
        if head_init == "random":
            best_score, best_loss, best_state = -1.0, float("inf"), None
        if probe_checkpoint and not at_probe_size:
            # Trained at another input size, the network's epoch 0 is not the probe:
            # the probe is judged on the slice in its own right, at its own size.
            feats = np.asarray(probe_features)
            fair = fit_linear_probe(feats[inner], y_all[inner], classes=classes)
            score, stop_loss = _slice_score(fair.predict_proba(feats[stop]), y_all[stop])
            initial["linear_probe_early_stop_accuracy"] = score
            if (score, -stop_loss) > (best_score, -best_loss):
                best_score, best_loss, best_state = score, stop_loss, None
    stopped_by = "max_epochs"
    epoch_seconds = 0.0
    step_seconds = 0.0
    for epoch in range(config.max_epochs):
        if epoch > 0 and deadline.remaining < epoch_seconds * 1.1:
            stopped_by = "budget"
            break
        t_epoch = clock()
        net.train()
        if config.freeze_bn:
            _freeze_batchnorm(net)
        elif cached is False and config.strategy == "partial_finetune":
            for module in [work.conv_stem, work.bn1, *list(work.blocks)[:freeze]]:
                module.eval()  # frozen batch-norm statistics stay pretrained
        order = rng.permutation(inner)
        running, seen = 0.0, 0
        for k in range(0, len(order), config.batch_size):
            if cancel is not None:
                cancel.raise_if_cancelled()
            if seen and deadline.remaining < step_seconds * 2:
                stopped_by = "budget"  # the budget ends inside this epoch
                break
            t_step = clock()
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
            seen += len(idx)
            step_seconds = clock() - t_step
        epoch_seconds = clock() - t_epoch
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "train_loss": running / max(seen, 1),
            "seconds": round(epoch_seconds, 3),
        }
        if seen < len(order):
            record["images_trained"] = seen
        if len(stop):
            score, stop_loss = judge()
            record["early_stop_accuracy"] = score
            record["early_stop_loss"] = round(stop_loss, 4)
            # On a handful of early-stopping images accuracy ties often; the loss breaks
            # ties so that a barely trained head is not kept for a lucky accuracy.
            if (score, -stop_loss) > (best_score, -best_loss):
                best_score, best_loss, bad_epochs = score, stop_loss, 0
                best_state = copy.deepcopy(net.state_dict())
                best_epoch = epoch + 1
            else:
                bad_epochs += 1
        history.append(record)
        progress(
            Progress(
                config.strategy,
                0.1 + 0.9 * (epoch + 1) / config.max_epochs,
                f"Epoch {epoch + 1}: loss {record['train_loss']:.3f}",
                eta_seconds=epoch_seconds * (config.max_epochs - epoch - 1),
                metric={"early_stop_accuracy": record.get("early_stop_accuracy", float("nan"))},
            )
        )
        if stopped_by == "budget":
            break
        if len(stop) and bad_epochs >= config.patience:
            stopped_by = "early_stopping"
            break
    final_model = "fine_tuned"
    if len(stop) and best_epoch == 0 and probe_checkpoint:
        # no epoch beat the probe on the slice: end as the probe (all training rows)
        final_model = "linear_probe"
        proba = np.asarray(probe_val_proba)
    else:
        if best_state is not None:
            net.load_state_dict(best_state)
        else:
            best_epoch = len(history)  # nothing judged: the last epoch
        proba = _evaluate(net, val_inputs, device, config.batch_size)
    metrics = classification_metrics(
        np.asarray(val_labels),
        proba.argmax(1),
        proba,
        class_names=list(class_names),
        seed=config.seed,
    )
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    return {
        "id": f"{config.strategy}:{cast(Any, model).pretrained_cfg.get('architecture', 'model')}",
        "strategy": config.strategy,
        "n_train": len(inner),
        "n_early_stop": len(stop),
        "n_val": len(val_paths),
        "metrics": metrics,
        "epochs": len(history),
        "stopped_by": stopped_by,
        "history": history,
        "head_init": head_init,
        "initial_early_stop": initial,
        "best_epoch": best_epoch,
        "final_model": final_model,
        "image_size": size,
        "resize_mode": data_cfg.get("resize_mode", "crop"),
        "frozen_stages": freeze if config.strategy == "partial_finetune" else 0,
        "cached_frozen_part": cached,
        "trainable_parameters": int(trainable),
        "config": asdict(config),
        "seconds": round(clock() - start, 3),
        # Held-out probabilities for the caller (not JSON): misclassified examples.
        "_proba": proba,
    }


def _slice_score(proba: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Accuracy and mean log-loss of probabilities on the early-stopping slice."""
    score = float((proba.argmax(1) == labels).mean())
    picked = proba[np.arange(len(labels)), labels]
    return score, float(-np.log(np.clip(picked, 1e-7, 1.0)).mean())


def _pooled(
    net: nn.Module, inputs: torch.Tensor, device: torch.device, batch_size: int
) -> np.ndarray:
    """Eval-mode pooled features (the head's input) of prepared inputs."""
    net.eval()
    outs = []
    with torch.inference_mode():
        for k in range(0, inputs.shape[0], batch_size):
            outs.append(_pre_logits(net, inputs[k : k + batch_size].to(device)).float().cpu())
    return torch.cat(outs).numpy() if outs else np.zeros((0, 0), np.float32)
