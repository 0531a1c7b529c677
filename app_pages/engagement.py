import streamlit as st

from app_pages.common import ENGAGEMENT, text

st.header(text("engagement.header"))
saved = st.session_state[ENGAGEMENT]
with st.form("engagement_form"):
    client = st.text_input(text("engagement.client"), value=saved.get("client", ""))
    project = st.text_input(text("engagement.project"), value=saved.get("project", ""))
    goal = st.text_area(text("engagement.goal"), value=saved.get("goal", ""))
    deployment = st.selectbox(
        text("engagement.deployment"), ["server_gpu", "cpu", "mobile"],
        index=["server_gpu", "cpu", "mobile"].index(saved.get("deployment", "server_gpu")),
    )
    if st.form_submit_button(text("engagement.save")):
        st.session_state[ENGAGEMENT] = {
            "client": client, "project": project, "goal": goal, "deployment": deployment,
        }
        st.success(text("engagement.saved"))
