"""Validation runs in the background, mirrored into the engagement store.

The app never runs a validation in its own script thread: :class:`ValidationJobs`
queues a run in the store, hands :func:`validation_job` (which calls
:func:`advisor.pipeline.validate`) to a job runner (``engines.jobs``: background
threads of this process, or a Ray cluster), and follows it from a small monitor thread
that copies its progress and outcome into the store's ``run`` row. So:

- the page stays usable while the run trains (it only reads :meth:`ValidationJobs.view`);
- a browser reload reconnects: the run is found again by its id in the store
  (:meth:`ValidationJobs.active_run`), and the runner, held once per process, still
  knows its live progress;
- a run whose app process died is marked failed by the store's recovery on the next
  start, never shown as running forever.

Typical use (the app holds one ``ValidationJobs`` per process)::

    jobs = ValidationJobs(engine, settings.data_dir, create_runner("in-process"))
    run_id = jobs.start(dataset_id, source=sample_root, intake=intake,
                        config=RunConfig(budget_seconds=60))
    view = jobs.view(run_id)        # RunView: status, stage, fraction, ETA, metric...
    jobs.cancel(run_id)

Never imports torch or streamlit (the pipeline loads the engines when the job runs).
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from advisor import store
from advisor.intake import Intake
from advisor.result import ResultError, load_result, parse_result, write_result
from advisor.store.models import utc_now
from engines.jobs import CANCELLED, DONE, FAILED, RUNNING, JobRunner, JobState
from engines.progress import CancelToken, Progress, ProgressCallback
from engines.results import Result, RunConfig

POLL_SECONDS = 0.5
"""How often the monitor thread copies a run's progress into the store."""


@dataclass(frozen=True)
class RunView:
    """What the Validate page shows about one run.

    Attributes:
        run_id: The store's run id.
        status: "queued", "running", "done", "failed" or "cancelled".
        stage: Machine name of the current stage ("embed", "linear_probe"...).
        fraction: Overall progress, 0-1.
        message: The engine's line about what it is doing.
        eta_seconds: Estimated seconds left, where the engine knows.
        metric: Latest headline metric (e.g. ``{"accuracy": 0.91}``), where known.
        error: Why the run failed or was cancelled, for the consultant.
        elapsed_seconds: Seconds since the run started (or its total, once ended).
        result_dir: Folder holding ``result.json`` and ``report.html`` once done.
        live: Whether this process's runner follows the run (else the store's copy).

    """

    run_id: int
    status: str
    stage: str = ""
    fraction: float = 0.0
    message: str = ""
    eta_seconds: float | None = None
    metric: dict[str, float] | None = None
    error: str | None = None
    elapsed_seconds: float | None = None
    result_dir: Path | None = None
    live: bool = False

    @property
    def finished(self) -> bool:
        """Whether the run has ended (done, failed or cancelled)."""
        return self.status in (DONE, FAILED, CANCELLED)


def validation_job(
    *,
    source: str,
    out_dir: str | None,
    intake: dict[str, Any],
    config: dict[str, Any],
    progress: ProgressCallback,
    cancel: CancelToken,
) -> dict[str, Any]:
    """Run the validation pipeline as a job (the job runners' calling convention).

    Arguments are plain data, so that a remote runner can ship them.

    Args:
        source: The sample folder or zip.
        out_dir: Where result.json and report.html are written; None writes them to a
            temporary folder (a remote worker, whose files the app cannot see: the
            result document travels back as the return value).
        intake: ``Intake.to_dict()`` of the consultant's answers.
        config: ``RunConfig.to_dict()`` of the run's settings.
        progress: Progress callback (given by the runner).
        cancel: Cancellation token (given by the runner).

    Returns:
        The result document as JSON data.

    """
    from advisor import pipeline

    with tempfile.TemporaryDirectory(prefix="fa-run-") as tmp:
        result = pipeline.validate(
            Path(source),
            Path(out_dir) if out_dir else Path(tmp),
            RunConfig.model_validate(config),
            intake=Intake(**intake),
            progress=progress,
            cancel=cancel,
        )
    return result.to_json_dict()


def headline(result: Result) -> dict[str, Any]:
    """The few numbers a run is listed by: best strategy, its accuracy, the verdict.

    Args:
        result: A result document.

    Returns:
        ``strategy``, ``backbone``, ``accuracy``, ``ci_low``, ``ci_high`` (where an
        experiment ran), ``verdict``, ``task`` and ``n_images``.

    """
    verdict = result.recommendation.verdict
    out: dict[str, Any] = {
        "task": result.validation.task,
        "verdict": verdict.value if verdict else None,
        "n_images": result.profile.n_images,
    }
    best = result.best_experiment()
    if best is not None:
        out.update(
            strategy=best.strategy.value,
            backbone=best.backbone,
            accuracy=best.accuracy.value,
            ci_low=best.accuracy.ci_low,
            ci_high=best.accuracy.ci_high,
        )
    return out


