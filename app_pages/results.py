"""The results of a validation run, drawn from its result document (read defensively)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from advisor.i18n import pick
from advisor.messages import render_message, render_messages
from advisor.recommendation import Recommendation
from advisor.views import present
from app_pages import charts
from app_pages.common import image_path, language, text
from engines.results import Result

VERDICT_BOX = {"validated": st.success, "revised": st.warning}


def evidence_findings(rec: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """Where the measurements confirmed or overturned the advice, in the page language."""
    if not rec.get("strategy_id"):
        return []
    try:
        return present(Recommendation.from_dict(rec), lang)["evidence"]
    except (KeyError, TypeError, ValueError):
        return []  # a result from another knowledge version: the verdict above stands


def draw_results(run_id: int, typed: Result, sample_root: Path) -> None:
    """Verdict, headline numbers and the charts of one run."""
    lang = language()
    result = typed.to_json_dict()
    validation = result["validation"]
    rec = result["recommendation"]
    target = typed.target()
    best_typed = typed.best_experiment()
    st.subheader(text("app.validate.results", run=run_id))

    verdict = rec.get("verdict")
    reason = pick(rec.get("verdict_reason"), lang)
    strategy = text(f"app.strategy.{rec['strategy_id']}") if rec.get("strategy_id") else ""
    VERDICT_BOX.get(verdict, st.info)(
        f"**{text(f'app.verdict.{verdict}' if verdict else 'app.verdict.none')}** — {strategy}"
        + (f"\n\n{reason}" if reason else ""))
    for finding in evidence_findings(rec, lang):
        st.caption(f"{finding['outcome_label']}: {finding['text']} ({finding['rule_id']})")

    experiments = validation["experiments"]
    best = best_typed.model_dump(mode="json") if best_typed is not None else None
    similarity = validation.get("similarity") or {}
    fit = ((validation.get("learning_curve") or {}).get("fit") or {})
    cols = st.columns(4)
    value, low, high = charts.interval(((best or {}).get("metrics") or {}).get("accuracy"))
    cols[0].metric(text("app.validate.best_accuracy"),
                   f"{value:.1%}" if value is not None else text("app.common.not_measured"),
                   help=text("app.validate.interval", low=low, high=high)
                   if low is not None and high is not None else None)
    if low is not None and high is not None:
        cols[0].caption(text("app.validate.interval", low=low, high=high))
    score = charts.number(similarity.get("score"))
    cols[1].metric(text("app.validate.similarity"),
                   f"{score:.2f} · {text('app.advice.similarity_choice.' + similarity['call'])}"
                   if score is not None and similarity.get("call") in ("similar", "different")
                   else text("app.common.not_measured"))
    cols[2].metric(text("app.validate.images_needed"),
                   charts.images_needed_text(typed.images_needed(), text))
    budget_used = (validation.get("budget") or {}).get("used_seconds")
    cols[3].metric(text("app.validate.seconds"),
                   f"{budget_used:.0f} s" if charts.number(budget_used) is not None
                   else text("app.common.not_measured"))

    tabs = st.tabs([text("app.validate.tab_strategies"), text("app.validate.tab_curve"),
                    text("app.validate.tab_errors"), text("app.validate.tab_backbones"),
                    text("app.validate.tab_notes")])
    with tabs[0]:
        figure = charts.strategy_figure(experiments, text, target)
        if figure is None:
            st.info(text("app.common.not_measured"))
        else:
            st.plotly_chart(figure, key="validate_strategies_chart")
        for skipped in validation.get("skipped") or []:
            st.caption(f"{text('app.strategy.' + skipped.get('strategy', ''))}: "
                       f"{render_message(skipped.get('reason_code'), lang, skipped.get('reason'))}")
    with tabs[1]:
        figure = charts.learning_curve_figure(validation.get("learning_curve"), text, target)
        if figure is None:
            st.info(text("app.validate.no_curve",
                         reason=render_message((validation.get("learning_curve") or {}).get(
                             "reason_code"), lang, (validation.get("learning_curve") or {}).get(
                             "reason")) or "–"))
        else:
            st.plotly_chart(figure, key="validate_curve_chart")
            for note in render_messages(fit.get("note_codes"), fit.get("notes"), lang):
                st.caption(note)
    with tabs[2]:
        figure = charts.confusion_figure((best or {}).get("metrics"), text)
        if figure is None:
            st.info(text("app.common.not_measured"))
        else:
            st.plotly_chart(figure, key="validate_confusion_chart")
        wrong = validation.get("misclassified") or []
        st.markdown(f"**{text('app.validate.misclassified', n=len(wrong))}**")
        shown = [(w, image_path(sample_root, str(w.get("path", "")))) for w in wrong[:24]]
        images = [(w, p) for w, p in shown if p is not None]
        if images:
            st.image([str(p) for _, p in images], width=120, caption=[
                f"{w.get('path')} · {w.get('true')} → {w.get('predicted')}"
                + (f" ({w['confidence']:.0%})" if charts.number(w.get("confidence")) is not None
                   else "") for w, _ in images])
    with tabs[3]:
        figure = charts.ranking_figure(validation.get("backbone_ranking"), text)
        if figure is None:
            st.info(text("app.common.not_measured"))
        else:
            st.plotly_chart(figure, key="validate_ranking_chart")
    with tabs[4]:
        for warning in render_messages(validation.get("warning_codes"),
                                       validation.get("warnings"), lang):
            st.caption(f"⚠️ {warning}")
        device = validation.get("device") or {}
        st.caption(text("app.validate.ran_on", device=device.get("name") or device.get("type")
                        or "–", backbone=(validation.get("backbone") or {}).get("name", "–")))
        if validation.get("segmentation"):
            draw_segmentation(validation["segmentation"])
        if validation.get("detection"):
            from app_pages.detection_view import draw_detector

            draw_detector(validation["detection"])
        for section in ("segmentation", "detection", "clusters", "domain_gap"):
            if validation.get(section):
                with st.expander(text("app.validate.section", name=section)):
                    st.json(validation[section], expanded=False)
    st.page_link("app_pages/report.py", label=text("app.validate.next"), icon="📄")


def draw_segmentation(seg: dict[str, Any]) -> None:
    """Dice and IoU of each segmentation strategy with intervals, and predicted overlays."""
    import base64

    rows = []
    for exp in seg.get("experiments") or []:
        m = exp.get("metrics") or {}
        row = {"strategy": exp.get("strategy"), "epochs": exp.get("epochs")}
        for key in ("dice", "iou"):
            v = m.get(key) or {}
            if charts.number(v.get("value")) is not None:
                row["IoU" if key == "iou" else "Dice"] = (
                    f"{v['value']:.3f} [{v.get('ci_low', 0):.3f}–{v.get('ci_high', 0):.3f}]")
        rows.append(row)
    if rows:
        st.dataframe(rows, hide_index=True)
    for skipped in seg.get("skipped_strategies") or []:
        st.caption(f"{skipped.get('strategy')}: {skipped.get('reason')}")
    images = [base64.b64decode(o["png_base64"]) for o in seg.get("overlays") or []
              if o.get("png_base64")]
    if images:
        st.image(images, width=320)
