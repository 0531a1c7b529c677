"""Advice: the questions the data cannot answer, then the recommendation card and the 2×2."""

import streamlit as st

from advisor.intake import TASKS
from advisor.session import advise, current_sample, load_answers
from app_pages import charts
from app_pages.common import (
    ICONS,
    context,
    labeler,
    language,
    page_header,
    require_engagement,
    text,
)

SIMILARITY = ["unknown", "similar", "different"]
LABELS = ["unknown", "clean", "noisy"]
YES_NO = ["unknown", "yes", "no"]


def why(item: dict) -> None:
    """An item of the card with its 'why' and its sources."""
    st.markdown(f"- {item['text']}")
    if item.get("why") or item.get("sources"):
        with st.expander(f"{text('app.advice.why')} · {item.get('rule_id', '')}"):
            st.markdown(item.get("why", ""))
            for source in item.get("sources", []):
                st.caption(f"{text('app.advice.source')}: {source}")


page_header("advice")
ctx = context()
engagement_id = require_engagement()
lang = language()
if current_sample(ctx, engagement_id) is None:
    st.info(text("app.validate.need_data"))
    st.stop()
answers = load_answers(ctx, engagement_id)

with st.form("advice_questions"):
    st.markdown(f"**{text('app.advice.questions')}**")
    cols = st.columns(3)
    task_options = [None, *TASKS]
    task_name, from_data = labeler("app.task"), text("app.advice.task_from_data")
    task = cols[0].selectbox(
        text("app.advice.task"),
        task_options,
        index=task_options.index(answers.get("task")),
        format_func=lambda v: from_data if v is None else task_name(v),
        key=f"advice_task_{lang}",
    )
    similarity = cols[1].selectbox(
        text("app.advice.similarity"),
        SIMILARITY,
        index=SIMILARITY.index(answers.get("domain_similarity", "unknown")),
        format_func=labeler("app.advice.similarity_choice"),
        key=f"advice_similarity_{lang}",
    )
    labels = cols[2].selectbox(
        text("app.advice.label_quality"),
        LABELS,
        index=LABELS.index(answers.get("label_quality", "unknown")),
        format_func=labeler("app.advice.labels"),
        key=f"advice_labels_{lang}",
    )
    cols = st.columns(3)
    claimed = cols[0].number_input(
        text("app.advice.claimed"),
        min_value=0,
        step=100,
        value=int(answers.get("claimed_n_images") or 0),
        help=text("app.advice.claimed_help"),
        key="advice_claimed",
    )
    high_stakes = cols[1].checkbox(
        text("app.advice.high_stakes"), value=bool(answers.get("high_stakes")), key="advice_stakes"
    )
    realtime = cols[2].checkbox(
        text("app.advice.realtime"), value=bool(answers.get("realtime")), key="advice_realtime"
    )
    cols = st.columns(3)
    relabel_now = {True: "yes", False: "no"}.get(answers.get("can_relabel"), "unknown")
    relabel = cols[0].selectbox(
        text("app.advice.can_relabel"),
        YES_NO,
        index=YES_NO.index(relabel_now),
        format_func=labeler("app.advice.relabel_choice"),
        key=f"advice_relabel_{lang}",
    )
    pairs = cols[1].selectbox(
        text("app.advice.pairs_synth"),
        YES_NO,
        index=YES_NO.index(answers.get("pairs_can_be_synthesised", "unknown")),
        format_func=labeler("app.advice.pairs_choice"),
        key=f"advice_pairs_{lang}",
    )
    wants_rl = cols[2].checkbox(
        text("app.advice.wants_rl"),
        value=bool(answers.get("wants_reinforcement_learning")),
        key="advice_wants_rl",
    )
    submitted = st.form_submit_button(text("app.advice.update"), type="primary")

new_answers = None
if submitted:
    new_answers = {
        "task": task,
        "domain_similarity": similarity,
        "label_quality": labels,
        "claimed_n_images": int(claimed) or None,
        "high_stakes": high_stakes,
        "realtime": realtime,
        "can_relabel": {"yes": True, "no": False}.get(relabel),
        "pairs_can_be_synthesised": pairs,
        "wants_reinforcement_learning": wants_rl,
    }
view = advise(ctx, engagement_id, lang, answers=new_answers)
card = view.presented

if card["questions"]:
    st.subheader(text("app.advice.open_questions"))
    for item in card["questions"]:
        why(item)

st.subheader(text("app.advice.card"))
left, right = st.columns(2)
with left:
    st.markdown(f"#### {text('app.advice.architecture')}")
    arch = card.get("architecture")
    if arch:
        st.markdown(f"**{arch['name']}** · {arch['shape']}\n\n{arch['description']}")
        if arch.get("pretrained_family"):
            st.markdown(arch["pretrained_family"])
        st.caption(
            f"{text('app.advice.backbones', target=arch['deployment'])}: "
            + ", ".join(f"`{b}`" for b in arch["backbones"])
        )
        trail = {f["rule_id"]: f for f in card["trail"]}
        rule = trail.get(arch.get("rule_id", ""))
        if rule:
            with st.expander(f"{text('app.advice.why')} · {rule['rule_id']}"):
                st.markdown(rule["why"])
                for source in rule["sources"]:
                    st.caption(f"{text('app.advice.source')}: {source}")
    else:
        st.caption(text("app.advice.no_architecture"))
with right:
    strategy = card["strategy"]
    st.markdown(f"#### {text('app.advice.strategy')}")
    st.markdown(f"**{strategy['name']}**\n\n{strategy['summary']}")
    if strategy.get("freeze_stages") is not None:
        st.caption(
            text(
                "app.advice.freeze",
                frozen=strategy["freeze_stages"],
                total=strategy["total_stages"],
            )
        )
    st.caption(strategy.get("lr_plan", ""))
    for item in card["strategy_notes"] + card["assumptions"]:
        why(item)

if card["strategy"].get("path") == "generative":
    # Generative and image-to-image tasks have no freeze table: no 2×2 to draw.
    st.info(card["strategy"]["path_label"])
else:
    names = {
        q: text(f"app.quadrant.{q}")
        for q in ("small_similar", "large_similar", "small_different", "large_different")
    }
    st.plotly_chart(charts.quadrant_figure(view.quadrant, names, text), key="advice_quadrant")
    if view.quadrant.get("similarity_score") is None:
        st.caption(text("app.advice.quadrant_assumed"))

for section, key in (
    ("data_strategy", "app.advice.data_strategy"),
    ("red_flags", "app.advice.red_flags"),
    ("risks", "app.advice.risks"),
):
    if card[section]:
        st.markdown(f"#### {text(key)}")
        for item in card[section]:
            why(item)

if card["cases"]:
    st.markdown(f"#### {text('app.advice.cases')}")
    for case in card["cases"]:
        with st.expander(f"{case['title']} · {case['score']}"):
            st.markdown("\n".join(f"- {r}" for r in case["reasons"]))
            st.markdown(f"**{text('app.advice.case_goal')}:** {case['goal']}")
            for source in case["sources"]:
                st.caption(f"{text('app.advice.source')}: {source}")

with st.expander(text("app.advice.rules", n=len(card["trail"]))):
    for firing in card["trail"]:
        st.markdown(f"**{firing['rule_id']}** · {firing['title']} — {firing['matched']}")
        st.caption(f"{text('app.advice.why')}: {firing['why']}")
        st.caption(f"{text('app.advice.source')}: " + "; ".join(firing["sources"]))
st.page_link("app_pages/validate.py", label=text("app.advice.next"), icon=ICONS["validate"])