def friendly_error(error: str | None, kind: str | None = None) -> str:
    """The sentence the consultant sees for a failed run.

    Errors raised on purpose (:class:`~engines.errors.UserError`, kind ``"user"``) and
    the runner's own reasons are written for the consultant and shown as they are; an
    unexpected failure is named and the consultant is told what to try.

    Args:
        error: The job's one-line error.
        kind: The job's ``error_kind``: "user", "unexpected" or "runner".

    Returns:
        The sentence to show.

    """
    if not error:
        return "The run stopped without saying why; start it again."
    if kind != "unexpected":
        return error
    return (
        f"The validation stopped unexpectedly ({error}). Start it again; "
        "if it fails again, try a smaller time budget or sample."
    )


class ValidationJobs:
    """Starts validation runs on a job runner and keeps the store in step with them.

    Args:
        engine: Engine of the engagement store.
        data_dir: The data directory (run folders, stored samples, feature cache).
        runner: The job runner, held for the life of the process.
        device: Device asked of every run ("auto", "cpu", "cuda").
        poll_seconds: How often the monitor copies progress into the store.

    """

    def __init__(
        self,
        engine: Engine,
        data_dir: Path,
        runner: JobRunner,
        *,
        device: str = "auto",
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.engine = engine
        self.data_dir = Path(data_dir)
        self.runner = runner
        self.device = device
        self.poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._submitted: set[int] = set()
        self._run_locks: dict[int, threading.Lock] = {}
        self._last: dict[int, tuple[str, float, str]] = {}
        self._metric: dict[int, dict[str, float]] = {}

    @property
    def remote(self) -> bool:
        """Whether jobs run on other machines (their files are not visible here)."""
        return self.runner.name != "in-process"

    @property
    def feature_cache(self) -> Path:
        """The feature cache shared by every run of this data directory."""
        return self.data_dir / "cache" / "features"

    def start(
        self,
        dataset_id: int,
        *,
        source: Path,
        intake: Intake,
        config: RunConfig,
        recommendation_id: int | None = None,
    ) -> int:
        """Queue a validation run of a stored sample and start it in the background.

        Args:
            dataset_id: The store's dataset the run validates on.
            source: The sample folder (or zip) on this machine.
            intake: The consultant's answers.
            config: The run's settings (the device is this process's, and the
                feature cache the data directory's, unless the run is remote).
            recommendation_id: The recommendation the run checks, if recorded.

        Returns:
            The run id.

        Raises:
            ValueError: The sample folder does not exist.
            advisor.store.NotFoundError: No such dataset or recommendation.
            advisor.store.RunActiveError: A run of the engagement is already active (the
                database refuses a second one, whoever starts it; a ValueError).

        """
        source = Path(source)
        if not source.exists():
            raise ValueError(
                f"The stored sample {source.name!r} is missing on disk; upload it again "
                "on the Data page."
            )
        config = config.replace(
            device=self.device,
            cache_dir=None if self.remote else str(self.feature_cache),
        )
        record = {**config.to_dict(), "runner": self.runner.name, "intake": intake.to_dict()}
        with store.open_session(self.engine) as session:
            run = store.start_run(session, dataset_id, record, recommendation_id=recommendation_id)
        run_id = int(run.id or 0)
        out_dir = store.run_dir(self.data_dir, run_id)
        kwargs = {
            "source": str(source),
            "out_dir": None if self.remote else str(out_dir),
            "intake": intake.to_dict(),
            "config": config.to_dict(),
        }
        with self._lock:
            self._submitted.add(run_id)
            self._run_locks[run_id] = threading.Lock()
        try:
            self.runner.submit(
                str(run_id),
                validation_job,
                kwargs,
                needs_gpu=self.device != "cpu",
                payload_dir=source if source.is_dir() else source.parent,
            )
        except Exception as exc:
            with store.open_session(self.engine) as session:
                store.fail_run(session, run_id, f"the run could not be started: {exc}")
            raise
        threading.Thread(
            target=self._follow, args=(run_id,), name=f"follow-run-{run_id}", daemon=True
        ).start()
        return run_id

    def view(self, run_id: int) -> RunView:
        """Return the run as the page should show it now.

        Args:
            run_id: The run.

        Returns:
            Live progress from the runner when this process follows the run, else what
            the store holds.

        Raises:
            advisor.store.NotFoundError: No such run.

        """
        live = self._sync(run_id)
        with store.open_session(self.engine) as session:
            run = store.get_run(session, run_id)
        return self._view_of(run, live)

    def cancel(self, run_id: int) -> RunView:
        """Cancel a run: the store marks it at once, the job stops at its next check.

        Args:
            run_id: The run.

        Returns:
            The run as it stands after the cancellation.

        """
        if run_id in self._submitted:
            self.runner.cancel(str(run_id))
        with store.open_session(self.engine) as session:
            store.cancel_run(session, run_id, "cancelled by the consultant")
        return self.view(run_id)

    def active_run(self, engagement_id: int) -> int | None:
        """Return the newest queued or running run of an engagement, if any."""
        with store.open_session(self.engine) as session:
            runs = store.list_runs(
                session, engagement_id=engagement_id, statuses=("queued", "running")
            )
        return int(runs[0].id or 0) if runs else None

    def wait(self, run_id: int, timeout: float = 600.0) -> RunView:
        """Block until the run ends or ``timeout`` seconds pass (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        view = self.view(run_id)
        while not view.finished and time.monotonic() < deadline:
            time.sleep(min(self.poll_seconds, 0.2))
            view = self.view(run_id)
        return view

    def describe(self) -> dict[str, Any]:
        """Where runs execute, for the settings page (the runner's own facts)."""
        return {**self.runner.describe(), "device": self.device}

    # -- following a run -----------------------------------------------------------

    def _follow(self, run_id: int) -> None:
        """Copy the run's progress into the store until it ends (monitor thread)."""
        while True:
            try:
                live = self._sync(run_id)
            except Exception:  # noqa: BLE001 - a store hiccup must not end the monitor
                live = None
            if live is not None and live.finished:
                return
            time.sleep(self.poll_seconds)

    def _sync(self, run_id: int) -> JobState | None:
        """Mirror the runner's state of a run into the store; return that state.

        Returns None for runs this process did not start (the store is all there is).
        """
        if run_id not in self._submitted:
            return None
        state = self.runner.poll(str(run_id))
        with self._run_locks[run_id], store.open_session(self.engine) as session:
            run = store.get_run(session, run_id)
            if store.RunStatus(run.status).is_terminal:
                return state
            if state.status == DONE and state.result is not None:
                self._finish(session, run_id, state)
            elif state.status == FAILED:
                store.fail_run(session, run_id, friendly_error(state.error, state.error_kind))
            elif state.status == CANCELLED:
                store.cancel_run(session, run_id, "cancelled by the consultant")
            elif state.status == RUNNING:
                self._progress(session, run, state.progress)
        return state

    def _progress(self, session: Any, run: store.Run, progress: Progress | None) -> None:
        run_id = int(run.id or 0)
        if run.status == "queued":
            store.mark_run_running(session, run_id)
        if progress is None:
            return
        if progress.metric:
            self._metric[run_id] = dict(progress.metric)
        current = (progress.stage, round(float(progress.fraction), 3), progress.message)
        if self._last.get(run_id) != current:
            self._last[run_id] = current
            fraction = min(max(float(progress.fraction), 0.0), 1.0)
            store.update_run_progress(session, run_id, progress.stage, fraction, progress.message)

    def _finish(self, session: Any, run_id: int, state: JobState) -> None:
        result = parse_result(state.result or {})
        out_dir = store.run_dir(self.data_dir, run_id)
        if not (out_dir / "result.json").exists():
            write_result(result, out_dir)  # a remote run: its files stayed there
            _write_report(result, out_dir)
        seconds = (state.finished_at or time.time()) - (state.started_at or time.time())
        with contextlib.suppress(store.RunStateError):  # cancelled meanwhile: cancel wins
            store.finish_run(
                session, run_id, result.to_json_dict(), max(0.0, seconds), metrics=headline(result)
            )

    def _view_of(self, run: store.Run, live: JobState | None) -> RunView:
        run_id = int(run.id or 0)
        status = run.status
        progress = live.progress if live is not None else None
        elapsed = run.seconds
        if elapsed is None and run.started_at is not None:
            elapsed = (utc_now() - run.started_at).total_seconds()
        result_dir = None
        if status == DONE:
            candidate = store.run_dir(self.data_dir, run_id)
            result_dir = candidate if (candidate / "result.json").exists() else None
        error = run.error if status in (FAILED, CANCELLED) else None
        return RunView(
            run_id=run_id,
            status=status,
            stage=progress.stage if progress else run.stage,
            fraction=float(progress.fraction if progress else run.progress),
            message=progress.message if progress else run.message,
            eta_seconds=progress.eta_seconds if progress else None,
            metric=dict(progress.metric)
            if progress and progress.metric
            else self._metric.get(run_id),
            error=error,
            elapsed_seconds=elapsed,
            result_dir=result_dir,
            live=live is not None and not live.finished,
        )


def _write_report(result: Result, out_dir: Path) -> None:
    from advisor.report import write_report

    write_report(result.to_json_dict(), out_dir, language=result.intake.language)


def load_run_result(data_dir: Path, run: store.Run) -> Result | None:
    """Return a finished run's result document: its result.json, else the stored copy.

    Args:
        data_dir: The data directory.
        run: A run row.

    Returns:
        The result, or None when the run has none (not finished, failed, or written
        by an app of another major schema version).

    """
    path = store.run_dir(data_dir, int(run.id or 0)) / "result.json"
    if path.exists():
        try:
            return load_result(path)
        except ResultError:
            pass
    if not run.result:
        return None
    try:
        return parse_result(dict(run.result), f"run {run.id}")
    except ResultError:
        return None
