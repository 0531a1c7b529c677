"""Validate: start or cancel a background run, follow it live, read its results."""

import streamlit as st

from advisor.session import current_sample, engagement_runs, latest_result, start_validation
from app_pages.common import (
    context,
    labeler,
    language,
    page_header,
    require_engagement,
    settings,
    text,
)
from app_pages.results import draw_results
from engines.results import STRATEGY_ORDER

STRATEGIES = [s.value for s in STRATEGY_ORDER]
BUDGET = "validate_budget"  # the widget
BUDGET_KEPT = "validate_budget_kept"  # its value, kept while the widget is not drawn

page_header("validate")
ctx = context()
engagement_id = require_engagement()
lang = language()
sample = current_sample(ctx, engagement_id)
if sample is None:
    st.info(text("app.validate.need_data"))
    st.stop()


def last_budget() -> int:
    """The budget of the engagement's last finished run (it survives a reload), else the
    installation's default."""
    found = latest_result(ctx, engagement_id)
    budget = found[1].config.budget_seconds if found is not None else None
    return int(min(max(budget or settings().budget_seconds, 5), 3600))


@st.fragment(run_every=1.0)
def live(run_id: int) -> None:
    """Progress of the running validation, refreshed every second on its own."""
    view = ctx.jobs.view(run_id)
    if view.finished:
        st.rerun()
    stage = text(f"app.stages.{view.stage}") if view.stage else text("app.stages.queued")
    if stage.startswith("app.stages."):
        stage = view.stage
    st.progress(min(max(view.fraction, 0.0), 1.0), text=f"{stage} · {100 * view.fraction:.0f}%")
    cols = st.columns(4)
    cols[0].metric(text("app.validate.status"), text(f"app.status.{view.status}"))
    cols[1].metric(
        text("app.validate.elapsed"),
        f"{view.elapsed_seconds:.0f} s" if view.elapsed_seconds is not None else "–",
    )
    cols[2].metric(
        text("app.validate.eta"),
        f"{view.eta_seconds:.0f} s"
        if view.eta_seconds is not None
        else text("app.common.not_known"),
    )
    metric = next(iter((view.metric or {}).items()), None)
    cols[3].metric(
        text("app.validate.latest_metric"),
        f"{metric[0]} {metric[1]:.1%}" if metric else text("app.common.not_yet"),
    )
    if view.message:
        st.caption(view.message)
    if st.button(text("app.validate.cancel"), key="validate_cancel"):
        ctx.jobs.cancel(run_id)
        st.rerun()


active = ctx.jobs.active_run(engagement_id)
if active is not None:
    st.info(text("app.validate.running", run=active))
    live(active)
else:
    cols = st.columns([1, 2])
    # Streamlit forgets a widget's value while it is not drawn (during a run): the
    # chosen budget is kept under a key of its own and given back to the widget.
    if BUDGET not in st.session_state:
        st.session_state[BUDGET] = st.session_state.get(BUDGET_KEPT) or last_budget()
    budget = cols[0].number_input(
        text("app.validate.budget"), min_value=5, max_value=3600, step=5, key=BUDGET
    )
    st.session_state[BUDGET_KEPT] = int(budget)
    # full width: the three strategies' chips are clipped in a column at 1280 px
    chosen = st.multiselect(
        text("app.validate.strategies"),
        STRATEGIES,
        default=STRATEGIES,
        format_func=labeler("app.strategy"),
        key=f"validate_strategies_{lang}",
    )
    if st.button(text("app.validate.start"), type="primary", key="validate_start"):
        start_validation(ctx, engagement_id, float(budget), tuple(chosen) or None, lang)
        st.rerun()

runs = engagement_runs(ctx, engagement_id)
newest = runs[0] if runs else None
if newest is not None and newest["status"] in ("failed", "cancelled"):
    box = st.error if newest["status"] == "failed" else st.warning
    box(
        text(
            f"app.validate.ended_{newest['status']}",
            run=newest["id"],
            reason=newest["error"] or "–",
        )
    )

found = latest_result(ctx, engagement_id)
if found is None:
    if active is None:
        st.caption(text("app.validate.no_result"))
    st.stop()

draw_results(*found, sample.root)
