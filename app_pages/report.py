"""Report: preview the feasibility report of a run and download it."""

from typing import Any

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

KINDS = {  # suffix -> (mime type, icon)
    "html": ("text/html", ":material/download:"),
    "pdf": ("application/pdf", ":material/picture_as_pdf:"),
    "json": ("application/json", ":material/data_object:"),
}


def download(
    column: Any, label: str, data: bytes | str, stem: str, kind: str, key: str, **kw: Any
) -> None:
    """One download button for a file of this run."""
    mime, icon = KINDS[kind]
    column.download_button(
        label, data, file_name=f"{stem}-run{run_id}.{kind}", mime=mime, key=key, icon=icon, **kw
    )


cols = st.columns(3)
summary = "feasibility-summary"
download(
    cols[0],
    text("summary.download_html"),
    files.summary_html,
    summary,
    "html",
    "summary_download_html",
    type="primary",
)
if files.summary_pdf is not None:
    download(
        cols[1],
        text("summary.download_pdf"),
        files.summary_pdf,
        summary,
        "pdf",
        "summary_download_pdf",
        type="primary",
    )
elif cols[1].button(text("app.report.make_pdf"), key="report_make_pdf"):
    st.session_state["report_pdf_for"] = (run_id, language())
    st.rerun()
if files.pdf_error:
    st.warning(text("app.report.no_pdf", reason=files.pdf_error))
st.iframe(files.summary_html, height=780)  # our own template: client strings are escaped

st.subheader(f":material/description: {text('app.report.full')}", anchor=False)
cols = st.columns(3)
report = "feasibility-report"
download(
    cols[0], text("app.report.download_html"), files.html, report, "html", "report_download_html"
)
if files.pdf is not None:
    download(
        cols[1], text("app.report.download_pdf"), files.pdf, report, "pdf", "report_download_pdf"
    )
download(
    cols[2],
    text("app.report.download_json"),
    files.result_json,
    "result",
    "json",
    "report_download_json",
)
with st.expander(text("app.report.preview"), expanded=False):
    st.iframe(files.html, height=900)
