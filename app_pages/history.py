"""History: engagements and their runs; compare two runs; delete an engagement."""

import pandas as pd
import streamlit as st

from advisor.session import delete_engagement, engagement_runs, recent_engagements, run_result
from app_pages import charts
from app_pages.common import ENGAGEMENT_ID, context, open_engagement, page_header, text

page_header("history")
ctx = context()
if flash := st.session_state.pop("history_flash", None):
    st.success(flash)
engagements = recent_engagements(ctx, limit=None)
if not engagements:
    st.info(text("app.history.empty"))
    st.stop()

st.dataframe(
    pd.DataFrame(
        [
            {
                text("app.history.col_id"): e["id"],
                text("app.history.col_client"): e["client"],
                text("app.history.col_project"): e["project"],
                text("app.history.col_samples"): e["samples"],
                text("app.history.col_runs"): e["runs"],
                text("app.history.col_updated"): e["updated_at"].strftime("%Y-%m-%d %H:%M"),
            }
            for e in engagements
        ]
    ),
    hide_index=True,
)

ids = [e["id"] for e in engagements]
names = {e["id"]: f"{e['client']} — {e['project']} (#{e['id']})" for e in engagements}
current = st.session_state.get(ENGAGEMENT_ID)
chosen = st.selectbox(
    text("app.history.engagement"),
    ids,
    index=ids.index(current) if current in ids else 0,
    format_func=names.get,
    key="history_engagement",
)
if chosen != current and st.button(text("app.history.open"), key="history_open"):
    open_engagement(chosen)
    st.rerun()

runs = engagement_runs(ctx, chosen)
st.subheader(text("app.history.runs", n=len(runs)))
if runs:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    text("app.history.col_id"): r["id"],
                    text("app.history.col_status"): text(f"app.status.{r['status']}"),
                    text("app.history.col_when"): r["created_at"].strftime("%Y-%m-%d %H:%M"),
                    text("app.history.col_strategy"): text(f"app.strategy.{r['strategy']}")
                    if r["strategy"]
                    else "–",
                    text("app.history.col_accuracy"): f"{r['accuracy']:.1%}"
                    if charts.number(r["accuracy"]) is not None
                    else "–",
                    text("app.history.col_seconds"): f"{r['seconds']:.0f}"
                    if charts.number(r["seconds"]) is not None
                    else "–",
                    text("app.history.col_note"): r["error"] or "",
                }
                for r in runs
            ]
        ),
        hide_index=True,
    )

done = [r["id"] for r in runs if r["status"] == "done"]
if len(done) >= 2:
    st.subheader(text("app.history.compare"))
    pick_cols = st.columns(2)
    pair = [
        pick_cols[0].selectbox(text("app.history.run_a"), done, index=1, key="history_run_a"),
        pick_cols[1].selectbox(text("app.history.run_b"), done, index=0, key="history_run_b"),
    ]
    for side, (column, run_id) in enumerate(zip(st.columns(2), pair, strict=True)):
        result = run_result(ctx, int(run_id))
        if result is None:
            column.info(text("app.common.not_measured"))
            continue
        validation = result.to_json_dict()["validation"]
        verdict = result.recommendation.verdict
        with column:
            st.markdown(f"**{text('app.history.run', run=run_id)}**")
            st.caption(
                text(
                    "app.history.run_facts",
                    budget=f"{result.config.budget_seconds:g}",
                    n=result.profile.n_images,
                    verdict=text(f"app.verdict.{verdict.value}")
                    if verdict
                    else text("app.verdict.none"),
                )
            )
            figure = charts.strategy_figure(validation["experiments"], text)
            if figure is None:
                st.info(text("app.common.not_measured"))
            else:
                st.plotly_chart(figure, key=f"history_chart_{side}")
            curve = charts.learning_curve_figure(validation.get("learning_curve"), text)
            if curve is not None:
                st.plotly_chart(curve, key=f"history_curve_{side}")

st.subheader(text("app.history.delete"))
st.caption(text("app.history.delete_help"))
confirm = st.checkbox(
    text("app.history.delete_confirm", name=names[chosen]), key="history_delete_confirm"
)
if st.button(text("app.history.delete_button"), disabled=not confirm, key="history_delete"):
    deleted = delete_engagement(ctx, chosen)
    if chosen == current:
        open_engagement(None)
    st.session_state["history_flash"] = text(
        "app.history.deleted",
        name=names[chosen],
        runs=len(deleted.run_ids),
        samples=len(deleted.removed_samples),
    )
    for key in ("history_engagement", "history_delete_confirm"):
        st.session_state.pop(key, None)
    st.rerun()
