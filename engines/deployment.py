"""Deployment figures of a model: size, compute and measured latency on this machine."""

from __future__ import annotations

import io
import statistics
import time
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_flops(model: nn.Module, input_size: int, device: torch.device | None = None) -> int:
    """Floating-point operations of one forward pass on one image (2 per multiply-add)."""
    device = device or next(model.parameters()).device
    x = torch.zeros(1, 3, input_size, input_size, device=device)
    model.eval()
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(x)
    return int(counter.get_total_flops())


def measure_latency(
    model: nn.Module,
    input_size: int,
    device: torch.device,
    batch_size: int = 1,
    repeats: int = 10,
    warmup: int = 2,
) -> dict[str, float]:
    """Median and spread of the forward time of one batch, in milliseconds.

    Args:
        model: Model in eval mode on ``device``.
        input_size: Square input side in pixels.
        device: Where to measure.
        batch_size: Images per forward pass.
        repeats: Timed passes.
        warmup: Untimed passes first (allocator, kernels).

    Returns:
        ``median_ms``, ``p90_ms`` and ``per_image_ms``.

    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1.")
    model.eval()
    x = torch.zeros(batch_size, 3, input_size, input_size, device=device).contiguous(
        memory_format=torch.channels_last
    )
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t = time.perf_counter()
            model(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i >= warmup:
                times.append((time.perf_counter() - t) * 1000.0)
    times.sort()
    median = statistics.median(times)
    return {
        "median_ms": round(median, 3),
        "p90_ms": round(times[min(len(times) - 1, int(0.9 * len(times)))], 3),
        "per_image_ms": round(median / batch_size, 3),
        "batch_size": batch_size,
        "repeats": repeats,
    }


def model_size_bytes(model: nn.Module) -> int:
    """Bytes of the model's state dict as ``torch.save`` writes it (the file on disk)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def deployment_figures(
    model: nn.Module, input_size: int, device: torch.device, repeats: int = 10
) -> dict[str, Any]:
    """Parameter count, FLOPs, size on disk and latency per image (CPU, and GPU if used).

    Args:
        model: The validated model (ImageNet head or the task head).
        input_size: Input side in pixels.
        device: The device the validation ran on.
        repeats: Timed passes per latency measurement.

    Returns:
        JSON-ready figures; latency is measured on the CPU always and on ``device``
        as well when that is a GPU.

    """
    cpu_model = model.to("cpu")
    figures: dict[str, Any] = {
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "flops_per_image": count_flops(cpu_model, input_size, torch.device("cpu")),
        "size_bytes": model_size_bytes(cpu_model),
        "input_size": input_size,
        "latency_cpu": measure_latency(cpu_model, input_size, torch.device("cpu"), repeats=repeats),
    }
    if device.type != "cpu":
        gpu_model = model.to(device)
        figures["latency_" + device.type] = measure_latency(
            gpu_model, input_size, device, repeats=repeats
        )
        figures["latency_" + device.type + "_batch32"] = measure_latency(
            gpu_model, input_size, device, batch_size=32, repeats=repeats
        )
    model.to(device)
    return figures
