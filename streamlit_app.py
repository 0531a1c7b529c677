"""Feasibility Advisor — entry point: page config, access, session, sidebar, navigation.

No logic. Every page runs through this script, so the access check below runs on every
page and every rerun, before anything of an engagement is read or drawn.
"""

import streamlit as st

from advisor.access import password_matches, serving_refusal
from advisor.settings import load_settings
from app_pages.common import ICONS, init_session, run_page, sidebar, text

AUTHENTICATED = "access_authenticated"

st.set_page_config(
    page_title="Feasibility Advisor", page_icon=":material/travel_explore:", layout="wide"
)


def require_access() -> None:
    """Stop the script unless this browser may see the app (see :mod:`advisor.access`)."""
    password = load_settings().password
    refusal = serving_refusal(st.get_option("server.address"), password)
    if refusal is not None:
        st.error(text("app.access.refused", reason=refusal))
        st.stop()
    if not password or st.session_state.get(AUTHENTICATED):
        return
    with st.form("access_login"):
        st.subheader(text("app.access.title"))
        given = st.text_input(text("app.access.password"), type="password", key="access_password")
        submitted = st.form_submit_button(text("app.access.submit"), type="primary")
    if submitted:
        if password_matches(given, password):
            st.session_state[AUTHENTICATED] = True
            st.session_state.pop("access_password", None)
            st.rerun()
        st.error(text("app.access.wrong"))
    st.stop()


require_access()
init_session()
pages = [
    st.Page(
        "app_pages/engagement.py",
        title=text("app.nav.engagement"),
        icon=ICONS["engagement"],
        default=True,
    ),
    st.Page("app_pages/data.py", title=text("app.nav.data"), icon=ICONS["data"]),
    st.Page("app_pages/advice.py", title=text("app.nav.advice"), icon=ICONS["advice"]),
    st.Page("app_pages/validate.py", title=text("app.nav.validate"), icon=ICONS["validate"]),
    st.Page("app_pages/report.py", title=text("app.nav.report"), icon=ICONS["report"]),
    st.Page("app_pages/history.py", title=text("app.nav.history"), icon=ICONS["history"]),
    st.Page("app_pages/knowledge.py", title=text("app.nav.knowledge"), icon=ICONS["knowledge"]),
    st.Page("app_pages/settings.py", title=text("app.nav.settings"), icon=ICONS["settings"]),
]
page = st.navigation(pages)
sidebar()
run_page(page)
