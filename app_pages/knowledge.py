"""Knowledge: browse every rule, task, strategy and case the advisor applies.

Everything shown comes from ``advisor.views.catalog`` (generated from the
knowledge files); this page only reads the filters and draws.
"""

import pandas as pd
import streamlit as st

from advisor.views import catalog
from app_pages.common import ICONS

language = st.session_state.get("language", "en")
language = language if language in ("en", "ko") else "en"
labels = catalog(language)["labels"]
topics = {t["id"]: f"{t['label']} ({t['n_rules']})" for t in catalog(language)["topics"]}

st.title(f"{ICONS['knowledge']} {labels['knowledge_title']}", anchor=False)
st.caption(labels["knowledge_caption"])
topic = st.selectbox(
    labels["topic"],
    [None, *topics],
    format_func=lambda t: labels["all_topics"] if t is None else topics[t],
    key="knowledge_topic",
)
query = st.text_input(labels["search"], key="knowledge_query")
view = catalog(language, topic=topic, query=query)


def bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


tab_rules, tab_tasks, tab_strategies, tab_cases, tab_glossary, tab_sources = st.tabs(
    [
        labels[k]
        for k in (
            "tab_rules",
            "tab_tasks",
            "tab_strategies",
            "tab_cases",
            "tab_glossary",
            "tab_references",
        )
    ]
)
with tab_rules:
    st.caption(f"{view['counts']['shown']} / {view['counts']['rules']} {labels['n_shown']}")
    if not view["rules"]:
        st.info(labels["no_match"])
    for rule in view["rules"]:
        with st.expander(f"{rule['id']} · {rule['title']}  —  `{rule['slug']}`"):
            st.markdown(
                f"**{labels['topic']}:** {rule['topic_label']} · "
                f"**{labels['confidence']}:** {rule['confidence_label']}\n\n"
                f"**{labels['when']}:** {rule['when']}\n\n"
                f"**{labels['recommends']}:**\n{bullets(rule['recommends'])}\n\n"
                f"**{labels['why']}:** {rule['why']}\n\n"
                f"**{labels['limits']}:** {rule['limits']}\n\n"
                f"**{labels['source']}:**\n{bullets(rule['sources'])}\n\n"
                f"**{labels['examples']}** — {labels['must_fire']}:\n"
                f"{bullets(rule['must_fire'])}\n\n{labels['must_not_fire']}:\n"
                f"{bullets(rule['must_not_fire'])}"
            )
with tab_tasks:
    for task in view["tasks"]:
        with st.expander(f"{task['name']} — {task['shape']}"):
            st.markdown(
                f"**{labels['framing']}:** {task['framing']}\n\n{task['architecture']}\n\n"
                f"**{labels['label_format']}:** {task['label_format']} "
                f"({labels['labeling_effort']}: {task['labeling_effort']})\n\n"
                f"**{labels['losses']}:** {task['losses']}\n\n"
                f"**{labels['metrics']}:** {task['metrics']}\n\n"
                + (
                    f"**{labels['pretrained_family']}:** {task['pretrained_family']}\n\n"
                    if task["pretrained_family"]
                    else ""
                )
                + (
                    f"**{labels['best_reported']}:** {task['best_reported']}\n\n"
                    if task["best_reported"]
                    else ""
                )
                + f"**{labels['backbones']}:**\n"
                + bullets([f"{labels[d]}: `{b}`" for d, b in task["backbones"].items()])
                + f"\n\n**{labels['source']}:**\n{bullets(task['sources'])}"
            )
with tab_strategies:
    st.dataframe(
        pd.DataFrame(view["strategies"])[["name", "summary", "freeze_stages", "lr_plan"]].rename(
            columns={"freeze_stages": labels["freeze_stages"], "lr_plan": labels["lr_plan"]}
        ),
        hide_index=True,
    )
with tab_cases:
    if not view["cases"]:
        st.info(labels["no_match"])
    for case in view["cases"]:
        with st.expander(f"{case['title']} — {case['task']}"):
            st.markdown(
                f"**{labels['goal']}:** {case['goal']}\n\n"
                f"**{labels['ultimately_needed']}:** {case['ultimately_needed']}\n\n"
                f"**{labels['preprocessing']}:**\n{bullets(case['preprocessing'])}\n\n"
                f"**{labels['client_provides']}:**\n{bullets(case['client_provides'])}\n\n"
                f"**{labels['related_rules']}:** {', '.join(case['rules'])}\n\n"
                f"**{labels['source']}:**\n{bullets(case['sources'])}"
            )
with tab_glossary:
    if view["glossary"]:
        st.dataframe(pd.DataFrame(view["glossary"])[["term", "definition"]], hide_index=True)
    else:
        st.info(labels["no_match"])
with tab_sources:
    st.subheader(labels["seeds"])
    for seed in view["seeds"]:
        st.markdown(
            f"**{seed['title']}** (`{seed['file']}`, {seed['author']})  \n{seed['covers']}  \n"
            f"{labels['cited_by']}: {', '.join(seed['cited_by'])}"
        )
    st.subheader(labels["papers"])
    st.dataframe(
        pd.DataFrame(view["papers"])[["citation", "url", "cited_by"]].rename(
            columns={"cited_by": labels["cited_by"]}
        ),
        hide_index=True,
    )
