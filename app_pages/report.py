from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

from advisor.report import render_html
from advisor.result import load_result
from app_pages.common import LANGUAGE, RESULT_DIR, text

st.header(text("report.header"))
if not st.session_state[RESULT_DIR]:
    st.info(text("report.need_run"))
    st.stop()

result_path = Path(st.session_state[RESULT_DIR]) / "result.json"
result = load_result(result_path)
html = render_html(result, st.session_state[LANGUAGE])
cols = st.columns(2)
cols[0].download_button(text("report.download_html"), html, file_name="report.html",
                        mime="text/html", key="report_download_html")
cols[1].download_button(text("report.download_json"), result_path.read_text("utf-8"),
                        file_name="result.json", mime="application/json",
                        key="report_download_json")
components.html(html, height=900, scrolling=True)
