"""The default runner: each job in a background thread of this process.

Why threads and not processes: the heavy work (torch kernels, image decoding) releases
the GIL, so a thread runs at full speed while the app stays responsive; progress and
cancellation are plain shared objects (no pickling, no IPC); the models and caches the
process already loaded are reused; and nothing has to be importable in a fresh
interpreter. What a thread cannot do is be killed: cancellation is cooperative through
the job's :class:`~engines.progress.CancelToken`, which the engines check between
batches. A job that needs to be killable belongs on the Ray runner.

At most ``max_concurrent`` jobs run at once (one by default: two validations on one
laptop only slow each other down); the others wait with status "queued".
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path
from typing import Any

from engines.jobs.state import (
    CANCELLED,
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    JobFunction,
    JobState,
    check_job_id,
    error_fields,
    unknown_job,
)
from engines.progress import Cancelled, CancelToken, Progress

_QUEUE_CHECK_SECONDS = 0.2


@dataclasses.dataclass
class _Job:
    state: JobState
    token: CancelToken
    thread: threading.Thread | None = None


class InProcessRunner:
    """Runs jobs in background threads of this process.

    Args:
        max_concurrent: Most jobs running at once; the rest wait as "queued".

    Raises:
        ValueError: If ``max_concurrent`` is below 1.

    """

    name = "in-process"

    def __init__(self, max_concurrent: int = 1) -> None:
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, got {max_concurrent}.")
        self.max_concurrent = max_concurrent
        self._slots = threading.Semaphore(max_concurrent)
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}

    def submit(
        self,
        job_id: str,
        fn: JobFunction,
        kwargs: dict[str, Any],
        *,
        needs_gpu: bool = False,
        payload_dir: Path | None = None,
    ) -> None:
        """Start ``fn(**kwargs, progress=..., cancel=...)`` in a background thread.

        Args:
            job_id: The caller's id for the job; must not be in use in this runner.
            fn: The job function; its return value becomes the result.
            kwargs: Keyword arguments for ``fn`` (besides progress and cancel).
            needs_gpu: Ignored here: the job uses whatever device this machine has.
            payload_dir: Ignored here: the job reads its files where they are.

        Raises:
            ValueError: If the id is empty or already used in this runner.

        """
        check_job_id(job_id)
        job = _Job(state=JobState(job_id=job_id, status=QUEUED), token=CancelToken())
        with self._lock:
            if job_id in self._jobs:
                raise ValueError(f"A job with id {job_id!r} was already submitted.")
            self._jobs[job_id] = job
        job.thread = threading.Thread(
            target=self._run, args=(job, fn, dict(kwargs)), name=f"job-{job_id}", daemon=True
        )
        job.thread.start()

    def poll(self, job_id: str) -> JobState:
        """Return the job's current state (a failed state for an unknown id).

        Args:
            job_id: The id given to :meth:`submit`.

        Returns:
            An immutable snapshot of the job.

        """
        with self._lock:
            job = self._jobs.get(job_id)
            return job.state if job is not None else unknown_job(job_id)

    def cancel(self, job_id: str) -> None:
        """Ask the job to stop; it ends "cancelled" at its next check of the token.

        Does nothing for an unknown or finished job.

        Args:
            job_id: The id given to :meth:`submit`.

        """
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None:
            job.token.cancel()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel every job and wait up to ``timeout`` seconds in all for their threads.

        Args:
            timeout: Seconds to wait for the threads to notice the cancellation.

        """
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.token.cancel()
        deadline = time.monotonic() + timeout
        for job in jobs:
            if job.thread is not None:
                job.thread.join(max(0.0, deadline - time.monotonic()))

    def describe(self) -> dict[str, Any]:
        """Return JSON-ready facts about where jobs run."""
        return {
            "runner": self.name,
            "where": "this machine",
            "cpus": os.cpu_count(),
            "max_concurrent": self.max_concurrent,
        }

    # -- inside the job's thread -------------------------------------------------------

    def _update(self, job: _Job, **changes: Any) -> None:
        with self._lock:
            if not job.state.finished:
                job.state = dataclasses.replace(job.state, **changes)

    def _report(self, job: _Job, progress: Progress) -> None:
        self._update(job, progress=progress)

    def _run(self, job: _Job, fn: JobFunction, kwargs: dict[str, Any]) -> None:
        acquired = False
        try:
            while not (acquired := self._slots.acquire(timeout=_QUEUE_CHECK_SECONDS)):
                job.token.raise_if_cancelled()
            job.token.raise_if_cancelled()
            self._update(job, status=RUNNING, started_at=time.time())
            result = fn(**kwargs, progress=lambda p: self._report(job, p), cancel=job.token)
            if not isinstance(result, dict):
                raise TypeError(f"The job function returned {type(result).__name__}, not a dict.")
            self._update(job, status=DONE, result=result, finished_at=time.time())
        except Cancelled:
            self._update(job, status=CANCELLED, finished_at=time.time())
        except Exception as exc:  # noqa: BLE001 - any failure of the job becomes its state
            self._update(job, status=FAILED, **error_fields(exc), finished_at=time.time())
        finally:
            if acquired:
                self._slots.release()
            # Whatever escaped above (SystemExit in the job...), never leave it "running".
            self._update(
                job,
                status=FAILED,
                error="the job's thread stopped unexpectedly",
                error_kind="runner",
                finished_at=time.time(),
            )
