import streamlit as st

from advisor.i18n import pick
from advisor.intake import Intake
from advisor.pipeline import recommend_from_profile
from app_pages.common import ENGAGEMENT, LANGUAGE, PROFILE, text

st.header(text("advice.header"))
profile = st.session_state[PROFILE]
if profile is None:
    st.info(text("advice.need_data"))
    st.stop()

lang = st.session_state[LANGUAGE]
engagement = st.session_state[ENGAGEMENT]
intake = Intake(language=lang, deployment=engagement.get("deployment", "server_gpu"),
                goal=engagement.get("goal", ""))
rec = recommend_from_profile(profile, intake)
st.subheader(text("advice.strategy"))
st.markdown(f"**{text('strategy.' + rec.strategy_id)}**")
st.subheader(text("advice.rules"))
for firing in rec.trail:
    with st.expander(f"{firing.rule_id} · {firing.slug}"):
        st.write(f"{text('advice.why')}: {pick(firing.reason, lang)}")
        st.caption(f"{text('advice.source')}: {firing.source}")
