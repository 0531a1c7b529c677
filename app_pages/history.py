import streamlit as st

from app_pages.common import text

st.header(text("history.header"))
st.info(text("history.placeholder"))
