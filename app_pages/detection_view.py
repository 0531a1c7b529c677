"""The detector fine-tune of a detection run: mAP with intervals, AP per class, boxes."""

from __future__ import annotations

import base64
from typing import Any

import streamlit as st

from app_pages import charts


def _fmt(v: dict[str, Any] | None) -> str:
    v = v or {}
    if charts.number(v.get("value")) is None:
        return "–"
    if charts.number(v.get("ci_low")) is None:
        return f"{v['value']:.3f}"
    return f"{v['value']:.3f} [{v['ci_low']:.3f}–{v['ci_high']:.3f}]"


def draw_detector(detection: dict[str, Any]) -> None:
    """Runs (whole frame, tiled) with mAP, AP per class, skipped runs, and overlays."""
    det = detection.get("detector") or {}
    if not det:
        return
    rows = []
    for run in det.get("runs") or []:
        m = run.get("metrics") or {}
        rows.append(
            {
                "run": run.get("id"),
                "encoder": run.get("encoder"),
                "epochs": run.get("epochs"),
                "mAP@0.5": _fmt(m.get("map50")),
                "mAP@[.5:.95]": _fmt(m.get("map")),
                "undertrained": run.get("undertrained"),
            }
        )
    if rows:
        st.dataframe(rows, hide_index=True)
    best = next((r for r in det.get("runs") or [] if r.get("id") == det.get("best_run")), None)
    if best is not None:
        st.dataframe(
            [
                {
                    "class": c.get("class"),
                    "boxes": c.get("n_boxes"),
                    "AP@0.5": _fmt(c.get("ap50")),
                    "AP@[.5:.95]": _fmt(c.get("ap")),
                }
                for c in (best.get("metrics") or {}).get("per_class") or []
            ],
            hide_index=True,
        )
    for skipped in det.get("skipped") or []:
        st.caption(f"{skipped.get('run')} ({skipped.get('encoder')}): {skipped.get('reason')}")
    gpu = det.get("gpu_estimate") or {}
    if charts.number(gpu.get("gpu_seconds_min_epochs")) is not None:
        st.caption(
            f"GPU estimate: about {gpu['gpu_seconds_min_epochs']:.1f} s for the minimum "
            f"training ({gpu.get('method', '')})."
        )
    images = [
        base64.b64decode(o["png_base64"]) for o in det.get("overlays") or [] if o.get("png_base64")
    ]
    if images:
        st.image(images, width=480)
