"""What the machine can do and what it is: matmul FLOP/s, device, versions, CPU count.

The FLOP-bound rate of feature extraction is the model's FLOPs per image divided into
this machine's dense matrix-multiply throughput, measured in the same run (so that the
fraction does not depend on a datasheet or on how busy the machine is today). A dense
matmul is the fastest thing the BLAS library does; a convolutional network cannot
beat it, so ``achieved / matmul`` is an honest efficiency in (0, 1].
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from typing import Any

import torch

from bench.timing import time_repeats

_VERSIONED = (
    "torch",
    "torchvision",
    "timm",
    "numpy",
    "pillow",
    "scikit-learn",
    "scikit-image",
    "onnxruntime",
    "onnx",
)


def matmul_flops(
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    sizes: tuple[int, ...] = (1024, 2048),
    repeats: int = 5,
) -> dict[str, Any]:
    """Measured dense matmul throughput of a device, in FLOP/s.

    The ceiling is the best time over repeats at the size that runs fastest: noise
    from other processes can only slow a matmul down, so the fastest repeat is the
    closest to what the hardware does (medians are recorded beside it).

    Args:
        device: Where to measure.
        dtype: Element type (float32 on the CPU; bfloat16 where the engine autocasts).
        sizes: Square matrix sides tried.
        repeats: Timed products per size.

    Returns:
        ``flops_per_second`` (the ceiling), ``size`` it was reached at, ``dtype``, and
        per size the best and median rates.

    """
    per_size = {}
    best, best_size = 0.0, sizes[0]
    for n in sizes:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        times = time_repeats(lambda a=a, b=b: a @ b, repeats=repeats, warmup=1, device=device)
        flop = 2.0 * n**3
        rates = sorted(flop / t for t in times)
        per_size[str(n)] = {
            "best_flops_per_second": rates[-1],
            "median_flops_per_second": rates[len(rates) // 2],
        }
        if rates[-1] > best:
            best, best_size = rates[-1], n
    return {
        "flops_per_second": best,
        "size": best_size,
        "dtype": str(dtype).replace("torch.", ""),
        "per_size": per_size,
    }


def library_versions() -> dict[str, str | None]:
    """Versions of Python and the libraries the figures depend on (None: not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def describe_machine(device: torch.device) -> dict[str, Any]:
    """CPU count, threads, platform and the accelerator's name and memory."""
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "python_executable": os.path.basename(sys.executable),
        "device": {"type": device.type, "name": "cpu"},
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info["device"] = {
            "type": "cuda",
            "name": props.name,
            "memory_gib": round(props.total_memory / 1024**3, 1),
            "capability": f"{props.major}.{props.minor}",
        }
    return info


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None
