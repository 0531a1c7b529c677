"""What more data would cost: labels (hours, money) and GPU hours for the full training.

The sizes come from the learning curve (its predictions at multiples of the sample and
the images needed for the target); the rates from :class:`ReportOptions`. Every figure
is a derived number that cites both, so a reader can redo the arithmetic.

GPU time: where the run fine-tuned the whole network on a GPU, the measured seconds per
image and epoch are used; otherwise the forward FLOPs of the model times three (forward
and backward pass; Kaplan et al. (2020), "Scaling Laws for Neural Language Models",
arXiv:2001.08361, section 2.1) over the assumed sustained throughput of the GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean
from typing import Any, cast

from advisor.report.access import is_number
from advisor.report.context import BuildContext
from advisor.report.numbers import Estimate, Num, derive, join
from advisor.report.options import (
    LABEL_TIME_SOURCES,
    SECONDS_PER_BOX,
    SECONDS_PER_CLASS_CHECK,
    SECONDS_PER_MASK_IMAGE,
)

TRAINING_FLOPS_PER_FORWARD = 3.0
TRAINING_FLOPS_SOURCE = (
    "Kaplan et al. (2020), Scaling Laws for Neural Language Models, arXiv:2001.08361: "
    "training costs about three forward passes."
)


@dataclass
class Rates:
    """The rates every scenario is priced with.

    Attributes:
        seconds_per_label: Annotator seconds per image, or None where no rate is known.
        seconds_basis: Where that rate comes from.
        unit_cost: Cost of labeling one image, or None.
        gpu_seconds_per_image_epoch: GPU seconds to train on one image for one epoch.
        gpu_basis: "measured" (full fine-tune on a GPU) or "flops" (estimated).
        epochs: Epochs of the full training (a report option).
        gpu_rate: Cost of one GPU hour (a report option).

    """

    seconds_per_label: Num | None
    seconds_basis: str
    unit_cost: Num | None
    gpu_seconds_per_image_epoch: Num | None
    gpu_basis: str
    epochs: Num
    gpu_rate: Num


@dataclass
class Scenario:
    """One size of training set, what it is predicted to give, and what it costs.

    Attributes:
        key: "2x", "10x"... (a multiple of the sample) or "target".
        n_train: Training images in total (with its interval for the target).
        additional: Images to collect and label beyond the sample.
        predicted: Predicted accuracy at that size (for the target row: the target).
        label_hours: Annotator hours for the additional images.
        label_cost: Their cost.
        gpu_hours: GPU hours of one full training on ``n_train`` images.
        gpu_cost: Their cost.
        status: For the target row, the learning curve's status ("reachable"...).
        multiple: For a prediction row, its multiple of the sample's training split.

    """

    key: str
    n_train: Estimate
    additional: Estimate
    predicted: Estimate | None
    label_hours: Estimate | None
    label_cost: Estimate | None
    gpu_hours: Num | None
    gpu_cost: Num | None
    status: str = ""
    multiple: Num | None = None


def _option(ctx: BuildContext, name: str, kind: str, unit: str = "") -> Num:
    return Num(ctx.options.value(name), kind, source=f"options/{name}", unit=unit)


def task_of(ctx: BuildContext) -> str:
    """The task the report prices labels for (the recommendation's, else the run's)."""
    task, _ = ctx.reader.find("/recommendation/task", "/validation/task")
    return str(task or "classification")


def labeling_seconds(ctx: BuildContext) -> tuple[Num | None, str]:
    """Annotator seconds per image: the option, else the task's published rate."""
    if ctx.options.seconds_per_label is not None:
        return _option(ctx, "seconds_per_label", "seconds"), ctx.text("costs.basis_option")
    task = task_of(ctx)
    if task == "classification":
        n_classes = ctx.reader.num("/profile/n_classes", "count")
        if n_classes is None or n_classes.value < 2:
            return None, ctx.text("costs.basis_none")
        value = SECONDS_PER_CLASS_CHECK * n_classes.value
        return (
            derive(value, "seconds", "1 s per class per image × classes", n_classes),
            LABEL_TIME_SOURCES[task],
        )
    if task == "detection":
        return (
            derive(SECONDS_PER_BOX, "seconds", "7.0 s per box, one box per image"),
            LABEL_TIME_SOURCES[task],
        )
    if task == "segmentation":
        return (
            derive(SECONDS_PER_MASK_IMAGE, "seconds", "239.7 s per image for full masks"),
            LABEL_TIME_SOURCES[task],
        )
    return None, ctx.text("costs.basis_none")


def _fine_tune_seconds(ctx: BuildContext) -> Num | None:
    """Measured GPU seconds per image and epoch of a full fine-tune, where run on a GPU."""
    reader = ctx.reader
    device, _ = reader.find("/validation/device/type", "/environment/device/type")
    if device != "cuda":
        return None
    _, ref = reader.section("experiments")
    for exp, p in reader.items(ref):
        if not isinstance(exp, dict) or exp.get("strategy") != "full_finetune":
            continue
        n_train = reader.num(join(p, "n_train"), "count")
        per_epoch = [
            reader.num(join(hp, "seconds"), "seconds") for _, hp in reader.items(join(p, "history"))
        ]
        epochs = [e for e in per_epoch if e is not None]
        if n_train is None or n_train.value <= 0 or not epochs:
            continue
        value = fmean(e.value for e in epochs) / n_train.value
        return derive(
            value, "seconds", "mean seconds per epoch / training images", *epochs, n_train
        )
    return None


