"""Timing on a shared, noisy machine: medians over repeats, A/B rounds interleaved.

Other processes steal CPU time in bursts. A burst that lands on one variant of a
comparison would make it look slower, so :func:`compare` runs every variant once per
round, in an order that rotates from round to round, and reports the median of each
variant and the median of the per-round ratios. The spread (lowest to highest time)
is kept so that the noise can be read next to each figure.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch


def sync(device: torch.device | None) -> None:
    """Wait for queued GPU work, so that a timer measures it (no-op on the CPU)."""
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def load_average() -> list[float] | None:
    """The 1, 5 and 15-minute load averages (other processes competing for the CPU)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover - platforms without it
        return None


def summarize(times: list[float]) -> dict[str, Any]:
    """Median, lowest, highest and count of a list of durations in seconds."""
    if not times:
        raise ValueError("No timings to summarize: run at least one repeat.")
    return {
        "median_s": round(statistics.median(times), 6),
        "min_s": round(min(times), 6),
        "max_s": round(max(times), 6),
        "repeats": len(times),
    }


def time_repeats(
    fn: Callable[[], Any],
    repeats: int = 3,
    warmup: int = 1,
    device: torch.device | None = None,
) -> list[float]:
    """Seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls.

    Args:
        fn: The work to time.
        repeats: Timed calls (at least 1).
        warmup: Untimed calls first (allocator, caches, lazy initialisation).
        device: Synchronised around each call when it is a GPU.

    Returns:
        The duration of each timed call.

    Raises:
        ValueError: If ``repeats`` is below 1.

    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}.")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return times


def compare(
    variants: dict[str, Callable[[], Any]],
    rounds: int = 5,
    warmup: int = 1,
    device: torch.device | None = None,
) -> dict[str, dict[str, Any]]:
    """Time several variants of the same work in interleaved rounds.

    Args:
        variants: Name -> the work; the first one is the baseline.
        rounds: Timed rounds; each variant runs once per round.
        warmup: Untimed calls of each variant before the first round.
        device: Synchronised around each call when it is a GPU.

    Returns:
        Name -> :func:`summarize` of its times, plus ``speedup_vs_first`` (median of the
        per-round ratios baseline/variant) and ``wins_vs_first`` (rounds it was faster).

    Raises:
        ValueError: If there are no variants or ``rounds`` is below 1.

    """
    if not variants:
        raise ValueError("Nothing to compare: give at least one variant.")
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}.")
    names = list(variants)
    for name in names:
        for _ in range(warmup):
            variants[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            sync(device)
            t0 = time.perf_counter()
            variants[name]()
            sync(device)
            times[name].append(time.perf_counter() - t0)
    base = times[names[0]]
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        ratios = [b / t for b, t in zip(base, times[name], strict=True) if t > 0]
        out[name] = {
            **summarize(times[name]),
            "speedup_vs_first": round(statistics.median(ratios), 3) if ratios else None,
            "wins_vs_first": sum(1 for b, t in zip(base, times[name], strict=True) if t < b),
        }
    return out


class Phases:
    """Wall-clock and CPU seconds of each phase of a run.

    CPU seconds count every thread of this process and its finished children. On a
    machine to itself, CPU / wall approaches the threads in use; much less means other
    processes took the cores (the figures of that phase are slowed by them).
    """

    def __init__(self) -> None:
        self.records: dict[str, dict[str, float]] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the body of a ``with`` block under ``name``."""
        t0, c0 = time.perf_counter(), _cpu_seconds()
        try:
            yield
        finally:
            wall = time.perf_counter() - t0
            cpu = _cpu_seconds() - c0
            self.records[name] = {
                "wall_s": round(wall, 3),
                "cpu_s": round(cpu, 3),
                "cpu_per_wall": round(cpu / wall, 2) if wall > 0 else None,
            }


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
