"""Report: preview the feasibility report of a run and download it."""

import streamlit as st

from advisor.session import engagement_runs, run_report
from app_pages.common import ICONS, context, language, page_header, require_engagement, text

page_header("report")
ctx = context()
engagement_id = require_engagement()
done = [r for r in engagement_runs(ctx, engagement_id) if r["status"] == "done"]
if not done:
    st.info(text("app.report.need_run"))
    st.page_link("app_pages/validate.py", label=text("app.nav.validate"), icon=ICONS["validate"])
    st.stop()

run_id = st.selectbox(
    text("app.report.run"),
    [r["id"] for r in done],
    format_func=lambda i: text(
        "app.report.run_label",
        run=i,
        when=next(r["created_at"].strftime("%Y-%m-%d %H:%M") for r in done if r["id"] == i),
    ),
    key="report_run",
)
want_pdf = st.session_state.get("report_pdf_for") == (run_id, language())
with st.spinner(text("app.report.rendering")):
    files = run_report(ctx, engagement_id, int(run_id), language(), pdf=want_pdf)
# The one-page answer for the client first, with its downloads; the full report below.
st.subheader(f":material/summarize: {text('summary.title')}", anchor=False)
cols = st.columns(3)
cols[0].download_button(
    text("summary.download_html"),
    files.summary_html,
    file_name=f"feasibility-summary-run{run_id}.html",
    mime="text/html",
    key="summary_download_html",
    type="primary",
    icon=":material/download:",
)
if files.summary_pdf is not None:
    cols[1].download_button(
        text("summary.download_pdf"),
        files.summary_pdf,
        file_name=f"feasibility-summary-run{run_id}.pdf",
        mime="application/pdf",
        key="summary_download_pdf",
        type="primary",
        icon=":material/picture_as_pdf:",
    )
elif cols[1].button(text("app.report.make_pdf"), key="report_make_pdf"):
    st.session_state["report_pdf_for"] = (run_id, language())
    st.rerun()
if files.pdf_error:
    st.warning(text("app.report.no_pdf", reason=files.pdf_error))
st.iframe(files.summary_html, height=780)  # our own template: client strings are escaped

st.subheader(f":material/description: {text('app.report.full')}", anchor=False)
cols = st.columns(3)
cols[0].download_button(
    text("app.report.download_html"),
    files.html,
    file_name=f"feasibility-report-run{run_id}.html",
    mime="text/html",
    key="report_download_html",
    icon=":material/download:",
)
if files.pdf is not None:
    cols[1].download_button(
        text("app.report.download_pdf"),
        files.pdf,
        file_name=f"feasibility-report-run{run_id}.pdf",
        mime="application/pdf",
        key="report_download_pdf",
        icon=":material/picture_as_pdf:",
    )
cols[2].download_button(
    text("app.report.download_json"),
    files.result_json,
    file_name=f"result-run{run_id}.json",
    mime="application/json",
    key="report_download_json",
    icon=":material/data_object:",
)
with st.expander(text("app.report.preview"), expanded=False):
    st.iframe(files.html, height=900)
