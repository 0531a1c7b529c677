"""The Ray runner: each job on a worker of an existing Ray cluster (the firm's GPU servers).

Imported only by :func:`engines.jobs.create_runner` when Ray is asked for, since Ray is
an optional extra (``pip install 'feasibility-advisor[cluster]'``).

Design, and why:

* **One actor per job**, not a task plus a side channel. The actor runs the job
  function in one thread and, being a threaded actor (``max_concurrency`` > 1), answers
  ``info()`` (latest progress, start time, pid, node, GPU ids) and ``cancel()`` from
  others while the job runs. So progress and cancellation travel on the job's own
  handle: no progress actor or queue to create, name, find again and clean up, and the
  actor's lifetime is exactly the job's. The actor asks for ``num_cpus`` CPUs and, when
  the run wants one, ``num_gpus=1``; Ray schedules it on a node that has them, and the
  job is "queued" until it does.
* **The sample travels once, through the object store.** The payload folder is packed
  into a stored zip and ``ray.put`` in pieces of 64 MiB (the laptop never holds more than
  one piece in memory); the worker fetches the pieces, unpacks them into a private temp
  folder, and the job's arguments are pointed there (:mod:`engines.jobs.payload`). A
  shared path (NFS) would save the copy, but the laptop's upload folder is not on any
  shared file system, and the object store needs nothing set up on the servers.
  The pieces are released as soon as the job ends.
* **Cancel** sets the job's :class:`~engines.progress.CancelToken` inside the worker, so
  the engine stops at its next check and ends "cancelled" cleanly; a job still queued,
  or one that has not stopped after ``cancel_grace`` seconds, is ended with
  ``ray.kill``, which frees its GPU at once.
* **Worker loss**: actors are created with ``max_restarts=0`` and
  ``max_task_retries=0``. A killed worker process or a dead node surfaces as
  ``ActorDiedError`` (or ``WorkerCrashedError``, ``NodeDiedError``, ``OutOfMemoryError``)
  on the job's result, which :meth:`RayRunner.poll` turns into "failed" with the reason.
  When Ray can only say the actor is *unavailable* (its node stopped answering), the
  runner keeps asking the actor itself: it ends the job with the actor's own outcome if
  it answers, "failed" once Ray declares it dead, or after ``unreachable_grace`` seconds
  of silence. No automatic retry: a validation runs within a time budget during a
  meeting, a retry would silently double the wait, and what killed the first attempt
  (memory, a sick node) usually kills the second; the consultant sees the reason and
  re-runs with one click. Losing contact with the cluster itself also ends the job
  "failed", so nothing is ever shown as running forever.
* **What crosses the wire is plain**: the job function and its arguments travel as one
  pickled blob that only the worker unpickles, so a job whose code the worker lacks
  fails alone with that reason (were Ray to unpickle it on the way, in the head's
  client server, the whole client connection would break). Progress, results and
  errors come back as builtins (dicts, strings); errors raised by the job function are
  caught in the worker and sent back as a one-line reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import ray
from ray import exceptions as ray_errors

from engines.errors import EngineError
from engines.jobs.payload import (
    PayloadFolder,
    mark_payload_paths,
    pack_payload,
    read_chunks,
    resolve_payload_paths,
    unpack_payload,
)
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
    error_line,
    shorten,
    unknown_job,
)
from engines.progress import Cancelled, CancelToken, Progress

NAMESPACE = "feasibility-advisor"
DEFAULT_CANCEL_GRACE_SECONDS = 15.0
DEFAULT_POLL_WAIT_SECONDS = 0.5
DEFAULT_UNREACHABLE_GRACE_SECONDS = 30.0
_COLLECT_TIMEOUT_SECONDS = 30.0
_LOST_ERRORS = (
    ray_errors.RayActorError,
    ray_errors.WorkerCrashedError,
    ray_errors.NodeDiedError,
    ray_errors.OutOfMemoryError,
    ray_errors.ObjectLostError,
)


def _plain_progress(progress: Progress | None) -> dict[str, Any] | None:
    """Progress as builtins, so the cluster's head never needs the project's classes."""
    return dataclasses.asdict(progress) if progress is not None else None


def _progress_from(data: dict[str, Any] | None) -> Progress | None:
    return Progress(**data) if data is not None else None


class _CodeMissing(EngineError):
    """The worker cannot import the job function or its arguments' classes."""


