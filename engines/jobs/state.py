"""What a job runner reports about a job, and the interface every runner implements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from engines.errors import UserError
from engines.progress import Progress

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"

STATUSES: tuple[str, ...] = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
FINAL_STATUSES: frozenset[str] = frozenset({DONE, FAILED, CANCELLED})

MAX_ERROR_CHARS = 300
"""Longest error line a job state carries (the full traceback stays in the worker's log)."""

JobFunction = Callable[..., dict[str, Any]]
"""A module-level function ``fn(**kwargs, progress=..., cancel=...) -> dict``."""


@dataclass(frozen=True)
class JobState:
    """A snapshot of one job, as :meth:`JobRunner.poll` sees it.

    Attributes:
        job_id: The caller's id for the job (the run id of the store).
        status: "queued", "running", "done", "failed" or "cancelled".
        progress: The latest progress the job reported, if any.
        result: The job function's return value, when done.
        error: A one-line reason, when failed.
        error_kind: ``"user"`` when the reason is written for the user (a
            :class:`~engines.errors.UserError`: shown as is), ``"unexpected"`` for any
            other failure of the job, ``"runner"`` when the runner lost the job.
        started_at: Epoch seconds when the job function started, if it did.
        finished_at: Epoch seconds when the job reached its final status.

    """

    job_id: str
    status: str
    progress: Progress | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    error_kind: str | None = None
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def finished(self) -> bool:
        """Whether the status is final (done, failed or cancelled)."""
        return self.status in FINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """Return the state as JSON-ready data (progress as a plain dict)."""
        data = asdict(self)
        data["progress"] = asdict(self.progress) if self.progress is not None else None
        return data


@runtime_checkable
class JobRunner(Protocol):
    """Runs job functions in the background and reports on them by job id.

    A runner is an object the caller holds for the life of the process (the app keeps
    one per process, so a browser reload reconnects to its jobs by id).
    """

    name: str

    def submit(
        self,
        job_id: str,
        fn: JobFunction,
        kwargs: dict[str, Any],
        *,
        needs_gpu: bool = False,
        payload_dir: Path | None = None,
    ) -> None:
        """Start ``fn(**kwargs, progress=..., cancel=...)`` in the background."""
        ...

    def poll(self, job_id: str) -> JobState:
        """Return the job's current state."""
        ...

    def cancel(self, job_id: str) -> None:
        """Ask the job to stop."""
        ...

    def shutdown(self) -> None:
        """Stop every job and release what the runner holds."""
        ...

    def describe(self) -> dict[str, Any]:
        """Return JSON-ready facts about where jobs run, for the settings page."""
        ...


def error_line(exc: BaseException) -> str:
    """Format an exception as one line: its type and the first line of its message.

    Args:
        exc: The exception a job raised.

    Returns:
        ``"ValueError: the message"``, cut to :data:`MAX_ERROR_CHARS` characters.

    """
    message = str(exc).strip().splitlines()[0].strip() if str(exc).strip() else ""
    line = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return shorten(line)


def error_fields(exc: BaseException) -> dict[str, str]:
    """The ``error`` and ``error_kind`` a job state reports for an exception.

    A :class:`~engines.errors.UserError` carries a message written for the user: it is
    reported as it is, with kind ``"user"``. Anything else is ``"unexpected"`` and keeps
    its type name (see :func:`error_line`).
    """
    if isinstance(exc, UserError) and str(exc).strip():
        return {"error": shorten(str(exc).strip().splitlines()[0]), "error_kind": "user"}
    return {"error": error_line(exc), "error_kind": "unexpected"}


def shorten(line: str, limit: int = MAX_ERROR_CHARS) -> str:
    """Collapse whitespace and cut a line to ``limit`` characters."""
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def check_job_id(job_id: str) -> None:
    """Raise ValueError unless ``job_id`` is a non-empty string."""
    if not isinstance(job_id, str) or not job_id.strip():
        raise ValueError(f"A job id must be a non-empty string, got {job_id!r}.")


def unknown_job(job_id: str) -> JobState:
    """Return the state reported for an id this runner never saw (or lost in a restart)."""
    return JobState(
        job_id=job_id,
        status=FAILED,
        error_kind="runner",
        error=(
            "this runner has no job with that id: the app was restarted while it ran, "
            "or it was never submitted"
        ),
    )
