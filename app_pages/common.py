"""Session keys shared by the pages, declared once, and the sidebar."""

import streamlit as st

from advisor.i18n import t
from advisor.workspace import Workspace, default_data_dir

# Shared session keys (page-only keys carry the page's prefix).
LANGUAGE = "language"
UPLOAD_ID = "upload_id"  # content hash of the uploaded zip
PROFILE = "profile"  # DatasetProfile.to_dict()
UPLOAD_ROOT = "upload_root"  # unpacked dataset root (str)
UPLOAD_NAME = "upload_name"
RESULT_DIR = "result_dir"  # folder holding result.json and report.html (str)
ENGAGEMENT = "engagement"  # dict of the engagement answers

DEFAULTS = {
    LANGUAGE: "en",
    UPLOAD_ID: None,
    PROFILE: None,
    UPLOAD_ROOT: None,
    UPLOAD_NAME: None,
    RESULT_DIR: None,
    ENGAGEMENT: {},
}


def init_session() -> None:
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)


def text(key: str, **kwargs) -> str:
    return t(key, st.session_state.get(LANGUAGE, "en"), **kwargs)


@st.cache_resource
def workspace() -> Workspace:
    return Workspace(default_data_dir())


def sidebar() -> None:
    with st.sidebar:
        st.selectbox(
            text("app.language"),
            options=["en", "ko"],
            format_func=lambda code: {"en": "English", "ko": "한국어"}[code],
            key=LANGUAGE,
        )
