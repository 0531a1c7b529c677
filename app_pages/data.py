"""Data: upload a sample; its profile, health findings, images, classes and map."""

import pandas as pd
import streamlit as st

from advisor.messages import finding_text
from advisor.session import add_sample, current_sample, embedding_map, sample_grid
from app_pages import charts
from app_pages.common import (
    context,
    language,
    page_header,
    progress_reporter,
    require_engagement,
    show_error,
    text,
)

SEVERITY = {
    "critical": (":material/error:", st.error),
    "warning": (":material/warning:", st.warning),
    "info": (":material/info:", st.info),
}

page_header("data")
ctx = context()
engagement_id = require_engagement()
lang = language()

upload = st.file_uploader(
    text("app.data.upload"), type=["zip"], key="data_upload", help=text("app.data.upload_help")
)
if upload is not None and upload.file_id != st.session_state.get("data_file_id"):
    bar = st.progress(0.0, text=text("app.stages.store"))
    try:
        add_sample(
            ctx, engagement_id, upload.getvalue(), upload.name, progress=progress_reporter(bar)
        )
    except Exception as exc:  # noqa: BLE001 - every upload problem becomes a message
        bar.empty()
        show_error(exc)
    else:
        bar.empty()
        st.session_state["data_file_id"] = upload.file_id
        st.session_state.pop("data_maps", None)
        st.success(text("app.data.stored", name=upload.name))

sample = current_sample(ctx, engagement_id)
if sample is None:
    st.info(text("app.data.no_upload"))
    st.stop()

profile = sample.profile
st.caption(text("app.data.sample", name=sample.name, digest=sample.content_hash[:12]))
cols = st.columns(5)
cols[0].metric(text("app.data.n_images"), f"{profile.get('n_images', 0):,}")
effective = profile.get("effective_n_images")
cols[1].metric(
    text("app.data.effective"),
    f"{effective:,}" if effective is not None else text("app.common.not_measured_short"),
    help=None if effective is not None else text("app.common.not_measured"),
)
cols[2].metric(text("app.data.n_classes"), profile.get("n_classes", 0))
cols[3].metric(text("app.data.imbalance"), f"{profile.get('imbalance_ratio', 1.0):.1f}×")
cols[4].metric(
    text("app.data.data_type"),
    text(f"app.data_type_short.{profile.get('data_type')}"),
    help=text(f"app.data_type.{profile.get('data_type')}"),
)

tab_health, tab_images, tab_classes, tab_map = st.tabs(
    [
        text("app.data.tab_health"),
        text("app.data.tab_images"),
        text("app.data.tab_classes"),
        text("app.data.tab_map"),
    ]
)

with tab_health:
    findings = (profile.get("health") or {}).get("findings") or []
    if not findings:
        st.caption(text("app.common.not_measured"))
    for finding in findings:
        icon, box = SEVERITY.get(finding.get("severity"), SEVERITY["info"])
        with st.expander(
            finding_text(finding, "title", lang),
            icon=icon,
            expanded=finding.get("severity") == "critical",
        ):
            st.markdown(finding_text(finding, "meaning", lang))
            if finding.get("action"):
                action = finding_text(finding, "action", lang)
                st.markdown(f"**{text('app.data.action')}:** {action}")
            examples = finding.get("examples") or []
            if examples and isinstance(examples[0], dict):
                st.dataframe(pd.DataFrame(examples).astype(str), hide_index=True)
            elif examples:
                st.caption(", ".join(str(e) for e in examples))
    if profile.get("skipped"):
        st.subheader(text("app.data.skipped", n=len(profile["skipped"])))
        st.dataframe(pd.DataFrame(profile["skipped"]), hide_index=True)

with tab_images:
    for label, images in sample_grid(ctx, sample).items():
        st.markdown(f"**{label}** · {profile.get('class_counts', {}).get(label, len(images))}")
        st.image([str(path) for _, path in images], caption=[name for name, _ in images], width=110)

with tab_classes:
    figure = charts.class_counts_figure(profile.get("class_counts") or {}, text)
    if figure is None:
        st.info(text("app.data.no_classes"))
    else:
        st.plotly_chart(figure, key="data_classes_chart")

with tab_map:
    st.caption(text("app.data.map_help"))
    method = st.radio(
        text("app.data.map_method"),
        ["pca", "tsne"],
        horizontal=True,
        format_func=lambda m: {"pca": "PCA", "tsne": "t-SNE"}[m],
        key="data_map_method",
    )
    maps = st.session_state.setdefault("data_maps", {})
    map_key = f"{sample.content_hash}:{method}"
    if map_key not in maps and st.button(text("app.data.map_draw"), key="data_map_draw"):
        bar = st.progress(0.0, text=text("app.stages.embed"))
        try:
            maps[map_key] = embedding_map(ctx, sample, method, progress=progress_reporter(bar))
        except Exception as exc:  # noqa: BLE001 - shown as a message
            show_error(exc)
        bar.empty()
    if map_key in maps:
        emb = maps[map_key]
        st.plotly_chart(charts.embedding_figure(emb, text), key="data_map_chart")
        check = emb.get("label_check") or {}
        st.caption(
            text(
                "app.data.map_summary",
                shown=emb["n_shown"],
                total=emb["n_total"],
                groups=emb["n_duplicate_groups"],
                issues=emb["n_label_issues"],
                seconds=emb["seconds"],
            )
        )
        if not check.get("ran"):
            st.caption(text("app.data.map_no_label_check", reason=check.get("reason", "")))
