"""Feasibility Advisor — entry point: page config, session, sidebar, navigation. No logic."""

import streamlit as st

from app_pages.common import init_session, run_page, sidebar, text

st.set_page_config(page_title="Feasibility Advisor", page_icon="🔎", layout="wide")
init_session()
pages = [
    st.Page("app_pages/engagement.py", title=text("app.nav.engagement"), icon="🤝",
            default=True),
    st.Page("app_pages/data.py", title=text("app.nav.data"), icon="🗂️"),
    st.Page("app_pages/advice.py", title=text("app.nav.advice"), icon="🧭"),
    st.Page("app_pages/validate.py", title=text("app.nav.validate"), icon="🧪"),
    st.Page("app_pages/report.py", title=text("app.nav.report"), icon="📄"),
    st.Page("app_pages/history.py", title=text("app.nav.history"), icon="🕘"),
    st.Page("app_pages/knowledge.py", title=text("app.nav.knowledge"), icon="📚"),
    st.Page("app_pages/settings.py", title=text("app.nav.settings"), icon="⚙️"),
]
page = st.navigation(pages)
sidebar()
run_page(page)
