import pandas as pd
import streamlit as st

from app_pages.common import (
    PROFILE,
    RESULT_DIR,
    UPLOAD_ID,
    UPLOAD_NAME,
    UPLOAD_ROOT,
    text,
    workspace,
)
from engines.errors import EngineError

st.header(text("data.header"))
upload = st.file_uploader(text("data.upload"), type=["zip"], key="data_upload")
if upload is not None and upload.file_id != st.session_state.get("data_file_id"):
    with st.spinner(text("data.profiling")):
        try:
            digest, prepared = workspace().store_upload(upload.getvalue(), upload.name)
        except (ValueError, EngineError, OSError) as exc:
            st.error(text("data.error", message=str(exc)))
        else:
            st.session_state.update({
                UPLOAD_ID: digest, UPLOAD_NAME: upload.name, RESULT_DIR: None,
                UPLOAD_ROOT: str(prepared.root), PROFILE: prepared.profile.to_dict(),
                "data_file_id": upload.file_id,
            })

profile = st.session_state[PROFILE]
if profile is None:
    st.info(text("data.no_upload"))
    st.stop()

cols = st.columns(3)
cols[0].metric(text("data.n_images"), profile["n_images"])
cols[1].metric(text("data.n_classes"), profile["n_classes"])
cols[2].metric(text("data.imbalance"), f"{profile['imbalance_ratio']:.1f}")
st.subheader(text("data.per_class"))
counts = pd.DataFrame(
    {"class": list(profile["class_counts"]), "images": list(profile["class_counts"].values())}
)
st.bar_chart(counts, x="class", y="images")
if profile["skipped"]:
    st.warning(text("data.skipped", n=len(profile["skipped"])))
    st.dataframe(pd.DataFrame(profile["skipped"]), hide_index=True)
