"""What the app's pages ask of the advisor, one function per step of the journey.

The pages read widgets, call one of these functions and draw what it returns; all
state that must outlive a browser reload lives in the engagement store
(:mod:`advisor.store`) and the data directory, never in the page. An
:class:`AppContext` (one per process, built by :func:`create_context`) holds the store's
engine, the settings and the background validation runs (:mod:`advisor.jobs`).

One module per seam: :mod:`.context`, :mod:`.engagements` (with the answers),
:mod:`.samples`, :mod:`.advice` and :mod:`.runs`. Never imports torch or streamlit:
functions that need the engines' torch side import them when called.
"""

from advisor.session.advice import SIMILARITY_CALL_AT, AdviceView, advise, quadrant_position
from advisor.session.context import (
    AppContext,
    create_context,
    environment_facts,
    warm_validation_engines,
)
from advisor.session.engagements import (
    ANSWER_FIELDS,
    TARGET_METRICS,
    create_engagement,
    delete_engagement,
    engagement_details,
    intake_for,
    load_answers,
    recent_engagements,
    save_answers,
    update_engagement,
)
from advisor.session.runs import (
    ReportFiles,
    engagement_runs,
    latest_result,
    run_report,
    run_result,
    start_validation,
)
from advisor.session.samples import (
    SampleView,
    add_sample,
    current_sample,
    embedding_map,
    sample_grid,
    sample_records,
)

__all__ = [
    "ANSWER_FIELDS",
    "SIMILARITY_CALL_AT",
    "TARGET_METRICS",
    "AdviceView",
    "AppContext",
    "ReportFiles",
    "SampleView",
    "add_sample",
    "advise",
    "create_context",
    "create_engagement",
    "current_sample",
    "delete_engagement",
    "embedding_map",
    "engagement_details",
    "engagement_runs",
    "environment_facts",
    "warm_validation_engines",
    "intake_for",
    "latest_result",
    "load_answers",
    "quadrant_position",
    "recent_engagements",
    "run_report",
    "run_result",
    "sample_grid",
    "sample_records",
    "save_answers",
    "start_validation",
    "update_engagement",
]