def _flops_seconds(ctx: BuildContext) -> Num | None:
    """Estimated GPU seconds per image and epoch from the model's FLOPs."""
    reader = ctx.reader
    _, ref = reader.find(
        "/validation/deployment/flops_per_image",
        "/deployment/flops_per_image",
        "/validation/backbone/flops_per_image",
        "/backbone/flops_per_image",
    )
    flops = reader.num(ref, "flops")
    if flops is None:
        return None
    throughput = _option(ctx, "gpu_effective_flops", "flops")
    return derive(
        TRAINING_FLOPS_PER_FORWARD * flops.value / throughput.value,
        "seconds",
        "3 × forward FLOPs per image / GPU FLOP/s",
        flops,
        throughput,
    )


def rates(ctx: BuildContext) -> Rates:
    """Resolve the labeling and GPU rates for this engagement."""
    seconds, basis = labeling_seconds(ctx)
    currency = ctx.options.currency
    if ctx.options.label_unit_cost is not None:
        unit_cost: Num | None = _option(ctx, "label_unit_cost", "money", currency)
    elif seconds is not None:
        hourly = _option(ctx, "annotator_hourly_rate", "money", currency)
        unit_cost = derive(
            seconds.value * hourly.value / 3600,
            "money",
            "seconds per label × annotator hourly rate / 3600",
            seconds,
            hourly,
            unit=currency,
        )
    else:
        unit_cost = None
    measured = _fine_tune_seconds(ctx)
    gpu = measured or _flops_seconds(ctx)
    return Rates(
        seconds_per_label=seconds,
        seconds_basis=basis,
        unit_cost=unit_cost,
        gpu_seconds_per_image_epoch=gpu,
        gpu_basis="measured" if measured is not None else "flops",
        epochs=_option(ctx, "training_epochs", "count"),
        gpu_rate=_option(ctx, "gpu_hourly_rate", "money", currency),
    )


def _extra(n: Num | None, n_max: Num) -> Num | None:
    if n is None:
        return None
    return derive(
        max(n.value - n_max.value, 0),
        "count",
        "max(training images − images in the sample's training split, 0)",
        n,
        n_max,
    )


def _label_hours(extra: Num | None, r: Rates) -> Num | None:
    if extra is None or r.seconds_per_label is None:
        return None
    return derive(
        extra.value * r.seconds_per_label.value / 3600,
        "hours",
        "additional images × seconds per label / 3600",
        extra,
        r.seconds_per_label,
    )


def _label_cost(extra: Num | None, r: Rates) -> Num | None:
    if extra is None or r.unit_cost is None:
        return None
    return derive(
        extra.value * r.unit_cost.value,
        "money",
        "additional images × cost per label",
        extra,
        r.unit_cost,
        unit=r.unit_cost.unit,
    )


def _span(fn: Any, extra: Estimate, r: Rates) -> Estimate | None:
    value = fn(extra.value, r)
    if value is None:
        return None
    return Estimate(value, fn(extra.low, r), fn(extra.high, r))


def _gpu(n: Num, r: Rates) -> tuple[Num | None, Num | None]:
    per = r.gpu_seconds_per_image_epoch
    if per is None:
        return None, None
    hours = derive(
        n.value * r.epochs.value * per.value / 3600,
        "hours",
        "training images × epochs × GPU seconds per image-epoch / 3600",
        n,
        r.epochs,
        per,
    )
    cost = derive(
        hours.value * r.gpu_rate.value,
        "money",
        "GPU hours × GPU hourly rate",
        hours,
        r.gpu_rate,
        unit=r.gpu_rate.unit,
    )
    return hours, cost


def scenarios(ctx: BuildContext, r: Rates) -> list[Scenario]:
    """Price the learning curve's predictions and the target's images needed.

    Returns:
        One scenario per prediction (2x, 10x...) and, where the run computed it, one
        for the client's target; [] where no learning curve was fitted.

    """
    reader = ctx.reader
    _, ref = reader.section("learning_curve")
    if ref is None or not isinstance(reader.get(join(ref, "fit")), dict):
        return []
    n_max = reader.num(join(ref, "fit", "n_max"), "count")
    if n_max is None:
        return []
    out = []
    for pred, p in reader.items(join(ref, "fit", "predictions")):
        n = reader.num(join(p, "n"), "count")
        multiple = pred.get("extrapolation") if isinstance(pred, dict) else None
        if n is None or not is_number(multiple):
            continue
        extra = Estimate(_extra(n, n_max))  # type: ignore[arg-type]
        gpu_hours, gpu_cost = _gpu(n, r)
        out.append(
            Scenario(
                key=f"{float(cast(float, multiple)):g}x",
                n_train=Estimate(n),
                additional=extra,
                predicted=reader.estimate(p),
                label_hours=_span(_label_hours, extra, r),
                label_cost=_span(_label_cost, extra, r),
                gpu_hours=gpu_hours,
                gpu_cost=gpu_cost,
                multiple=reader.num(join(p, "extrapolation"), "multiple"),
            )
        )
    for entry, p in reader.items(join(ref, "fit", "images_needed")):
        n = reader.num(join(p, "n"), "count")
        if not isinstance(entry, dict) or n is None:
            continue
        low = reader.num(join(p, "ci_low"), "count")
        high = reader.num(join(p, "ci_high"), "count")
        extra = Estimate(_extra(n, n_max), _extra(low, n_max), _extra(high, n_max))  # type: ignore[arg-type]
        gpu_hours, gpu_cost = _gpu(n, r)
        goal = reader.num(join(p, "target"), "percent")
        out.append(
            Scenario(
                key="target",
                n_train=Estimate(n, low, high),
                additional=extra,
                predicted=Estimate(goal) if goal is not None else None,
                label_hours=_span(_label_hours, extra, r),
                label_cost=_span(_label_cost, extra, r),
                gpu_hours=gpu_hours,
                gpu_cost=gpu_cost,
                status=str(entry.get("status", "")),
            )
        )
    return out
