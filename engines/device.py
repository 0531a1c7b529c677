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
        torch.set_num_threads(max(1, os.cpu_count() or 1))
    return torch.device(choice)


def describe_device(device: torch.device) -> dict[str, str | int | None]:
    """Return what a result should record about the device."""
    info: dict[str, str | int | None] = {"type": device.type, "name": None, "threads": None}
    if device.type == "cuda":
        info["name"] = torch.cuda.get_device_name(device)
    else:
        info["threads"] = torch.get_num_threads()
        info["name"] = "cpu"
    return info
