"""Engagement: create one, edit the current one, or reopen a recent one."""

import streamlit as st

from advisor.session import (
    TARGET_METRICS,
    create_engagement,
    engagement_details,
    recent_engagements,
    update_engagement,
)
from app_pages.common import (
    ENGAGEMENT_ID,
    ICONS,
    context,
    labeler,
    language,
    open_engagement,
    page_header,
    text,
)

DEPLOYMENTS = ["server_gpu", "cpu", "mobile"]
LANGS = ["ko", "en"]

page_header("engagement")
ctx = context()
current = st.session_state[ENGAGEMENT_ID]
saved = engagement_details(ctx, current) if current is not None else {}
suffix = current if current is not None else "new"  # fresh widgets per engagement
# Choices shown in the page language get fresh widgets when the language changes too.
if current is not None:
    st.caption(text("app.engagement.editing", client=saved["client"], project=saved["project"]))
    if st.button(text("app.engagement.new"), key="engagement_new"):
        open_engagement(None)
        st.rerun()

with st.form("engagement_form"):
    cols = st.columns(2)
    client = cols[0].text_input(
        text("app.engagement.client"),
        value=saved.get("client", ""),
        key=f"engagement_client_{suffix}",
    )
    project = cols[1].text_input(
        text("app.engagement.project"),
        value=saved.get("project", ""),
        key=f"engagement_project_{suffix}",
    )
    goal = st.text_area(
        text("app.engagement.goal"), value=saved.get("goal", ""), key=f"engagement_goal_{suffix}"
    )
    cols = st.columns(2)
    metric = cols[0].selectbox(
        text("app.engagement.target_metric"),
        TARGET_METRICS,
        index=TARGET_METRICS.index(saved.get("target_metric") or "accuracy"),
        format_func=labeler("app.metric"),
        key=f"engagement_metric_{suffix}_{language()}",
    )
    target = cols[1].number_input(
        text("app.engagement.target_value"),
        min_value=0.0,
        max_value=100.0,
        step=1.0,
        value=float(round(100 * (saved.get("target_value") or 0.0), 1)),
        help=text("app.engagement.target_help"),
        key=f"engagement_target_{suffix}",
    )
    cols = st.columns(2)
    deployment = cols[0].radio(
        text("app.engagement.deployment"),
        DEPLOYMENTS,
        index=DEPLOYMENTS.index(saved.get("deployment_target", "server_gpu")),
        format_func=labeler("app.deployment"),
        key=f"engagement_deployment_{suffix}_{language()}",
    )
    lang = cols[1].radio(
        text("app.engagement.language"),
        LANGS,
        index=LANGS.index(saved.get("language", language())),
        format_func=lambda c: {"en": "English", "ko": "한국어"}[c],
        key=f"engagement_language_{suffix}",
    )
    submitted = st.form_submit_button(
        text("app.engagement.save" if current is not None else "app.engagement.create"),
        type="primary",
    )

if submitted:
    fields = {
        "client": client,
        "project": project,
        "goal": goal,
        "deployment_target": deployment,
        "language": lang,
        "target_metric": metric,
        "target_value": (target / 100.0) if target > 0 else None,
    }
    try:
        if current is None:
            current = create_engagement(ctx, **fields)
        else:
            update_engagement(ctx, current, **fields)
    except ValueError as exc:
        st.error(text("app.errors.user", message=str(exc)))
    else:
        open_engagement(current)
        st.session_state["engagement_flash"] = text("app.engagement.saved")
        st.rerun()

if flash := st.session_state.pop("engagement_flash", None):
    st.success(flash)
    st.page_link("app_pages/data.py", label=text("app.engagement.next"), icon=ICONS["data"])

st.subheader(text("app.engagement.recent"))
recent = recent_engagements(ctx, limit=10)
if not recent:
    st.caption(text("app.engagement.none_yet"))
for row in recent:
    cols = st.columns([4, 2, 1])
    cols[0].markdown(f"**{row['client']}** — {row['project']}")
    cols[1].caption(
        text(
            "app.engagement.counts",
            samples=row["samples"],
            runs=row["runs"],
            updated=row["updated_at"].strftime("%Y-%m-%d %H:%M"),
        )
    )
    if cols[2].button(
        text("app.engagement.open"),
        key=f"engagement_open_{row['id']}",
        disabled=row["id"] == current,
    ):
        open_engagement(row["id"])
        st.rerun()
