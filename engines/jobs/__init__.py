"""Run validations in the background: in this process, or on a Ray cluster's GPUs.

The app holds one runner per process and talks to it by job id::

    runner = create_runner("ray", address="ray://gpu-head:10001")
    runner.submit(run_id, run_validation, {"split": split, "config": cfg},
                  needs_gpu=True, payload_dir=sample_dir)
    state = runner.poll(run_id)     # JobState: status, progress, result, error
    runner.cancel(run_id)

A job function is a module-level function ``fn(**kwargs, progress, cancel) -> dict``
(the engines' own convention), so the same function runs under either runner.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from engines.errors import EngineError
from engines.jobs.in_process import InProcessRunner
from engines.jobs.state import (
    CANCELLED,
    DONE,
    FAILED,
    FINAL_STATUSES,
    QUEUED,
    RUNNING,
    STATUSES,
    JobFunction,
    JobRunner,
    JobState,
)

RUNNER_KINDS: tuple[str, ...] = ("in-process", "ray")

RAY_INSTALL_HINT = (
    "Ray is not installed: pip install 'feasibility-advisor[cluster]' (or the same "
    "Ray version as the cluster: pip install 'ray[client]==<version>') to send "
    "validations to a Ray cluster; see docs/cluster.md. Until then validations run "
    "in-process on this machine."
)

__all__ = [
    "CANCELLED",
    "DONE",
    "FAILED",
    "FINAL_STATUSES",
    "QUEUED",
    "RAY_INSTALL_HINT",
    "RUNNER_KINDS",
    "RUNNING",
    "STATUSES",
    "InProcessRunner",
    "JobFunction",
    "JobRunner",
    "JobState",
    "create_runner",
    "ray_installed",
]


def ray_installed() -> bool:
    """Whether the optional Ray extra is importable (without importing it)."""
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        return False


def create_runner(
    kind: str = "in-process", address: str | None = None, **options: Any
) -> JobRunner:
    """Build the job runner the settings ask for.

    Args:
        kind: "in-process" (default: background threads on this machine) or "ray".
        address: Ray only: the cluster address (``ray://HEAD:10001``, ``auto``, ...);
            None reads ``RAY_ADDRESS``.
        **options: Passed to the runner's constructor (``max_concurrent`` for
            in-process; ``num_cpus``, ``cancel_grace``, ``runtime_env``... for Ray).

    Returns:
        The runner; the caller holds it for the life of the process and calls
        ``shutdown()`` at the end.

    Raises:
        ValueError: If ``kind`` is unknown.
        EngineError: If Ray is asked for but not installed, or its cluster cannot be
            reached.

    """
    if kind == "in-process":
        return InProcessRunner(**options)
    if kind == "ray":
        try:
            from engines.jobs.ray_runner import RayRunner
        except ImportError as exc:
            raise EngineError(RAY_INSTALL_HINT) from exc
        return RayRunner(address, **options)
    raise ValueError(f"Unknown job runner {kind!r}: use one of {', '.join(RUNNER_KINDS)}.")
