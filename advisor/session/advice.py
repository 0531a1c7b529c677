"""The recommendation for an engagement, recorded, and its place on the 2×2."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advisor import store
from advisor.knowledge_base import knowledge_base
from advisor.recommend import recommend
from advisor.recommendation import Recommendation
from advisor.session.context import AppContext
from advisor.session.engagements import intake_for, load_answers, save_answers
from advisor.session.samples import current_sample
from advisor.store.repository import to_json
from advisor.views import present

SIMILARITY_CALL_AT = 0.5
"""Score at which the similarity engine calls a sample "similar" (engines.similarity)."""


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
        if (
            latest is not None
            and latest.inputs == to_json(inputs, "inputs")
            and latest.knowledge_version == rec.knowledge_version
        ):
            record_id = int(latest.id or 0)
        else:
            record = store.record_recommendation(
                session, sample.dataset_id, inputs, rec.to_dict(), rec.knowledge_version
            )
            record_id = int(record.id or 0)
    return AdviceView(
        recommendation=rec,
        presented=present(rec, language),
        record_id=record_id,
        quadrant=quadrant_position(rec),
        answers=load_answers(ctx, engagement_id),
    )


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
