"""Progress reporting and cancellation for long engine work, with no UI dependency."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from engines.errors import EngineError


@dataclass(frozen=True)
class Progress:
    """One progress update.

    Attributes:
        stage: Short machine name of the stage ("features", "linear_probe", ...).
        fraction: Overall completion, 0-1.
        message: Human-readable line about what is happening.
        eta_seconds: Estimated seconds left, where known.
        metric: Latest headline metric (e.g. {"accuracy": 0.91}), where known.

    """

    stage: str
    fraction: float
    message: str = ""
    eta_seconds: float | None = None
    metric: dict[str, float] | None = None


ProgressCallback = Callable[[Progress], None]


def ignore_progress(_: Progress) -> None:
    """Progress callback that does nothing."""


def scaled_progress(progress: ProgressCallback, low: float, high: float) -> ProgressCallback:
    """A callback that maps a stage's own 0-1 progress into [low, high] of the whole job.

    Args:
        progress: The job's callback.
        low: Overall fraction at which the stage starts.
        high: Overall fraction at which it ends.

    Returns:
        The stage's callback.

    """

    def report(p: Progress) -> None:
        progress(
            Progress(p.stage, low + (high - low) * p.fraction, p.message, p.eta_seconds, p.metric)
        )

    return report


class Cancelled(EngineError):
    """Raised inside engine work when the caller asked to stop."""


class CancelToken:
    """A thread-safe flag the caller sets to stop a running job."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the job to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether cancellation was asked for."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`Cancelled` if cancellation was asked for."""
        if self._event.is_set():
            raise Cancelled("The run was cancelled.")


Clock = Callable[[], float]


class Deadline:
    """A wall-clock budget shared by the stages of one job.

    Args:
        seconds: The budget (None: no limit).
        start: Clock reading at which the budget started (None: now); a job that began
            before this stage passes its own start so the whole job is counted.
        clock: Monotonic clock in seconds (injectable so tests can use a fake one).

    """

    def __init__(
        self,
        seconds: float | None,
        start: float | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.clock = clock
        self.start = clock() if start is None else start
        self.seconds = seconds

    @property
    def elapsed(self) -> float:
        """Seconds since the budget started."""
        return self.clock() - self.start

    @property
    def remaining(self) -> float:
        """Seconds left (infinite when there is no budget)."""
        if self.seconds is None:
            return float("inf")
        return self.seconds - self.elapsed
