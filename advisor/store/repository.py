"""Data access of the engagement store: functions that take the session first.

Write functions commit before they return and retry on a conflict with another writer
(see :mod:`advisor.store.transactions`); they take ids, and return the fresh row.
Read functions never commit. Missing rows raise :class:`NotFoundError`; bad input
raises ``ValueError`` with a message fit for the consultant.

Files on disk, under the data directory:

- ``samples/<sha256>/`` uploaded samples (see :mod:`advisor.store.samples`);
- ``runs/<run id>/`` what a run writes (``result.json``, plots...), see :func:`run_dir`;
- ``reports/<engagement id>/`` reports, see :func:`reports_dir`.

JSON values (profile, recommendation, run config and result) are stored as given,
except that tuples become lists and non-finite floats become null.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from advisor.store.models import (
    ACTIVE_STATUSES,
    DEPLOYMENT_TARGETS,
    LANGUAGES,
    ONE_ACTIVE_RUN_INDEX,
    REPORT_FORMATS,
    Dataset,
    Engagement,
    EngagementCreate,
    EngagementUpdate,
    RecommendationRecord,
    Report,
    Run,
    RunStatus,
    utc_now,
)
from advisor.store.recovery import current_hostname, process_token
from advisor.store.samples import (
    SampleTooLargeError,
    remove_sample_files,
    resolve_stored_path,
    store_sample_files,
)
from advisor.store.transactions import end_read_transaction, retrying_write

RUNS_DIR = "runs"
REPORTS_DIR = "reports"

__all__ = [
    "DeletedEngagement",
    "NotFoundError",
    "RunStateError",
    "SampleTooLargeError",
    "active_runs",
    "cancel_run",
    "create_engagement",
    "dataset_location",
    "delete_engagement",
    "fail_run",
    "finish_run",
    "get_dataset",
    "get_engagement",
    "get_recommendation",
    "get_run",
    "latest_recommendation",
    "list_datasets",
    "list_engagements",
    "list_recommendations",
    "list_reports",
    "list_runs",
    "mark_run_running",
    "record_recommendation",
    "record_report",
    "report_location",
    "reports_dir",
    "run_dir",
    "set_dataset_profile",
    "start_run",
    "store_sample",
    "to_json",
    "update_engagement",
    "update_run_progress",
]


class NotFoundError(LookupError):
    """No row with that id."""


class RunStateError(RuntimeError):
    """The run is not in a state that allows the change (e.g. finishing a cancelled run)."""


class RunActiveError(RunStateError, ValueError):
    """A run of the engagement is already queued or running; the database refused another.

    A ``ValueError`` too: the message is meant for the consultant, as is.

    Attributes:
        engagement_id: The engagement.
        active_run_id: The run that is active, when it could be read (else None).

    """

    def __init__(self, engagement_id: int, active_run_id: int | None) -> None:
        self.engagement_id = engagement_id
        self.active_run_id = active_run_id
        which = f" (run {active_run_id})" if active_run_id is not None else ""
        super().__init__(
            f"A validation run is already active for this engagement{which}: wait for it "
            "to finish or cancel it, then start again."
        )


@dataclass
class DeletedEngagement:
    """What :func:`delete_engagement` removed.

    Attributes:
        engagement_id: The engagement removed.
        dataset_ids: Its datasets.
        run_ids: Its runs.
        removed_samples: Hashes of stored samples removed from disk (samples still
            used by another engagement stay).
        removed_paths: Run and report files or folders removed from disk.

    """

    engagement_id: int
    dataset_ids: list[int] = field(default_factory=list)
    run_ids: list[int] = field(default_factory=list)
    removed_samples: list[str] = field(default_factory=list)
    removed_paths: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- helpers
def to_json(value: Any, what: str) -> Any:
    """Return ``value`` as plain JSON data (tuples as lists, NaN and infinities as null).

    Args:
        value: Data made of dicts, lists, strings, numbers, booleans and None.
        what: What the value is, for the error message.

    Returns:
        A JSON-equal copy, independent of the caller's objects.

    Raises:
        ValueError: ``value`` holds something JSON cannot represent.

    """

    def reject(obj: object) -> None:
        raise TypeError(f"{type(obj).__name__} {obj!r}")

    try:
        text = json.dumps(value, default=reject, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The {what} is not JSON data: {exc}.") from exc
    return json.loads(text, parse_constant=lambda _: None)


def _require(obj: Any, kind: str, ident: int) -> Any:
    if obj is None:
        raise NotFoundError(f"No {kind} with id {ident}.")
    return obj


def _touch(session: Session, engagement_id: int) -> None:
    engagement = session.get(Engagement, engagement_id, populate_existing=True)
    if engagement is not None:
        engagement.updated_at = utc_now()
        session.add(engagement)


def _commit_refresh(session: Session, obj: Any) -> Any:
    session.commit()
    session.refresh(obj)
    end_read_transaction(session)  # the refresh began one; do not hold its snapshot
    return obj


def _fresh(query: Any) -> Any:
    """Make a query overwrite rows already in the session with what the database has."""
    return query.execution_options(populate_existing=True)


def _check_choice(value: str, choices: Iterable[str], what: str) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"Unknown {what} {value!r}; use one of {', '.join(choices)}.")


# --------------------------------------------------------------------------- engagements
@retrying_write
def create_engagement(session: Session, data: EngagementCreate) -> Engagement:
    """Create an engagement.

    Args:
        session: Open session.
        data: Client, project, goal, deployment target, language and the
            consultant's answers.

    Returns:
        The stored engagement.

    Raises:
        ValueError: Unknown deployment target or language, or answers that are not
            JSON data.

    """
    _check_choice(data.deployment_target, DEPLOYMENT_TARGETS, "deployment target")
    _check_choice(data.language, LANGUAGES, "language")
    engagement = Engagement.model_validate(data)
    engagement.answers = to_json(dict(data.answers), "engagement's answers")
    session.add(engagement)
    return _commit_refresh(session, engagement)


def get_engagement(session: Session, engagement_id: int) -> Engagement:
    """Return the engagement ``engagement_id``.

    Raises:
        NotFoundError: There is none.

    """
    engagement = session.get(Engagement, engagement_id, populate_existing=True)
    return _require(engagement, "engagement", engagement_id)


def list_engagements(session: Session, *, limit: int | None = None) -> list[Engagement]:
    """Return engagements, the most recently active first.

    Args:
        session: Open session.
        limit: Return at most this many.

    """
    query = select(Engagement).order_by(
        col(Engagement.updated_at).desc(), col(Engagement.id).desc()
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(_fresh(query)).all())


@retrying_write
def update_engagement(
    session: Session, engagement_id: int, changes: EngagementUpdate, *, touch: bool = True
) -> Engagement:
    """Change fields of an engagement (None fields stay as they are).

    Args:
        session: Open session.
        engagement_id: The engagement.
        changes: The new values; ``answers`` replaces the whole set of answers.
        touch: Mark the engagement as just active (``updated_at``); False for
            bookkeeping that is no consultant's work, such as moving old answers in.

    Returns:
        The updated engagement.

    Raises:
        NotFoundError: No such engagement.
        ValueError: Unknown deployment target or language, an empty client/project, or
            answers that are not JSON data.

    """
    engagement = get_engagement(session, engagement_id)
    values = changes.model_dump(exclude_unset=True, exclude_none=True)
    if "answers" in values:
        values["answers"] = to_json(values["answers"], "engagement's answers")
    if "deployment_target" in values:
        _check_choice(values["deployment_target"], DEPLOYMENT_TARGETS, "deployment target")
    if "language" in values:
        _check_choice(values["language"], LANGUAGES, "language")
    for key in ("client", "project"):
        if key in values and not str(values[key]).strip():
            raise ValueError(f"The {key} name cannot be empty.")
    engagement.sqlmodel_update(values)
    if touch:
        engagement.updated_at = utc_now()
    session.add(engagement)
    return _commit_refresh(session, engagement)


def delete_engagement(session: Session, engagement_id: int, data_dir: Path) -> DeletedEngagement:
    """Delete an engagement with its datasets, recommendations, runs and reports.

    Rows go in one transaction; then the files that belonged to it only are removed:
    its stored samples (unless another engagement stored the same content), its run
    folders and its report files inside the data directory. Nothing else is touched.

    Args:
        session: Open session.
        engagement_id: The engagement to delete.
        data_dir: The data directory.

    Returns:
        What was removed.

    Raises:
        NotFoundError: No such engagement.

    """
    data_dir = Path(data_dir)
    summary, orphan_hashes, paths = _delete_engagement_rows(session, engagement_id, data_dir)
    for content_hash in orphan_hashes:
        if remove_sample_files(data_dir, content_hash):
            summary.removed_samples.append(content_hash)
    for target in paths:
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        elif target.exists():
            target.unlink(missing_ok=True)
        else:
            continue
        summary.removed_paths.append(str(target))
    return summary


@retrying_write
def _delete_engagement_rows(
    session: Session, engagement_id: int, data_dir: Path
) -> tuple[DeletedEngagement, list[str], list[Path]]:
    get_engagement(session, engagement_id)
    datasets = list_datasets(session, engagement_id)
    dataset_ids = [int(d.id or 0) for d in datasets]
    run_ids = cast(
        list[int],
        list(  # stored rows always have an id
            session.exec(select(Run.id).where(col(Run.dataset_id).in_(dataset_ids))).all()
        ),
    )
    reports = list_reports(session, engagement_id)
    paths = [run_dir(data_dir, int(r)) for r in run_ids]
    paths += [p for p in (_inside(data_dir, r.path) for r in reports) if p is not None]
    paths.append(reports_dir(data_dir, engagement_id))
    hashes = sorted({d.content_hash for d in datasets})

    # Children first and explicitly, so that nothing depends on the foreign-key
    # cascade being enabled on the connection.
    session.exec(delete(Report).where(col(Report.engagement_id) == engagement_id))
    if dataset_ids:
        session.exec(delete(Run).where(col(Run.dataset_id).in_(dataset_ids)))
        session.exec(
            delete(RecommendationRecord).where(
                col(RecommendationRecord.dataset_id).in_(dataset_ids)
            )
        )
        session.exec(delete(Dataset).where(col(Dataset.id).in_(dataset_ids)))
    session.exec(delete(Engagement).where(col(Engagement.id) == engagement_id))
    still_used = (
        set(
            session.exec(
                select(Dataset.content_hash).where(col(Dataset.content_hash).in_(hashes))
            ).all()
        )
        if hashes
        else set()
    )
    session.commit()
    summary = DeletedEngagement(
        engagement_id=engagement_id,
        dataset_ids=dataset_ids,
        run_ids=[int(r) for r in run_ids],
    )
    return summary, [h for h in hashes if h not in still_used], paths


def _inside(data_dir: Path, stored: str) -> Path | None:
    """Return the file a stored path names if it lies inside the data directory."""
    path = Path(stored)
    path = path if path.is_absolute() else data_dir / path
    try:
        path.resolve().relative_to(data_dir.resolve())
    except ValueError:
        return None
    return path


# --------------------------------------------------------------------------- datasets
def store_sample(
    session: Session,
    engagement_id: int,
    source_path: Path,
    data_dir: Path,
    *,
    original_name: str | None = None,
    max_bytes: int | None = None,
) -> Dataset:
    """Store an uploaded sample (a zip, a file or a folder) for an engagement.

    The content is hashed and copied once under ``data_dir/samples/<sha256>/``;
    storing the same content again for the same engagement returns the same dataset,
    for another engagement a new dataset pointing at the same stored copy.

    Args:
        session: Open session.
        engagement_id: The engagement it belongs to.
        source_path: The uploaded file or folder (may be a temporary file).
        data_dir: The data directory.
        original_name: The client's name of the upload, kept as a label only (never
            used on disk); defaults to the name of ``source_path``.
        max_bytes: The upload limit, if any.

    Returns:
        The dataset row.

    Raises:
        NotFoundError: No such engagement.
        FileNotFoundError: ``source_path`` does not exist.
        SampleTooLargeError: Over ``max_bytes``.
        ValueError: The sample is empty or not a file or folder.

    """
    get_engagement(session, engagement_id)
    end_read_transaction(session)  # no transaction open while hashing and copying
    stored = store_sample_files(Path(source_path), Path(data_dir), max_bytes=max_bytes)
    label = Path(source_path).name if original_name is None else original_name
    dataset = _insert_dataset(
        session,
        engagement_id,
        stored.content_hash,
        stored.kind,
        stored.stored_path,
        label,
        stored.size_bytes,
        stored.file_count,
    )
    if not resolve_stored_path(Path(data_dir), dataset.stored_path).exists():
        # The same content was removed meanwhile by the deletion of another
        # engagement: put it back.
        store_sample_files(Path(source_path), Path(data_dir))
    return dataset


@retrying_write
def _insert_dataset(
    session: Session,
    engagement_id: int,
    content_hash: str,
    kind: str,
    stored_path: str,
    original_name: str,
    size_bytes: int,
    file_count: int,
) -> Dataset:
    get_engagement(session, engagement_id)
    existing = session.exec(
        select(Dataset).where(
            col(Dataset.engagement_id) == engagement_id,
            col(Dataset.content_hash) == content_hash,
        )
    ).first()
    if existing is not None:
        end_read_transaction(session)
        return existing
    dataset = Dataset(
        engagement_id=engagement_id,
        content_hash=content_hash,
        kind=kind,
        stored_path=stored_path,
        original_name=original_name,
        size_bytes=size_bytes,
        file_count=file_count,
    )
    session.add(dataset)
    _touch(session, engagement_id)
    return _commit_refresh(session, dataset)


@retrying_write
def set_dataset_profile(session: Session, dataset_id: int, profile: Mapping[str, Any]) -> Dataset:
    """Store the profile of a dataset (``DatasetProfile.to_dict()``), replacing any.

    Raises:
        NotFoundError: No such dataset.
        ValueError: The profile is not JSON data.

    """
    dataset = get_dataset(session, dataset_id)
    dataset.profile = to_json(dict(profile), "dataset profile")
    session.add(dataset)
    return _commit_refresh(session, dataset)


def get_dataset(session: Session, dataset_id: int) -> Dataset:
    """Return the dataset ``dataset_id``.

    Raises:
        NotFoundError: There is none.

    """
    return _require(session.get(Dataset, dataset_id, populate_existing=True), "dataset", dataset_id)


def list_datasets(session: Session, engagement_id: int) -> list[Dataset]:
    """Return the datasets of an engagement, oldest first."""
    query = select(Dataset).where(col(Dataset.engagement_id) == engagement_id)
    return list(session.exec(_fresh(query.order_by(col(Dataset.id)))).all())


def dataset_location(dataset: Dataset, data_dir: Path) -> Path:
    """Return where the stored sample of ``dataset`` lies on disk."""
    return resolve_stored_path(Path(data_dir), dataset.stored_path)


# --------------------------------------------------------------------------- recommendations
@retrying_write
def record_recommendation(
    session: Session,
    dataset_id: int,
    inputs: Mapping[str, Any],
    output: Mapping[str, Any],
    knowledge_version: str,
) -> RecommendationRecord:
    """Store a recommendation as it was made.

    Args:
        session: Open session.
        dataset_id: The dataset it was made for.
        inputs: What it was made from (intake answers, profile, evidence...).
        output: ``Recommendation.to_dict()``.
        knowledge_version: Version of the knowledge base that made it.

    Returns:
        The record; ``rule_trail`` lists the ids of the rules that fired, in order.

    Raises:
        NotFoundError: No such dataset.
        ValueError: Inputs or output are not JSON data.

    """
    dataset = get_dataset(session, dataset_id)
    output_json = to_json(dict(output), "recommendation")
    record = RecommendationRecord(
        dataset_id=dataset_id,
        inputs=to_json(dict(inputs), "recommendation inputs"),
        output=output_json,
        rule_trail=_rule_ids(output_json),
        knowledge_version=str(knowledge_version),
    )
    session.add(record)
    _touch(session, dataset.engagement_id)
    return _commit_refresh(session, record)


def _rule_ids(output: dict[str, Any]) -> list[str]:
    fired = output.get("fired_rule_ids")
    if isinstance(fired, list):
        return [str(r) for r in fired]
    trail = output.get("trail")
    if isinstance(trail, list):
        return [str(t["rule_id"]) for t in trail if isinstance(t, dict) and "rule_id" in t]
    return []


def get_recommendation(session: Session, recommendation_id: int) -> RecommendationRecord:
    """Return the recommendation record ``recommendation_id``.

    Raises:
        NotFoundError: There is none.

    """
    record = session.get(RecommendationRecord, recommendation_id, populate_existing=True)
    return _require(record, "recommendation", recommendation_id)


def list_recommendations(session: Session, dataset_id: int) -> list[RecommendationRecord]:
    """Return the recommendations made for a dataset, oldest first."""
    query = select(RecommendationRecord).where(col(RecommendationRecord.dataset_id) == dataset_id)
    return list(session.exec(_fresh(query.order_by(col(RecommendationRecord.id)))).all())


def latest_recommendation(session: Session, dataset_id: int) -> RecommendationRecord | None:
    """Return the most recent recommendation for a dataset, or None."""
    query = select(RecommendationRecord).where(col(RecommendationRecord.dataset_id) == dataset_id)
    return session.exec(_fresh(query.order_by(col(RecommendationRecord.id).desc()))).first()


# --------------------------------------------------------------------------- runs
def run_dir(data_dir: Path, run_id: int) -> Path:
    """Return the folder where run ``run_id`` writes its files (not created)."""
    return Path(data_dir) / RUNS_DIR / str(int(run_id))


def start_run(
    session: Session,
    dataset_id: int,
    config: Mapping[str, Any],
    *,
    recommendation_id: int | None = None,
) -> Run:
    """Queue a validation run, recording this process as its owner.

    At most one run per engagement is active: the database refuses a second (a unique
    partial index, see :class:`advisor.store.models.Run`), so of two sessions starting
    at the same moment exactly one gets the run.

    Args:
        session: Open session.
        dataset_id: The dataset it validates on.
        config: The resolved run config, stored verbatim.
        recommendation_id: The recommendation it validates, if any.

    Returns:
        The run, status "queued", with this process's pid and host name.

    Raises:
        NotFoundError: No such dataset or recommendation.
        RunActiveError: A run of the dataset's engagement is already queued or running.
        ValueError: The config is not JSON data.

    """
    try:
        return _insert_run(session, dataset_id, config, recommendation_id)
    except IntegrityError as exc:
        if ONE_ACTIVE_RUN_INDEX not in str(exc) and "engagement_id" not in str(exc):
            raise
        dataset = get_dataset(session, dataset_id)
        active = list_runs(session, engagement_id=dataset.engagement_id, statuses=ACTIVE_STATUSES)
        raise RunActiveError(
            dataset.engagement_id, int(active[0].id or 0) if active else None
        ) from None


@retrying_write
def _insert_run(
    session: Session,
    dataset_id: int,
    config: Mapping[str, Any],
    recommendation_id: int | None,
) -> Run:
    dataset = get_dataset(session, dataset_id)
    if recommendation_id is not None:
        get_recommendation(session, recommendation_id)
    run = Run(
        dataset_id=dataset_id,
        engagement_id=dataset.engagement_id,
        recommendation_id=recommendation_id,
        config=to_json(dict(config), "run config"),
        status=RunStatus.QUEUED.value,
        pid=os.getpid(),
        hostname=current_hostname(),
        process_token=process_token(),
    )
    session.add(run)
    _touch(session, dataset.engagement_id)
    return _commit_refresh(session, run)


def get_run(session: Session, run_id: int) -> Run:
    """Return run ``run_id`` as the database has it now (not a cached copy).

    Raises:
        NotFoundError: There is none.

    """
    return _require(session.get(Run, run_id, populate_existing=True), "run", run_id)


def list_runs(
    session: Session,
    *,
    engagement_id: int | None = None,
    dataset_id: int | None = None,
    statuses: Iterable[str] | None = None,
) -> list[Run]:
    """Return runs, newest first, optionally of one engagement or dataset or status.

    Raises:
        ValueError: An unknown status.

    """
    query = select(Run)
    if engagement_id is not None:
        query = query.join(Dataset, col(Dataset.id) == col(Run.dataset_id)).where(
            col(Dataset.engagement_id) == engagement_id
        )
    if dataset_id is not None:
        query = query.where(col(Run.dataset_id) == dataset_id)
    if statuses is not None:
        wanted = [RunStatus(s).value for s in statuses]
        query = query.where(col(Run.status).in_(wanted))
    return list(session.exec(_fresh(query.order_by(col(Run.id).desc()))).all())


@retrying_write
def mark_run_running(
    session: Session,
    run_id: int,
    *,
    device: str | None = None,
    library_versions: Mapping[str, Any] | None = None,
    pid: int | None = None,
) -> Run:
    """Claim a run for the process that executes it, and mark it running.

    Args:
        session: Open session.
        run_id: The run.
        device: Where it runs ("cpu", "cuda:0 (NVIDIA ...)").
        library_versions: Versions of the libraries that matter (torch, timm...).
        pid: The executing process; defaults to the current one.

    Returns:
        The run.

    Raises:
        NotFoundError: No such run.
        RunStateError: The run has already ended.

    """
    run = get_run(session, run_id)
    if RunStatus(run.status).is_terminal:
        raise RunStateError(f"Run {run_id} has already ended ({run.status}).")
    now = utc_now()
    run.status = RunStatus.RUNNING.value
    run.started_at = run.started_at or now
    run.heartbeat_at = now
    run.pid = os.getpid() if pid is None else int(pid)
    run.hostname = current_hostname()
    run.process_token = process_token(run.pid)
    if device is not None:
        run.device = str(device)
    if library_versions is not None:
        run.library_versions = to_json(dict(library_versions), "library versions")
    session.add(run)
    return _commit_refresh(session, run)


@retrying_write
def update_run_progress(
    session: Session, run_id: int, stage: str, fraction: float, message: str = ""
) -> Run:
    """Record a run's progress (and that its process is alive).

    A queued run becomes running. A run that has ended is returned unchanged: a worker
    sees ``run.status == "cancelled"`` here and stops.

    Args:
        session: Open session.
        run_id: The run.
        stage: Name of the current stage ("similarity", "probe"...).
        fraction: Overall progress, 0 to 1.
        message: A line for the consultant.

    Returns:
        The run as stored.

    Raises:
        NotFoundError: No such run.
        ValueError: ``fraction`` is not between 0 and 1.

    """
    if not (isinstance(fraction, int | float) and 0.0 <= float(fraction) <= 1.0):
        raise ValueError(f"Progress must be a fraction between 0 and 1, got {fraction!r}.")
    run = get_run(session, run_id)
    if RunStatus(run.status).is_terminal:
        end_read_transaction(session)
        return run
    now = utc_now()
    if run.status == RunStatus.QUEUED.value:
        run.status = RunStatus.RUNNING.value
        run.started_at = run.started_at or now
    run.stage = str(stage)
    run.progress = float(fraction)
    run.message = str(message)
    run.heartbeat_at = now
    session.add(run)
    return _commit_refresh(session, run)


@retrying_write
def finish_run(
    session: Session,
    run_id: int,
    result: Mapping[str, Any],
    seconds: float,
    *,
    metrics: Mapping[str, Any] | None = None,
) -> Run:
    """Mark a run done and store its full ``result.json``.

    Args:
        session: Open session.
        run_id: The run.
        result: The whole result.json dict.
        seconds: Wall time of the run.
        metrics: Headline metrics to list runs by; defaults to ``result["metrics"]``
            when that is a dict. ``device`` and ``versions`` of the result fill the
            run's device and library versions where those are not set yet.

    Returns:
        The run.

    Raises:
        NotFoundError: No such run.
        RunStateError: The run has already ended (cancelled, failed or done).
        ValueError: ``seconds`` is negative or the result is not JSON data.

    """
    if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"Run time must be a non-negative number of seconds, got {seconds!r}.")
    run = get_run(session, run_id)
    if RunStatus(run.status).is_terminal:
        raise RunStateError(f"Run {run_id} has already ended ({run.status}); not finishing it.")
    result_json = to_json(dict(result), "run result")
    if metrics is None and isinstance(result_json.get("metrics"), dict):
        metrics = result_json["metrics"]
    now = utc_now()
    run.status = RunStatus.DONE.value
    run.result = result_json
    run.metrics = to_json(dict(metrics), "run metrics") if metrics is not None else None
    run.seconds = float(seconds)
    run.progress = 1.0
    run.started_at = run.started_at or now
    run.finished_at = now
    run.heartbeat_at = now
    if run.device is None and isinstance(result_json.get("device"), str):
        run.device = result_json["device"]
    if run.library_versions is None and isinstance(result_json.get("versions"), dict):
        run.library_versions = result_json["versions"]
    session.add(run)
    return _commit_refresh(session, run)


@retrying_write
def fail_run(session: Session, run_id: int, error: str) -> Run:
    """Mark an active run failed with the reason; a run that has ended stays as it is.

    Raises:
        NotFoundError: No such run.

    """
    return _end_run(session, run_id, RunStatus.FAILED, str(error) or "failed")


@retrying_write
def cancel_run(session: Session, run_id: int, reason: str = "cancelled by the consultant") -> Run:
    """Cancel an active run (its worker stops at its next progress report).

    A run that has ended stays as it is.

    Raises:
        NotFoundError: No such run.

    """
    return _end_run(session, run_id, RunStatus.CANCELLED, str(reason))


def _end_run(session: Session, run_id: int, status: RunStatus, reason: str) -> Run:
    run = get_run(session, run_id)
    if RunStatus(run.status).is_terminal:
        end_read_transaction(session)
        return run
    now = utc_now()
    run.status = status.value
    run.error = reason
    run.finished_at = now
    if run.started_at is not None and run.seconds is None:
        run.seconds = (now - run.started_at).total_seconds()
    session.add(run)
    return _commit_refresh(session, run)


# --------------------------------------------------------------------------- reports
def reports_dir(data_dir: Path, engagement_id: int) -> Path:
    """Return the folder where reports of an engagement are written (not created)."""
    return Path(data_dir) / REPORTS_DIR / str(int(engagement_id))


@retrying_write
def record_report(
    session: Session,
    engagement_id: int,
    fmt: str,
    path: Path,
    data_dir: Path,
    *,
    run_id: int | None = None,
) -> Report:
    """Record a report file written for an engagement.

    Args:
        session: Open session.
        engagement_id: The engagement.
        fmt: "html", "pdf", "json" or "md".
        path: The report file; stored relative to the data directory when inside it.
        data_dir: The data directory.
        run_id: The run it reports on, if any.

    Returns:
        The report row.

    Raises:
        NotFoundError: No such engagement or run.
        ValueError: Unknown format.
        FileNotFoundError: The file does not exist.

    """
    _check_choice(fmt, REPORT_FORMATS, "report format")
    get_engagement(session, engagement_id)
    if run_id is not None:
        get_run(session, run_id)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No report file at {path}.")
    try:
        stored = path.resolve().relative_to(Path(data_dir).resolve()).as_posix()
    except ValueError:
        stored = str(path.resolve())
    report = Report(engagement_id=engagement_id, run_id=run_id, format=fmt, path=stored)
    session.add(report)
    _touch(session, engagement_id)
    return _commit_refresh(session, report)


def list_reports(session: Session, engagement_id: int) -> list[Report]:
    """Return the reports of an engagement, oldest first."""
    query = select(Report).where(col(Report.engagement_id) == engagement_id)
    return list(session.exec(_fresh(query.order_by(col(Report.id)))).all())


def report_location(report: Report, data_dir: Path) -> Path:
    """Return where a report file lies on disk."""
    path = Path(report.path)
    return path if path.is_absolute() else Path(data_dir) / path


def active_runs(session: Session) -> list[Run]:
    """Return runs still queued or running, oldest first."""
    query = select(Run).where(col(Run.status).in_(ACTIVE_STATUSES)).order_by(col(Run.id))
    return list(session.exec(_fresh(query)).all())
