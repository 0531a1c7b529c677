"""Which device a run uses: CUDA when present, Apple MPS, else the CPU with all cores."""

from __future__ import annotations

import os

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(choice: str = "auto") -> torch.device:
    """Turn a device choice into a usable torch device.

    Args:
        choice: "auto", "cpu", "cuda" or "mps".

    Returns:
        The device. "auto" picks CUDA, then MPS, then CPU.

    Raises:
        ValueError: If the choice is unknown or the asked-for device is not present.

    """
    if choice not in DEVICE_CHOICES:
        raise ValueError(f"Unknown device {choice!r}: use one of {', '.join(DEVICE_CHOICES)}.")
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        choice = "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("No CUDA GPU is visible on this machine: use --device cpu or auto.")
    if choice == "mps" and not torch.backends.mps.is_available():
        raise ValueError("Apple MPS is not available on this machine: use --device cpu or auto.")
    if choice == "cpu":
        torch.set_num_threads(cpu_threads())
    return torch.device(choice)


def background_load() -> float | None:
    """One-minute load average of the machine, or None where the OS does not say."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def cpu_threads(cores: int | None = None, load: float | None = None) -> int:
    """Intra-op threads for the CPU: every core unless the machine is heavily oversubscribed.

    With passive OpenMP waiting (set in :mod:`engines`), using every core under a load of
    2-3 from other programs costs about what the shared cores imply (measured: 0.089 s
    per image against 0.160 s on one thread); only when the load is far beyond the core
    count does one thread per two cores lose less to contention.

    Args:
        cores: Cores available to this process (None: counted).
        load: Load average from other programs (None: read from the OS).

    Returns:
        The thread count, at least 1.

    """
    if cores is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:
            cores = os.cpu_count() or 1
    cores = max(1, cores)
    load = background_load() if load is None else load
    if load is not None and load > 3.0 * cores:
        return max(1, cores // 2)
    return cores


def describe_device(device: torch.device) -> dict[str, str | int | float | None]:
    """Return what a result should record about the device."""
    info: dict[str, str | int | float | None] = {"type": device.type, "name": None, "threads": None}
    if device.type == "cuda":
        info["name"] = torch.cuda.get_device_name(device)
    else:
        info["threads"] = torch.get_num_threads()
        info["name"] = "cpu"
        info["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY")
        load = background_load()
        info["load_average"] = round(load, 2) if load is not None else None
    return info
