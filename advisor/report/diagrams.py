"""Drawings of the architecture shapes of the task catalogue (knowledge/tasks.yaml).

Each shape is a row of stages: boxes for data, a narrowing trapezoid for an encoder, a
widening one for a decoder or generator. The words come from the locale files.
"""

from __future__ import annotations

from collections.abc import Callable
from xml.sax.saxutils import escape

from advisor.report.charts import BLUE, FONT, GREEN, ORANGE

# (element, locale key): "data" a box, "narrow" an encoder, "widen" a decoder/generator,
# "small" a compact box (a head, a time model).
SHAPES: dict[str, list[tuple[str, str]]] = {
    "encoder_head": [
        ("data", "image"),
        ("narrow", "encoder"),
        ("data", "features"),
        ("small", "head"),
        ("data", "classes"),
    ],
    "encoder_decoder": [
        ("data", "image"),
        ("narrow", "encoder"),
        ("widen", "decoder"),
        ("data", "mask"),
    ],
    "generator": [
        ("data", "input"),
        ("widen", "generator"),
        ("data", "generated"),
        ("narrow", "discriminator"),
        ("data", "real_fake"),
    ],
    "two_stage": [
        ("data", "image"),
        ("narrow", "detector"),
        ("data", "crops"),
        ("narrow", "recognizer"),
        ("data", "result"),
    ],
    "temporal": [
        ("data", "frames"),
        ("narrow", "encoder"),
        ("small", "time_model"),
        ("data", "result"),
    ],
    "embedding": [
        ("data", "image"),
        ("narrow", "encoder"),
        ("data", "embedding"),
        ("small", "distance"),
    ],
}
_COLORS = {"data": "#edf2f7", "narrow": BLUE, "widen": GREEN, "small": ORANGE}


def architecture_svg(shape: str, label: Callable[[str], str]) -> str | None:
    """Draw an architecture shape.

    Args:
        shape: A shape id of the task catalogue (e.g. "encoder_head").
        label: Returns the localized word for a stage key.

    Returns:
        The SVG text, or None for a shape with no drawing.

    """
    stages = SHAPES.get(shape)
    if stages is None:
        return None
    width, height, mid = 680, 150, 70
    gap = 22
    widths = {"data": 96, "narrow": 120, "widen": 120, "small": 84}
    total = sum(widths[k] for k, _ in stages) + gap * (len(stages) - 1)
    x = (width - total) / 2
    body = []
    for i, (kind, key) in enumerate(stages):
        w = widths[kind]
        fill = _COLORS[kind]
        text_color = "#1f2933" if kind == "data" else "#ffffff"
        if kind == "narrow":
            pts = f"{x},{mid - 50} {x + w},{mid - 22} {x + w},{mid + 22} {x},{mid + 50}"
            body.append(f'<polygon points="{pts}" fill="{fill}"/>')
        elif kind == "widen":
            pts = f"{x},{mid - 22} {x + w},{mid - 50} {x + w},{mid + 50} {x},{mid + 22}"
            body.append(f'<polygon points="{pts}" fill="{fill}"/>')
        else:
            h = 56 if kind == "data" else 44
            body.append(
                f'<rect x="{x}" y="{mid - h / 2}" width="{w}" height="{h}" rx="6" '
                f'fill="{fill}" stroke="#cbd2d9"/>'
            )
        words = label(key).split("\n")
        for j, word in enumerate(words):
            y = mid + 4 + (j - (len(words) - 1) / 2) * 14
            body.append(
                f'<text x="{x + w / 2}" y="{y}" font-size="12" text-anchor="middle" '
                f'fill="{text_color}">{escape(word)}</text>'
            )
        x += w
        if i < len(stages) - 1:
            body.append(
                f'<line x1="{x + 3}" y1="{mid}" x2="{x + gap - 5}" y2="{mid}" '
                f'stroke="#52606d" stroke-width="2" marker-end="url(#arrow)"/>'
            )
            x += gap
    defs = (
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="6" refY="4" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 Z" fill="#52606d"/></marker></defs>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{escape(FONT)}" role="img">'
        f"{defs}{''.join(body)}</svg>"
    )
