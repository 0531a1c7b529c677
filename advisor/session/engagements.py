"""Engagements and the consultant's answers kept with them."""

from __future__ import annotations

import contextlib
import json
import math
import shutil
from pathlib import Path
from typing import Any, cast

from advisor import store
from advisor.intake import TASKS, Intake, Language
from advisor.session.context import AppContext

ANSWERS_DIR = "engagements"
"""Where older apps kept answers (``<id>/answers.json``); now in ``engagement.answers``."""

TARGET_METRICS: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "sensitivity",
    "specificity",
    "roc_auc",
    "iou",
    "map",
)
ANSWER_FIELDS: tuple[str, ...] = (
    "task",
    "target_metric",
    "target_value",
    "claimed_n_images",
    "domain_similarity",
    "label_quality",
    "can_relabel",
    "high_stakes",
    "realtime",
    "client_expects_everything",
    "wants_reinforcement_learning",
    "pairs_can_be_synthesised",
)


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
        engagement = store.create_engagement(
            session,
            store.EngagementCreate(
                client=client,
                project=project,
                goal=goal.strip(),
                deployment_target=deployment_target,
                language=language,
                answers=answers,
            ),
        )
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
        store.update_engagement(
            session,
            engagement_id,
            store.EngagementUpdate(
                client=client.strip(),
                project=project.strip(),
                goal=goal.strip(),
                deployment_target=deployment_target,
                language=language,
                answers=merged,
            ),
        )


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
            rows.append(
                {
                    "id": eid,
                    "client": e.client,
                    "project": e.project,
                    "goal": e.goal,
                    "deployment_target": e.deployment_target,
                    "language": e.language,
                    "updated_at": e.updated_at,
                    "samples": len(datasets),
                    "runs": len(runs),
                }
            )
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
                    session,
                    int(engagement.id or 0),
                    store.EngagementUpdate(answers=legacy),
                    touch=False,
                )
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
            session, engagement_id, store.EngagementUpdate(answers=merged)
        )
    return _known_answers(engagement.answers)


def _checked_answers(answers: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(answers) - set(ANSWER_FIELDS))
    if unknown:
        raise ValueError(
            f"Unknown answer(s) {', '.join(unknown)}; known: {', '.join(ANSWER_FIELDS)}."
        )
    metric = answers.get("target_metric")
    if metric is not None and metric not in TARGET_METRICS:
        raise ValueError(
            f"Unknown target metric {metric!r}: use one of {', '.join(TARGET_METRICS)}."
        )
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
    return Intake(
        deployment=details["deployment_target"],
        goal=details["goal"],
        language=cast(Language, language or details["language"]),
        **answers,
    )
