"""The results of a validation run, drawn from its typed result document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from advisor.i18n import pick
from advisor.messages import render_message, render_messages
from advisor.recommendation import Recommendation
from advisor.views import present
from app_pages import charts
from app_pages.common import image_path, language, presenter_mode, text
from engines.results import Result, Verdict

# The colours people expect: green the advice held, red the evidence overturned it,
# amber the evidence could not decide.
VERDICT_BOX = {
    Verdict.VALIDATED: st.success,
    Verdict.REVISED: st.error,
    Verdict.INCONCLUSIVE: st.warning,
}
VERDICT_ICON = {
    Verdict.VALIDATED: ":material/check_circle:",
    Verdict.REVISED: ":material/change_circle:",
    Verdict.INCONCLUSIVE: ":material/help:",
}


def evidence_findings(rec: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """Where the measurements confirmed or overturned the advice, in the page language."""
    if not rec.get("strategy_id"):
        return []
    try:
        return present(Recommendation.from_dict(rec), lang)["evidence"]
    except (KeyError, TypeError, ValueError):
        return []  # a result from another knowledge version: the verdict above stands


def without_label(reason: str, label: str) -> str:
    """The reason without a leading copy of the verdict's label ("Inconclusive: ...")."""
    if not reason.casefold().startswith(label.casefold()):
        return reason
    rest = reason[len(label) :].lstrip(" :—-.,")
    return rest[:1].upper() + rest[1:] if rest else reason


def draw_verdict(typed: Result) -> None:
    """The verdict first, in its colour, with its one-line reason in the page language."""
    rec = typed.recommendation
    verdict = Verdict(rec.verdict) if rec.verdict is not None else None
    reason = pick(rec.verdict_reason, language()) if rec.verdict_reason else ""
    strategy = text(f"app.strategy.{rec.strategy_id}") if rec.strategy_id else ""
    label = text(f"app.verdict.{verdict.value}" if verdict else "app.verdict.none")
    body = f"**{label}**" + (f" — {strategy}" if strategy else "")
    body += f"\n\n{without_label(reason, label)}" if reason else ""
    if verdict is None:
        st.info(body, icon=":material/hourglass_empty:")
    else:
        VERDICT_BOX[verdict](body, icon=VERDICT_ICON[verdict])


def _accuracy(best: Any) -> tuple[str, str | None]:
    """The best accuracy, short, and its interval for the help text."""
    if best is None:
        return text("app.common.not_measured_short"), text("app.common.not_measured")
    acc = best.accuracy
    if acc.ci_low is None or acc.ci_high is None:
        return f"{acc.value:.1%}", None
    return f"{acc.value:.1%}", text("app.validate.interval", low=acc.ci_low, high=acc.ci_high)


def draw_key_numbers(typed: Result) -> None:
    """The numbers that carry the answer; short values, the long form in the help."""
    validation = typed.validation
    presenting = presenter_mode()
    cols = st.columns(3 if presenting else 4)
    value, interval = _accuracy(typed.best_experiment())
    cols[0].metric(text("app.validate.best_accuracy"), value, help=interval)
    if interval is not None:
        cols[0].caption(interval)
    sim = validation.similarity
    if (
        sim is not None
        and sim.call in ("similar", "different", "borderline")
        and sim.score is not None
    ):
        call = (
            text("app.validate.similarity_borderline")
            if sim.call == "borderline"
            else text(f"app.advice.similarity_choice.{sim.call}")
        )
        cols[1].metric(
            text("app.validate.similarity"),
            call,
            help=text("app.validate.similarity_help", score=sim.score, call=call),
        )
    else:
        cols[1].metric(
            text("app.validate.similarity"),
            text("app.common.not_measured_short"),
            help=text("app.common.not_measured"),
        )
    needed = typed.images_needed()
    long_needed = charts.images_needed_text(needed, text)
    short_needed = (
        long_needed
        if needed is not None and needed.status == "reachable"
        else charts.images_needed_short(needed, text)
    )
    cols[2].metric(text("app.validate.images_needed"), short_needed, help=long_needed)
    if not presenting:
        used = validation.budget.used_seconds if validation.budget is not None else None
        cols[3].metric(
            text("app.validate.seconds"),
            f"{used:.0f} s" if used is not None else text("app.common.not_measured_short"),
        )


