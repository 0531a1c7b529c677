"""Feasibility Advisor — entry point: page config, session keys, navigation. No logic."""

import streamlit as st

from app_pages.common import init_session, sidebar, text

st.set_page_config(page_title="Feasibility Advisor", page_icon="🔎", layout="wide")
init_session()
sidebar()
pages = [
    st.Page("app_pages/engagement.py", title=text("nav.engagement"), icon="🤝", default=True),
    st.Page("app_pages/data.py", title=text("nav.data"), icon="🗂️"),
    st.Page("app_pages/advice.py", title=text("nav.advice"), icon="🧭"),
    st.Page("app_pages/validate.py", title=text("nav.validate"), icon="🧪"),
    st.Page("app_pages/report.py", title=text("nav.report"), icon="📄"),
    st.Page("app_pages/history.py", title=text("nav.history"), icon="🕘"),
    st.Page("app_pages/knowledge.py", title=text("nav.knowledge"), icon="📚"),
]
st.navigation(pages).run()
