"""What the app's pages ask of the advisor, one function per step of the journey.

The pages read widgets, call one of these functions and draw what it returns; all
state that must outlive a browser reload lives in the engagement store
(:mod:`advisor.store`) and the data directory, never in the page. An
:class:`AppContext` (one per process, built by :func:`create_context`) holds the store's
engine, the settings and the background validation runs (:mod:`advisor.jobs`).

Never imports torch or streamlit: functions that need the engines' torch side (the
device, the offline backbones) import them when called.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor import store
from advisor.intake import TASKS, Intake
from advisor.jobs import ValidationJobs, friendly_error, load_run_result
from advisor.knowledge_base import knowledge_base
from advisor.recommend import recommend
from advisor.recommendation import Recommendation
from advisor.settings import Settings, load_settings
from advisor.store.repository import to_json
from advisor.store.samples import hash_sample, sample_dir
from advisor.views import present
from engines.health import build_health_report
from engines.intake import (
    ImageRecord,
    IntakeLimits,
    pick_samples,
    profile_dataset,
    scan_dataset,
    unpack_upload,
)
from engines.jobs import create_runner
from engines.progress import Progress, ProgressCallback, ignore_progress

ANSWERS_DIR = "engagements"
"""Where older apps kept answers (``<id>/answers.json``); now in ``engagement.answers``."""
UNPACKED_DIR = "unpacked"
INDEX_FILE = "index.json"
SIMILARITY_CALL_AT = 0.5
"""Score at which the similarity engine calls a sample "similar" (engines.similarity)."""
TARGET_METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "macro_f1",
                                   "sensitivity", "specificity", "roc_auc", "iou", "map")
ANSWER_FIELDS: tuple[str, ...] = (
    "task", "target_metric", "target_value", "claimed_n_images", "domain_similarity",
    "label_quality", "can_relabel", "high_stakes", "realtime", "client_expects_everything",
    "wants_reinforcement_learning", "pairs_can_be_synthesised",
)


@dataclass
class AppContext:
    """What the app holds once per process: settings, the store and the runs.

    Attributes:
        settings: The resolved settings.
        engine: Engine of the engagement store.
        jobs: Background validation runs.

    """

    settings: Settings
    engine: Any
    jobs: ValidationJobs

    @property
    def data_dir(self) -> Path:
        """The data directory."""
        return self.settings.data_dir


@dataclass
class SampleView:
    """A stored, unpacked and profiled sample of an engagement.

    Attributes:
        dataset_id: The store's dataset id.
        name: The name the client's file had (display only).
        content_hash: SHA-256 of the upload.
        root: The unpacked dataset root on this machine.
        profile: ``DatasetProfile.to_dict()`` with the health report.

    """

    dataset_id: int
    name: str
    content_hash: str
    root: Path
    profile: dict[str, Any]


@dataclass
class AdviceView:
    """The recommendation as the Advice page draws it.

    Attributes:
        recommendation: The advisor's answer.
        presented: ``advisor.views.present`` of it in the page's language.
        record_id: The store's recommendation record.
        quadrant: Where the engagement sits on the 2×2 (see :func:`quadrant_position`).
        answers: The answers it was made from.

    """

    recommendation: Recommendation
    presented: dict[str, Any]
    record_id: int
    quadrant: dict[str, Any]
    answers: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- context
def create_context(settings: Settings | None = None, runner_kind: str | None = None) -> AppContext:
    """Open the store (migrated, orphaned runs recovered) and a job runner.

    Args:
        settings: Settings; None resolves them from the environment.
        runner_kind: "in-process" or "ray"; None takes the settings' ``runner`` when
            they name one, else "in-process".

    Returns:
        The context the pages share.

    Raises:
        ValueError: Invalid settings or database URL.
        engines.errors.EngineError: Ray asked for but not installed or reachable.

    """
    settings = settings or load_settings()
    engine = store.create_db_engine(settings=settings)
    kind = runner_kind or getattr(settings, "runner", None) or "in-process"
    options = {}
    address = getattr(settings, "ray_address", None)
    if kind == "ray" and address:
        options["address"] = address
    runner = create_runner(kind, **options)
    jobs = ValidationJobs(engine, settings.data_dir, runner, device=settings.device)
    return AppContext(settings=settings, engine=engine, jobs=jobs)


def environment_facts(ctx: AppContext) -> dict[str, Any]:
    """Where validations run and with what, for the sidebar and the settings page.

    Loads torch (through the engines) the first time: call it once per process.

    Returns:
        ``device`` (what "auto" resolves to here, with its name), ``backbones`` (those
        usable offline, each with its license), ``runner`` (the job runner's facts),
        ``data_dir``, ``database`` (the kind, never the password), ``upload_limit_mb``
        and ``budget_seconds``.

    """
    from engines.backbones import available_backbones
    from engines.device import describe_device, resolve_device

    try:
        device = describe_device(resolve_device(ctx.settings.device))
    except ValueError as exc:
        device = {"type": ctx.settings.device, "name": None, "error": str(exc)}
    return {
        "device": device,
        "backbones": [{"name": b.name, "license": b.license, "offline": True}
                      for b in available_backbones()],
        "runner": ctx.jobs.describe(),
        "data_dir": str(ctx.data_dir),
        "database": "SQLite" if ctx.settings.uses_sqlite else "PostgreSQL",
        "upload_limit_mb": ctx.settings.upload_limit_mb,
        "budget_seconds": ctx.settings.budget_seconds,
    }


# --------------------------------------------------------------------------- engagements
def create_engagement(
    ctx: AppContext,
    *,
    client: str,
    project: str,
    goal: str = "",
    deployment_target: str = "server_gpu",
    language: str = "en",
    target_metric: str = "accuracy",
    target_value: float | None = None,
) -> int:
    """Create an engagement and keep its target; return its id.

    Raises:
        ValueError: Empty client or project, unknown deployment target, language or
            metric, or a target that is not a fraction.

    """
    client, project = client.strip(), project.strip()
    if not client or not project:
        raise ValueError("Enter both the client's name and the project's name.")
    answers = _checked_answers({"target_metric": target_metric, "target_value": target_value})
    with store.open_session(ctx.engine) as session:
        engagement = store.create_engagement(session, store.EngagementCreate(
            client=client, project=project, goal=goal.strip(),
            deployment_target=deployment_target, language=language, answers=answers))
    return int(engagement.id or 0)


def update_engagement(
    ctx: AppContext,
    engagement_id: int,
    *,
    client: str,
    project: str,
    goal: str = "",
    deployment_target: str = "server_gpu",
    language: str = "en",
    target_metric: str = "accuracy",
    target_value: float | None = None,
) -> None:
    """Change an engagement's fields and target.

    Raises:
        advisor.store.NotFoundError: No such engagement.
        ValueError: As for :func:`create_engagement`.

    """
    answers = _checked_answers({"target_metric": target_metric, "target_value": target_value})
    merged = {**load_answers(ctx, engagement_id), **answers}
    with store.open_session(ctx.engine) as session:
        store.update_engagement(session, engagement_id, store.EngagementUpdate(
            client=client.strip(), project=project.strip(), goal=goal.strip(),
            deployment_target=deployment_target, language=language, answers=merged))


def engagement_details(ctx: AppContext, engagement_id: int) -> dict[str, Any]:
    """Return an engagement's fields with its answers (target, task...).

    Raises:
        advisor.store.NotFoundError: No such engagement.

    """
    answers = load_answers(ctx, engagement_id)
    with store.open_session(ctx.engine) as session:
        engagement = store.get_engagement(session, engagement_id)
    return {**engagement.model_dump(exclude={"answers"}), **answers}


def recent_engagements(ctx: AppContext, limit: int | None = 10) -> list[dict[str, Any]]:
    """Engagements, the most recently active first, with their sample and run counts."""
    with store.open_session(ctx.engine) as session:
        rows = []
        for e in store.list_engagements(session, limit=limit):
            eid = int(e.id or 0)
            datasets = store.list_datasets(session, eid)
            runs = store.list_runs(session, engagement_id=eid)
            rows.append({
                "id": eid, "client": e.client, "project": e.project, "goal": e.goal,
                "deployment_target": e.deployment_target, "language": e.language,
                "updated_at": e.updated_at, "samples": len(datasets), "runs": len(runs),
            })
    return rows


def delete_engagement(ctx: AppContext, engagement_id: int) -> store.DeletedEngagement:
    """Delete an engagement, its runs, reports and stored samples, and its answers.

    Active runs are cancelled first.

    Raises:
        advisor.store.NotFoundError: No such engagement.

    """
    while (run_id := ctx.jobs.active_run(engagement_id)) is not None:
        ctx.jobs.cancel(run_id)
    with store.open_session(ctx.engine) as session:
        deleted = store.delete_engagement(session, engagement_id, ctx.data_dir)
    # The answers went with the row; this removes an older app's side file, if any.
    shutil.rmtree(_answers_path(ctx, engagement_id).parent, ignore_errors=True)
    return deleted


# --------------------------------------------------------------------------- answers
def _answers_path(ctx: AppContext, engagement_id: int) -> Path:
    """Where an older app kept an engagement's answers (now only read to move them in)."""
    return ctx.data_dir / ANSWERS_DIR / str(int(engagement_id)) / "answers.json"


def _known_answers(data: Any) -> dict[str, Any]:
    """Keep the answers the app knows of stored data (anything else: none)."""
    return {k: v for k, v in data.items() if k in ANSWER_FIELDS} if isinstance(data, dict) else {}


def _adopt_answers_file(ctx: AppContext, engagement: store.Engagement) -> dict[str, Any]:
    """Move an older app's ``answers.json`` of an engagement into its row.

    The file is taken only while the row holds no answers (the row wins otherwise), and
    removed once the row is written, so it is read at most once.

    Args:
        ctx: The app context.
        engagement: The engagement, as just read.

    Returns:
        The engagement's answers afterwards.

    """
    kept = _known_answers(engagement.answers)
    path = _answers_path(ctx, int(engagement.id or 0))
    if not path.exists():
        return kept
    if not kept:
        try:
            legacy = _known_answers(json.loads(path.read_text("utf-8")))
        except OSError:
            return kept  # not readable now: leave it for a later read
        except ValueError:
            legacy = {}  # not JSON: nothing usable in it (older apps read it as none)
        if legacy:
            with store.open_session(ctx.engine) as session:
                updated = store.update_engagement(
                    session, int(engagement.id or 0),
                    store.EngagementUpdate(answers=legacy), touch=False)
            kept = _known_answers(updated.answers)
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()  # the per-engagement folder, when nothing else is in it
    return kept


def load_answers(ctx: AppContext, engagement_id: int) -> dict[str, Any]:
    """Return the consultant's answers kept for an engagement ({} when none).

    Answers an older app kept in ``answers.json`` are moved into the store first.

    Args:
        ctx: The app context.
        engagement_id: The engagement.

    Returns:
        The answers; {} also when there is no such engagement.

    """
    with store.open_session(ctx.engine) as session:
        try:
            engagement = store.get_engagement(session, engagement_id)
        except store.NotFoundError:
            return {}
    return _adopt_answers_file(ctx, engagement)


def save_answers(ctx: AppContext, engagement_id: int, answers: dict[str, Any]) -> dict[str, Any]:
    """Merge answers into those kept for an engagement and return the whole set.

    Args:
        ctx: The app context.
        engagement_id: The engagement.
        answers: The answers to change (others stay as they are).

    Returns:
        Every answer kept for the engagement afterwards.

    Raises:
        ValueError: An answer the intake would refuse (unknown task, a target that is
            not a fraction...), with what to enter instead.
        advisor.store.NotFoundError: No such engagement.

    """
    merged = {**load_answers(ctx, engagement_id), **_checked_answers(answers)}
    with store.open_session(ctx.engine) as session:
        engagement = store.update_engagement(
            session, engagement_id, store.EngagementUpdate(answers=merged))
    return _known_answers(engagement.answers)


def _checked_answers(answers: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(answers) - set(ANSWER_FIELDS))
    if unknown:
        raise ValueError(f"Unknown answer(s) {', '.join(unknown)}; known: "
                         f"{', '.join(ANSWER_FIELDS)}.")
    metric = answers.get("target_metric")
    if metric is not None and metric not in TARGET_METRICS:
        raise ValueError(f"Unknown target metric {metric!r}: use one of "
                         f"{', '.join(TARGET_METRICS)}.")
    task = answers.get("task")
    if task is not None and task not in TASKS:
        raise ValueError(f"Unknown task {task!r}: choose one of {', '.join(TASKS)}.")
    value = answers.get("target_value")
    if value is not None:
        value = float(value)
        if value > 1.0:
            value = value / 100.0  # typed as a percentage
        if not 0.0 < value <= 1.0 or math.isnan(value):
            raise ValueError("The target must be between 0 and 100 %, e.g. 90.")
        answers = {**answers, "target_value": value}
    Intake(**{k: v for k, v in answers.items() if v is not None})  # the intake's own checks
    return dict(answers)


def intake_for(ctx: AppContext, engagement_id: int, language: str | None = None) -> Intake:
    """Build the intake of an engagement from its fields and kept answers.

    Args:
        ctx: The app context.
        engagement_id: The engagement.
        language: Language of the texts; None for the engagement's own.

    Returns:
        The intake.

    """
    details = engagement_details(ctx, engagement_id)
    answers = {k: v for k, v in details.items() if k in ANSWER_FIELDS and v is not None}
    return Intake(deployment=details["deployment_target"], goal=details["goal"],
                  language=language or details["language"], **answers)


# --------------------------------------------------------------------------- samples
def add_sample(
    ctx: AppContext,
    engagement_id: int,
    data: bytes,
    filename: str,
    progress: ProgressCallback = ignore_progress,
) -> SampleView:
    """Store an uploaded zip for an engagement, unpack it, check every image, profile it.

    The upload is unpacked, scanned and profiled before it is recorded, so a file that
    cannot be used never becomes the engagement's sample. Stages reported through
    ``progress``: "store" (saving the upload), "unpack", "scan" (every image decoded
    and verified, with counts) and "health".

    Args:
        ctx: The app context.
        engagement_id: The engagement.
        data: The uploaded bytes.
        filename: The browser's name of the file (a label only, never a path).
        progress: Progress callback.

    Returns:
        The stored sample with its profile.

    Raises:
        engines.intake.IntakeError: The upload cannot be used, with what to do.
        advisor.store.SampleTooLargeError: Over the upload limit.
        advisor.store.NotFoundError: No such engagement.
        ValueError: Empty upload.

    """
    if not data:
        raise ValueError(f"{filename!r} is empty (0 bytes): upload the zip again.")
    if len(data) > ctx.settings.upload_limit_bytes:
        raise store.SampleTooLargeError(
            f"{filename!r} is {len(data) / 2**20:.0f} MB, over the upload limit of "
            f"{ctx.settings.upload_limit_mb} MB: upload a smaller sample.")
    with store.open_session(ctx.engine) as session:
        store.get_engagement(session, engagement_id)
    limits = IntakeLimits(max_upload_bytes=ctx.settings.upload_limit_bytes)
    progress(Progress("store", 0.0, "Saving the upload"))
    suffix = Path(filename).suffix.lower() or ".zip"
    with tempfile.TemporaryDirectory(prefix="fa-upload-") as tmp:
        upload = Path(tmp) / f"{Path(filename).stem[:60] or 'upload'}{suffix}"
        upload.write_bytes(data)
        folder = sample_dir(ctx.data_dir, hash_sample(upload))
        existed = folder.exists()
        try:
            root, profile = _unpack_and_profile(upload, folder, limits, progress)
        except Exception:
            if not existed:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        with store.open_session(ctx.engine) as session:
            dataset = store.store_sample(session, engagement_id, upload, ctx.data_dir,
                                         original_name=filename,
                                         max_bytes=ctx.settings.upload_limit_bytes)
            dataset = store.set_dataset_profile(session, int(dataset.id or 0), profile)
    progress(Progress("health", 1.0, "Profile ready"))
    return SampleView(dataset_id=int(dataset.id or 0), name=dataset.original_name,
                      content_hash=dataset.content_hash, root=root,
                      profile=dict(dataset.profile or {}))


def _unpack_and_profile(
    archive: Path, folder: Path, limits: IntakeLimits, progress: ProgressCallback
) -> tuple[Path, dict[str, Any]]:
    """Unpack an upload into its sample folder, scan, profile and health-check it."""
    progress(Progress("unpack", 0.05, "Unpacking and checking the archive"))
    root = unpack_upload(archive, folder / UNPACKED_DIR, limits)

    def scanning(p: Progress) -> None:
        progress(Progress("scan", 0.1 + 0.8 * p.fraction, p.message))

    index = scan_dataset(root, limits, progress=scanning)
    progress(Progress("health", 0.92, "Profiling and checking the data's health"))
    profile = profile_dataset(index)
    health = build_health_report(index, None)
    profile.health = health
    profile.effective_n_images = int(health["effective_n_images"])
    records = [{"path": index.relpath(r.path), "label": r.label} for r in index.records]
    (folder / INDEX_FILE).write_text(json.dumps({"root": root.relative_to(folder).as_posix(),
                                                 "records": records}, ensure_ascii=False),
                                     "utf-8")
    return root, profile.to_dict()


def current_sample(ctx: AppContext, engagement_id: int) -> SampleView | None:
    """Return the engagement's latest profiled sample, unpacked (again if removed).

    Raises:
        advisor.store.NotFoundError: No such engagement.

    """
    with store.open_session(ctx.engine) as session:
        store.get_engagement(session, engagement_id)
        datasets = [d for d in store.list_datasets(session, engagement_id) if d.profile]
    if not datasets:
        return None
    dataset = datasets[-1]
    location = store.dataset_location(dataset, ctx.data_dir)
    if not location.exists():
        return None
    folder = sample_dir(ctx.data_dir, dataset.content_hash)
    limits = IntakeLimits(max_upload_bytes=ctx.settings.upload_limit_bytes)
    if (folder / INDEX_FILE).exists():
        root = unpack_upload(location, folder / UNPACKED_DIR, limits)
    else:
        root, _ = _unpack_and_profile(location, folder, limits, ignore_progress)
    return SampleView(dataset_id=int(dataset.id or 0), name=dataset.original_name,
                      content_hash=dataset.content_hash, root=root,
                      profile=dict(dataset.profile or {}))


def sample_records(ctx: AppContext, sample: SampleView) -> list[tuple[str, str | None]]:
    """``(relative path, label)`` of every image of a sample, as its scan found them."""
    index_file = sample_dir(ctx.data_dir, sample.content_hash) / INDEX_FILE
    try:
        data = json.loads(index_file.read_text("utf-8"))
        return [(r["path"], r["label"]) for r in data["records"]]
    except (OSError, ValueError, KeyError, TypeError):
        index = scan_dataset(sample.root)
        return [(index.relpath(r.path), r.label) for r in index.records]


def sample_grid(
    ctx: AppContext, sample: SampleView, per_class: int = 6, max_classes: int = 12
) -> dict[str, list[tuple[str, Path]]]:
    """A few images per class for the sample grid: ``{label: [(name, path), ...]}``."""
    records = [
        ImageRecord(path=sample.root / rel, label=label)
        for rel, label in sample_records(ctx, sample)
    ]
    picked = pick_samples(records, per_class=per_class, max_classes=max_classes)
    return {label: [(p.relative_to(sample.root).as_posix(), p) for p in paths]
            for label, paths in picked.items()}


def embedding_map(
    ctx: AppContext,
    sample: SampleView,
    method: str = "pca",
    progress: ProgressCallback = ignore_progress,
) -> dict[str, Any]:
    """The sample's embedding map (see :func:`advisor.embedding.sample_embedding_map`).

    Features go to the feature cache the validation reads, so the map also speeds up
    the validation that follows.

    Raises:
        ValueError: Fewer than three images, or an unknown method.

    """
    from advisor.embedding import sample_embedding_map

    return sample_embedding_map(sample.root, sample_records(ctx, sample), method=method,
                                cache_dir=ctx.jobs.feature_cache,
                                device=ctx.settings.device, progress=progress)


# --------------------------------------------------------------------------- advice
def advise(
    ctx: AppContext,
    engagement_id: int,
    language: str,
    answers: dict[str, Any] | None = None,
) -> AdviceView:
    """Recommend for the engagement's sample and answers, and record the recommendation.

    Args:
        ctx: The app context.
        engagement_id: The engagement.
        language: Language of the presented texts.
        answers: New answers to keep first (None: use those kept).

    Returns:
        The recommendation, presented, with its record id and quadrant position.

    Raises:
        ValueError: No sample yet, or an invalid answer.

    """
    if answers:
        save_answers(ctx, engagement_id, answers)
    sample = current_sample(ctx, engagement_id)
    if sample is None:
        raise ValueError("Upload a sample on the Data page first.")
    from engines.profile import DatasetProfile

    intake = intake_for(ctx, engagement_id, language)
    rec = recommend(intake, DatasetProfile.from_dict(sample.profile))
    with store.open_session(ctx.engine) as session:
        latest = store.latest_recommendation(session, sample.dataset_id)
        inputs = {"intake": intake.to_dict()}
        if (latest is not None and latest.inputs == to_json(inputs, "inputs")
                and latest.knowledge_version == rec.knowledge_version):
            record_id = int(latest.id or 0)
        else:
            record = store.record_recommendation(session, sample.dataset_id, inputs,
                                                 rec.to_dict(), rec.knowledge_version)
            record_id = int(record.id or 0)
    return AdviceView(recommendation=rec, presented=present(rec, language),
                      record_id=record_id, quadrant=quadrant_position(rec),
                      answers=load_answers(ctx, engagement_id))


def quadrant_position(rec: Recommendation) -> dict[str, Any]:
    """Where the engagement sits on the 2×2 of data amount × domain similarity.

    The amount axis is the effective number of images (after duplicates), split at the
    knowledge base's "a lot" line (10⁴). The similarity axis is the measured score
    (0-1, split where the similarity engine calls "similar") when a validation measured
    it; otherwise there is no number, only the side the advice assumes.

    Args:
        rec: A recommendation (its ``facts`` carry the inputs of the 2×2).

    Returns:
        ``n_images`` (effective), ``large_at``, ``data_size`` ("small"/"large"),
        ``similarity`` ("similar"/"different", the side used), ``similarity_score``
        (None when not measured), ``similarity_source`` ("measured", "consultant",
        "none"), ``similar_at``, ``quadrant`` and ``strategy_id``.

    """
    facts = rec.facts
    kb = knowledge_base()
    n = facts.get("effective_n_images", facts.get("n_images"))
    score = facts.get("similarity_score") if facts.get("similarity_source") == "measured" else None
    return {
        "n_images": int(n) if isinstance(n, int | float) else None,
        "large_at": int(kb.constant_values["a_lot"]),
        "data_size": facts.get("size_2x2", facts.get("data_size")),
        "similarity": facts.get("similarity_2x2"),
        "similarity_score": float(score) if isinstance(score, int | float) else None,
        "similarity_source": facts.get("similarity_source", "none"),
        "similar_at": SIMILARITY_CALL_AT,
        "quadrant": facts.get("quadrant"),
        "strategy_id": rec.strategy_id,
    }


# --------------------------------------------------------------------------- runs
def start_validation(
    ctx: AppContext,
    engagement_id: int,
    budget_seconds: float,
    strategies: tuple[str, ...] | None = None,
    language: str | None = None,
) -> int:
    """Start a background validation of the engagement's latest sample; return the run id.

    Raises:
        ValueError: No sample yet, or a run of this engagement is still active.

    """
    active = ctx.jobs.active_run(engagement_id)
    if active is not None:
        raise ValueError("A validation of this engagement is already running: wait for it "
                         "or cancel it first.")
    sample = current_sample(ctx, engagement_id)
    if sample is None:
        raise ValueError("Upload a sample on the Data page first.")
    intake = intake_for(ctx, engagement_id, language)
    with store.open_session(ctx.engine) as session:
        latest = store.latest_recommendation(session, sample.dataset_id)
    return ctx.jobs.start(
        sample.dataset_id, source=sample.root, intake=intake, budget_seconds=budget_seconds,
        strategies=strategies, recommendation_id=int(latest.id or 0) if latest else None)


def engagement_runs(ctx: AppContext, engagement_id: int) -> list[dict[str, Any]]:
    """The runs of an engagement, newest first: id, status, times, headline numbers."""
    with store.open_session(ctx.engine) as session:
        runs = store.list_runs(session, engagement_id=engagement_id)
    rows = []
    for run in runs:
        metrics = run.metrics or {}
        rows.append({
            "id": int(run.id or 0), "status": run.status, "created_at": run.created_at,
            "seconds": run.seconds, "budget_seconds": (run.config or {}).get("budget_seconds"),
            "strategy": metrics.get("strategy"), "accuracy": metrics.get("accuracy"),
            "ci_low": metrics.get("ci_low"), "ci_high": metrics.get("ci_high"),
            "verdict": metrics.get("verdict"),
            "error": friendly_error(run.error) if run.status == "failed" else run.error,
        })
    return rows


def latest_result(ctx: AppContext, engagement_id: int) -> tuple[int, dict[str, Any]] | None:
    """The newest finished run of an engagement and its result document, if any."""
    with store.open_session(ctx.engine) as session:
        runs = store.list_runs(session, engagement_id=engagement_id, statuses=("done",))
    for run in runs:
        result = load_run_result(ctx.data_dir, run)
        if result is not None:
            return int(run.id or 0), result
    return None


def run_result(ctx: AppContext, run_id: int) -> dict[str, Any] | None:
    """The result document of a run (None when it has none).

    Raises:
        advisor.store.NotFoundError: No such run.

    """
    with store.open_session(ctx.engine) as session:
        run = store.get_run(session, run_id)
    return load_run_result(ctx.data_dir, run)


@dataclass
class ReportFiles:
    """A run's report as the Report page offers it.

    Attributes:
        html: The self-contained HTML report.
        result_json: The run's result.json text.
        pdf: The PDF report, when it was asked for and could be made.
        pdf_error: Why there is no PDF (no Korean font, no WeasyPrint), if asked for.

    """

    html: str
    result_json: str
    pdf: bytes | None = None
    pdf_error: str | None = None


def run_report(
    ctx: AppContext, engagement_id: int, run_id: int, language: str, *, pdf: bool = False
) -> ReportFiles:
    """Render a run's feasibility report, keep it with the engagement, return it.

    The files are written once per run and language under the engagement's reports
    folder and recorded in the store; later calls read them back. Thumbnails of the
    sample are embedded where its files are on this machine.

    Args:
        ctx: The app context.
        engagement_id: The engagement.
        run_id: A finished run of it.
        language: "ko" or "en".
        pdf: Also make (or read) the PDF.

    Returns:
        The report files.

    Raises:
        ValueError: The run has no result.

    """
    from advisor.report import ReportOptions, build_report_model, render_html, render_pdf

    result = run_result(ctx, run_id)
    if result is None:
        raise ValueError(f"Run {run_id} has no result to report: run a validation first.")
    folder = store.reports_dir(ctx.data_dir, engagement_id)
    html_path = folder / f"run-{run_id}-{language}.html"
    pdf_path = html_path.with_suffix(".pdf")
    model = None

    def report_model() -> Any:
        nonlocal model
        if model is None:
            sample = current_sample(ctx, engagement_id)
            options = ReportOptions(image_root=sample.root if sample is not None else None)
            model = build_report_model(result, language, options)
        return model

    if not html_path.exists():
        _keep_report(ctx, engagement_id, run_id, html_path,
                     render_html(report_model()).encode("utf-8"), "html")
    files = ReportFiles(html=html_path.read_text("utf-8"),
                        result_json=json.dumps(result, indent=2, ensure_ascii=False))
    if pdf:
        if not pdf_path.exists():
            try:
                data = render_pdf(report_model())
            except RuntimeError as exc:  # no Korean font or no WeasyPrint: said how to fix
                files.pdf_error = str(exc)
                return files
            _keep_report(ctx, engagement_id, run_id, pdf_path, data, "pdf")
        files.pdf = pdf_path.read_bytes()
    return files


def _keep_report(
    ctx: AppContext, engagement_id: int, run_id: int, path: Path, data: bytes, fmt: str
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    with store.open_session(ctx.engine) as session:
        store.record_report(session, engagement_id, fmt, path, ctx.data_dir, run_id=run_id)