def draw_results(run_id: int, typed: Result, sample_root: Path) -> None:
    """Verdict, headline numbers and the charts of one run."""
    lang = language()
    presenting = presenter_mode()
    validation = typed.validation
    target = typed.target()
    best = typed.best_experiment()
    st.subheader(text("app.validate.results", run=run_id), anchor=False)
    draw_verdict(typed)
    for finding in evidence_findings(typed.to_json_dict()["recommendation"], lang):
        rule = "" if presenting else f" ({finding['rule_id']})"
        st.caption(f"{finding['outcome_label']}: {finding['text']}{rule}")
    draw_key_numbers(typed)

    experiments = [e.model_dump(mode="json") for e in validation.experiments]
    curve = validation.learning_curve
    tabs = st.tabs(
        [
            text("app.validate.tab_strategies"),
            text("app.validate.tab_curve"),
            text("app.validate.tab_errors"),
            text("app.validate.tab_backbones"),
            text("app.validate.tab_notes"),
        ]
    )
    with tabs[0]:
        figure = charts.strategy_figure(experiments, text, target)
        if figure is None:
            st.info(text("app.common.not_measured"))
        else:
            st.plotly_chart(figure, key="validate_strategies_chart")
        for skipped in validation.skipped:
            st.caption(
                f"{text('app.strategy.' + skipped.strategy.value)}: "
                f"{render_message(skipped.reason_code, lang, skipped.reason)}"
            )
    with tabs[1]:
        figure = charts.learning_curve_figure(
            curve.model_dump(mode="json") if curve is not None else None, text, target
        )
        if figure is None:
            st.info(
                text(
                    "app.validate.no_curve",
                    reason=(
                        render_message(curve.reason_code, lang, curve.reason)
                        if curve is not None
                        else None
                    )
                    or "–",
                )
            )
        else:
            st.plotly_chart(figure, key="validate_curve_chart")
            for note in (
                render_messages(curve.fit.note_codes, curve.fit.notes, lang)
                if curve is not None and curve.fit
                else []
            ):
                st.caption(note)
    with tabs[2]:
        figure = charts.confusion_figure(
            best.metrics.model_dump(mode="json") if best is not None else None, text
        )
        if figure is None:
            st.info(text("app.common.not_measured"))
        else:
            st.plotly_chart(figure, key="validate_confusion_chart")
        draw_misclassified(validation.misclassified, sample_root)
    with tabs[3]:
        figure = charts.ranking_figure(
            [r.model_dump(mode="json") for r in validation.backbone_ranking] or None, text
        )
        if figure is None:
            st.info(text("app.common.not_measured"))
        else:
            st.plotly_chart(figure, key="validate_ranking_chart")
    with tabs[4]:
        draw_notes(typed, presenting)
    st.page_link(
        "app_pages/report.py", label=text("app.validate.next"), icon=":material/description:"
    )


def draw_misclassified(wrong: list[dict[str, Any]], sample_root: Path) -> None:
    """Held-out images the best model got wrong, with their true and predicted class."""
    st.markdown(f"**{text('app.validate.misclassified', n=len(wrong))}**")
    shown = [(w, image_path(sample_root, str(w.get("path", "")))) for w in wrong[:24]]
    images = [(w, p) for w, p in shown if p is not None]
    if images:
        st.image(
            [str(p) for _, p in images],
            width=120,
            caption=[
                f"{w.get('path')} · {w.get('true')} → {w.get('predicted')}"
                + (
                    f" ({w['confidence']:.0%})"
                    if charts.number(w.get("confidence")) is not None
                    else ""
                )
                for w, _ in images
            ],
        )


def draw_notes(typed: Result, presenting: bool) -> None:
    """Warnings of the run, where it ran, and the other tasks' sections."""
    validation = typed.validation
    for warning in render_messages(validation.warning_codes, validation.warnings, language()):
        st.caption(f":material/warning: {warning}")
    if not presenting:
        device = validation.device.get("name") or validation.device.get("type") or "–"
        st.caption(
            text(
                "app.validate.ran_on", device=device, backbone=validation.backbone.get("name", "–")
            )
        )
    if validation.segmentation:
        draw_segmentation(validation.segmentation)
    if validation.detection:
        from app_pages.detection_view import draw_detector

        draw_detector(validation.detection)
    if presenting:
        return
    for section in ("segmentation", "detection", "clusters", "domain_gap"):
        data = getattr(validation, section)
        if data:
            with st.expander(text("app.validate.section", name=section)):
                st.json(data, expanded=False)


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
                    f"{v['value']:.3f} [{v.get('ci_low', 0):.3f}–{v.get('ci_high', 0):.3f}]"
                )
        rows.append(row)
    if rows:
        st.dataframe(rows, hide_index=True)
    for skipped in seg.get("skipped_strategies") or []:
        st.caption(f"{skipped.get('strategy')}: {skipped.get('reason')}")
    images = [
        base64.b64decode(o["png_base64"]) for o in seg.get("overlays") or [] if o.get("png_base64")
    ]
    if images:
        st.image(images, width=320)