class _JobActor:
    """Runs one job on a Ray worker and answers questions about it while it runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token = CancelToken()
        self._progress: Progress | None = None
        self._started_at: float | None = None
        self._envelope: dict[str, Any] | None = None

    def info(self) -> dict[str, Any]:
        """Return the latest progress, start time, outcome once finished, and where it runs."""
        with self._lock:
            progress, started_at, envelope = self._progress, self._started_at, self._envelope
        return {
            "progress": _plain_progress(progress),
            "started_at": started_at,
            "envelope": envelope,
            "pid": os.getpid(),
            "node_ip": ray.util.get_node_ip_address(),
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
        }

    def cancel(self) -> None:
        """Ask the job to stop at its next check."""
        self._token.cancel()

    def _report(self, progress: Progress) -> None:
        with self._lock:
            self._progress = progress

    def run(self, call: bytes, chunks: list[Any]) -> dict[str, Any]:
        """Fetch the payload, run the job function, and return an envelope of the outcome.

        ``call`` is the pickled ``(fn, kwargs)``: it is unpickled only here, on the
        worker, so a job whose code the worker lacks fails alone, with that reason.
        """
        with self._lock:
            self._started_at = time.time()
        envelope: dict[str, Any] = {"started_at": self._started_at}
        try:
            try:
                fn, kwargs = pickle.loads(call)
            except (ImportError, AttributeError) as exc:
                raise _CodeMissing(
                    f"the worker cannot load the job's code ({error_line(exc)}); install "
                    "the project, at the app's version, on the worker nodes"
                ) from exc
            self._token.raise_if_cancelled()
            if chunks:
                self._report(Progress("payload", 0.0, "Receiving the sample on the worker"))
                with PayloadFolder() as folder:
                    archive = folder.path / "payload.zip"
                    with archive.open("wb") as fh:
                        for ref in chunks:
                            fh.write(ray.get(ref))
                    unpack_payload(archive, folder.path / "files")
                    archive.unlink()
                    result = self._call(fn, resolve_payload_paths(kwargs, folder.path / "files"))
            else:
                result = self._call(fn, kwargs)
            envelope.update(status=DONE, result=result)
        except Cancelled:
            envelope.update(status=CANCELLED)
        except _CodeMissing as exc:
            envelope.update(status=FAILED, error=shorten(str(exc)))
        except Exception as exc:  # noqa: BLE001 - every failure of the job goes back as a reason
            envelope.update(status=FAILED, **error_fields(exc))
        with self._lock:
            envelope.update(progress=_plain_progress(self._progress), finished_at=time.time())
            self._envelope = envelope
        return envelope

    def _call(self, fn: JobFunction, kwargs: dict[str, Any]) -> dict[str, Any]:
        self._token.raise_if_cancelled()
        result = fn(**kwargs, progress=self._report, cancel=self._token)
        if not isinstance(result, dict):
            raise TypeError(f"The job function returned {type(result).__name__}, not a dict.")
        return result


@dataclasses.dataclass
class _RayJob:
    state: JobState
    actor: Any
    run_ref: Any
    chunks: list[Any]
    needs_gpu: bool
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    info_ref: Any = None
    worker: dict[str, Any] | None = None
    cancel_requested_at: float | None = None
    unreachable_since: float | None = None


def lost_reason(exc: BaseException) -> str:
    """Say in one line why a job's worker is gone, from Ray's (long) error.

    Args:
        exc: The Ray error raised when fetching the job's outcome.

    Returns:
        e.g. "the worker running it was lost (its worker process has died)".

    """
    text = str(exc)
    if isinstance(exc, ray_errors.OutOfMemoryError):
        return "the worker running it was lost (its node ran out of memory)"
    if getattr(exc, "actor_init_failed", False):
        found = re.search(r"\b(\w+(?:Error|Exception): [^\n]+)", text)
        detail = found.group(1) if found else text.strip().splitlines()[0]
        return shorten(
            f"the Ray worker could not start the job ({detail}); is the project installed "
            "on the worker nodes?"
        )
    if isinstance(exc, ray_errors.NodeDiedError):
        return "the worker running it was lost (its node died)"
    found = re.search(r"The actor (?:is dead|died) because ([^.\n]+)", text)
    if found:
        detail = found.group(1).strip()
    elif isinstance(exc, ray_errors.ObjectLostError):
        detail = "its data was lost with a node"
    else:
        lines = text.strip().splitlines()
        detail = lines[0] if lines else type(exc).__name__
    return shorten(f"the worker running it was lost ({detail})")


class RayRunner:
    """Runs jobs as actors on an existing Ray cluster.

    Args:
        address: The cluster: ``ray://HEAD:10001`` from another machine, ``auto`` or
            ``HEAD:6379`` on a cluster node, ``local`` for a private single-machine
            instance. None: ``RAY_ADDRESS``; when this process is already connected
            to Ray, that connection is used and left open at shutdown.
        num_cpus: CPUs each job asks for (Ray also caps the job's threads to it).
        cancel_grace: Seconds a cancelled job may take to stop before it is killed.
        poll_wait: Longest :meth:`poll` waits for the worker's latest progress.
        unreachable_grace: Seconds a worker Ray cannot reach (but has not declared
            dead) may stay silent before its job is reported lost.
        runtime_env: Ray runtime environment for the job actors (e.g. ``py_modules``).
        log_to_driver: Whether workers' output is printed by this process.

    Raises:
        EngineError: If no address is known or the cluster cannot be reached.

    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: float = 1,
        cancel_grace: float = DEFAULT_CANCEL_GRACE_SECONDS,
        poll_wait: float = DEFAULT_POLL_WAIT_SECONDS,
        unreachable_grace: float = DEFAULT_UNREACHABLE_GRACE_SECONDS,
        runtime_env: dict[str, Any] | None = None,
        log_to_driver: bool = False,
    ) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.num_cpus = num_cpus
        self.cancel_grace = cancel_grace
        self.poll_wait = poll_wait
        self.unreachable_grace = unreachable_grace
        self.runtime_env = runtime_env
        self._lock = threading.Lock()
        self._jobs: dict[str, _RayJob] = {}
        self._owns_connection = False
        if not ray.is_initialized():
            if not self.address:
                raise EngineError(
                    "No Ray cluster to send validations to: set RAY_ADDRESS "
                    "(e.g. ray://gpu-head:10001) or the runner address setting; "
                    "see docs/cluster.md."
                )
            try:
                ray.init(address=self.address, namespace=NAMESPACE, log_to_driver=log_to_driver)
            except Exception as exc:
                with contextlib.suppress(Exception):
                    ray.shutdown()  # leave no half-made connection behind
                raise EngineError(
                    f"Could not connect to the Ray cluster at {self.address} "
                    f"({error_line(exc)}). Check that the head is running, that its client "
                    "port is reachable, that this machine has the same Ray and Python "
                    "versions, and the cluster's token (RAY_AUTH_TOKEN); see docs/cluster.md."
                ) from exc
            self._owns_connection = True
        self._actor_class = ray.remote(_JobActor)

    # -- the JobRunner interface -------------------------------------------------------

    def submit(
        self,
        job_id: str,
        fn: JobFunction,
        kwargs: dict[str, Any],
        *,
        needs_gpu: bool = False,
        payload_dir: Path | None = None,
    ) -> None:
        """Start ``fn(**kwargs, progress=..., cancel=...)`` on a worker of the cluster.

        Args:
            job_id: The caller's id for the job; must not be in use in this runner.
            fn: A module-level function importable on the workers (the project is
                installed there); its return value (a JSON-ready dict) is the result.
            kwargs: Keyword arguments for ``fn``; paths inside ``payload_dir`` are
                rewritten to the worker's copy.
            needs_gpu: Ask for one GPU (``num_gpus=1``).
            payload_dir: A folder the job reads; shipped once through the object store.

        Raises:
            ValueError: If the id is empty or already used in this runner, or the
                function or its arguments cannot be pickled (a lambda, a local function).
            EngineError: If a GPU is wanted and the cluster has none, or the payload
                folder is missing.

        """
        check_job_id(job_id)
        with self._lock:
            if job_id in self._jobs:
                raise ValueError(f"A job with id {job_id!r} was already submitted.")
        if needs_gpu and ray.cluster_resources().get("GPU", 0) < 1:
            raise EngineError(
                "The Ray cluster has no GPU: start a worker on a GPU server with "
                "`ray start --address=HEAD:6379 --num-gpus=1`, or run on CPU."
            )
        if payload_dir is not None:
            kwargs = mark_payload_paths(dict(kwargs), Path(payload_dir))
        try:
            call = pickle.dumps((fn, dict(kwargs)), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise ValueError(
                "The job function and its arguments must be picklable, the function "
                f"module-level (importable on the workers): {error_line(exc)}"
            ) from exc
        chunks: list[Any] = []
        if payload_dir is not None:
            with tempfile.TemporaryFile() as packed:
                pack_payload(Path(payload_dir), packed)
                chunks = [ray.put(piece) for piece in read_chunks(packed)]
        actor = self._actor_class.options(
            num_cpus=self.num_cpus,
            num_gpus=1 if needs_gpu else 0,
            max_restarts=0,
            max_task_retries=0,
            max_concurrency=4,
            runtime_env=self.runtime_env,
        ).remote()
        job = _RayJob(
            state=JobState(job_id=job_id, status=QUEUED, progress=self._waiting(needs_gpu)),
            actor=actor,
            # Ray wraps actor methods at run time; its types see the plain method.
            run_ref=actor.run.remote(call, chunks),  # type: ignore[attr-defined]
            chunks=chunks,
            needs_gpu=needs_gpu,
        )
        with self._lock:
            self._jobs[job_id] = job

    def poll(self, job_id: str) -> JobState:
        """Return the job's current state, asking its worker for the latest progress.

        Waits at most ``poll_wait`` seconds. A lost worker or a lost connection to the
        cluster ends the job "failed" with the reason.

        Args:
            job_id: The id given to :meth:`submit`.

        Returns:
            An immutable snapshot of the job (a failed state for an unknown id).

        """
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            return unknown_job(job_id)
        with job.lock:
            if not job.state.finished:
                try:
                    self._refresh(job)
                except Exception as exc:  # noqa: BLE001 - any failure to ask ends the job
                    self._finish(
                        job, FAILED, error=f"lost contact with the Ray cluster ({error_line(exc)})"
                    )
            return job.state

    def cancel(self, job_id: str) -> None:
        """Stop the job: through its cancel token when running, with ``ray.kill`` if queued.

        Does nothing for an unknown or finished job.

        Args:
            job_id: The id given to :meth:`submit`.

        """
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            return
        with job.lock:
            if job.state.finished:
                return
            if job.state.status == QUEUED:
                self._finish(job, CANCELLED)
                return
            if job.cancel_requested_at is None:
                job.cancel_requested_at = time.monotonic()
                try:
                    job.actor.cancel.remote()
                except Exception:  # noqa: BLE001 - cannot reach the worker: end it here
                    self._finish(job, CANCELLED)

    def shutdown(self) -> None:
        """Kill every unfinished job (reported "cancelled"); disconnect if this runner connected."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            with job.lock:
                if not job.state.finished:
                    self._finish(job, CANCELLED)
        if self._owns_connection and ray.is_initialized():
            ray.shutdown()
        self._owns_connection = False

    def describe(self) -> dict[str, Any]:
        """Return JSON-ready facts about the cluster: address, nodes, CPUs and GPUs."""
        resources = ray.cluster_resources()
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        return {
            "runner": self.name,
            "where": self.address or "the Ray cluster this process is connected to",
            "ray_version": ray.__version__,
            "nodes": len(nodes),
            "cpus": resources.get("CPU", 0),
            "gpus": resources.get("GPU", 0),
        }

    # -- extras ------------------------------------------------------------------------

    def worker(self, job_id: str) -> dict[str, Any] | None:
        """Where the job runs, once its worker has answered: pid, node_ip and gpu_ids.

        Args:
            job_id: The id given to :meth:`submit`.

        Returns:
            The worker's facts, or None before the job started (or for an unknown id).

        """
        with self._lock:
            job = self._jobs.get(job_id)
        return dict(job.worker) if job is not None and job.worker else None

    # -- internals (called with the job's lock held) -----------------------------------

    @staticmethod
    def _waiting(needs_gpu: bool) -> Progress:
        what = "a free GPU" if needs_gpu else "a free CPU"
        return Progress("queued", 0.0, f"Waiting for a Ray worker with {what}")

    def _refresh(self, job: _RayJob) -> None:
        if job.run_ref is not None and ray.wait([job.run_ref], timeout=0)[0]:
            self._collect(job)
            if job.state.finished:
                return
        if (
            job.cancel_requested_at is not None
            and time.monotonic() - job.cancel_requested_at > self.cancel_grace
        ):
            self._finish(job, CANCELLED)
            return
        if job.info_ref is None:
            job.info_ref = job.actor.info.remote()
        ready, _ = ray.wait([job.info_ref], timeout=self.poll_wait)
        if not ready:
            self._give_up_if_unreachable(job)
            return
        info_ref, job.info_ref = job.info_ref, None
        try:
            info = ray.get(info_ref)
        except ray_errors.ActorUnavailableError:
            job.unreachable_since = job.unreachable_since or time.monotonic()
            self._give_up_if_unreachable(job)
            return
        except _LOST_ERRORS as exc:
            self._lost(job, exc)
            return
        job.unreachable_since = None
        job.worker = {k: info[k] for k in ("pid", "node_ip", "gpu_ids")}
        if info["envelope"] is not None:  # finished while its result could not be fetched
            self._apply(job, info["envelope"])
            return
        changes: dict[str, Any] = {}
        if info["started_at"] is not None:
            changes.update(status=RUNNING, started_at=info["started_at"])
        if info["progress"] is not None:
            changes["progress"] = _progress_from(info["progress"])
        elif info["started_at"] is not None:
            node = info["node_ip"]
            changes["progress"] = Progress("starting", 0.0, f"Started on a Ray worker ({node})")
        if changes:
            job.state = dataclasses.replace(job.state, **changes)

    def _collect(self, job: _RayJob) -> None:
        """Fetch the outcome of a finished ``run`` call and end the job with it."""
        try:
            envelope = ray.get(job.run_ref, timeout=_COLLECT_TIMEOUT_SECONDS)
        except ray_errors.ActorUnavailableError:
            # Ray cannot reach the actor yet cannot say it is dead (its node stopped
            # answering): watch it through info() until it answers, is declared dead,
            # or stays silent for unreachable_grace seconds.
            job.run_ref = None
            job.unreachable_since = job.unreachable_since or time.monotonic()
            return
        except _LOST_ERRORS as exc:
            self._lost(job, exc)
            return
        except ray_errors.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            error = f"the Ray worker could not run it ({error_line(cause)})"
            self._finish(job, FAILED, error=error)
            return
        except ray_errors.RayError as exc:
            self._finish(job, FAILED, error=f"Ray could not run it ({error_line(exc)})")
            return
        self._apply(job, envelope)

    def _apply(self, job: _RayJob, envelope: dict[str, Any]) -> None:
        self._finish(
            job,
            envelope["status"],
            result=envelope.get("result"),
            error=envelope.get("error"),
            error_kind=envelope.get("error_kind")
            or ("runner" if envelope["status"] == FAILED else None),
            progress=_progress_from(envelope.get("progress")),
            started_at=envelope.get("started_at"),
            finished_at=envelope.get("finished_at"),
        )

    def _lost(self, job: _RayJob, exc: BaseException) -> None:
        if job.cancel_requested_at is not None:
            self._finish(job, CANCELLED)
        else:
            self._finish(job, FAILED, error=lost_reason(exc))

    def _give_up_if_unreachable(self, job: _RayJob) -> None:
        since = job.unreachable_since
        if since is None or time.monotonic() - since <= self.unreachable_grace:
            return
        if job.cancel_requested_at is not None:
            self._finish(job, CANCELLED)
        else:
            silent = time.monotonic() - since
            self._finish(
                job,
                FAILED,
                error=f"the worker running it was lost (no answer from it for {silent:.0f} s)",
            )

    def _finish(
        self,
        job: _RayJob,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        error_kind: str | None = None,
        progress: Progress | None = None,
        started_at: float | None = None,
        finished_at: float | None = None,
    ) -> None:
        """Record the final state, then kill the actor and drop the payload's pieces."""
        job.state = dataclasses.replace(
            job.state,
            status=status,
            result=result,
            error=error,
            error_kind=error_kind or ("runner" if status == FAILED else None),
            progress=progress or job.state.progress,
            started_at=started_at or job.state.started_at,
            finished_at=finished_at or time.time(),
        )
        actor, job.actor, job.run_ref, job.info_ref, job.chunks = job.actor, None, None, None, []
        if actor is not None:
            # Already gone, or the cluster is unreachable: nothing left to free.
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)
