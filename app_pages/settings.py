"""Settings: where validations run, the offline backbones, where data is kept."""

import pandas as pd
import streamlit as st

from app_pages.common import environment, page_header, text

page_header("settings")
probe = environment()
with st.spinner(text("app.common.probing")):
    env = probe.wait()
if env is None:
    st.error(text("app.errors.unexpected", message=probe.error or "–"))
    st.stop()
device = env["device"]
cols = st.columns(3)
cols[0].metric(text("app.settings.device"), device.get("name") or device.get("type") or "–")
cols[1].metric(text("app.settings.runner"), env["runner"].get("runner", "–"))
cols[2].metric(text("app.settings.database"), env["database"])
if device.get("error"):
    st.warning(device["error"])
st.subheader(text("app.settings.backbones"))
if env["backbones"]:
    st.dataframe(pd.DataFrame(env["backbones"]), hide_index=True)
else:
    st.warning(text("app.settings.no_backbones"))
st.subheader(text("app.settings.runner_details"))
st.json(env["runner"], expanded=True)
st.subheader(text("app.settings.storage"))
st.markdown(
    text(
        "app.settings.storage_text",
        data_dir=env["data_dir"],
        limit=env["upload_limit_mb"],
        budget=env["budget_seconds"],
    )
)
