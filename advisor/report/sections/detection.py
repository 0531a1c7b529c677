"""The detector fine-tune of a detection run: mAP with intervals, AP per class, pictures."""

from __future__ import annotations

from advisor.report.context import BuildContext
from advisor.report.model import Block, Gallery, Heading, Paragraph, Table, Thumbnail
from advisor.report.numbers import join


def build(ctx: BuildContext) -> list[Block]:
    """mAP@0.5 and mAP@[.5:.95] per run, AP per class of the best, skipped runs, overlays."""
    reader = ctx.reader
    data, ref = reader.section("detection")
    if not isinstance(data, dict) or ref is None or not isinstance(data.get("detector"), dict):
        return []
    dref = join(ref, "detector")
    det = data["detector"]
    blocks: list[Block] = [Heading(ctx.text("det.title"))]
    rows = []
    for run, p in reader.items(join(dref, "runs")):
        if isinstance(run, dict):
            rows.append(
                [
                    str(run.get("id", "")),
                    str(run.get("encoder", "")),
                    reader.num(join(p, "epochs"), "float"),
                    reader.estimate(join(p, "metrics", "map50"), "float"),
                    reader.estimate(join(p, "metrics", "map"), "float"),
                ]
            )
    if rows:
        head = [ctx.text(f"det.{k}") for k in ("run", "encoder", "epochs")]
        blocks.append(Table([*head, "mAP@0.5", "mAP@[.5:.95]"], rows))
    best = next(
        (
            (r, p)
            for r, p in reader.items(join(dref, "runs"))
            if isinstance(r, dict) and r.get("id") == det.get("best_run")
        ),
        None,
    )
    if best is not None:
        _, bp = best
        per = [
            [
                str(c.get("class", "")),
                reader.num(join(cp, "n_boxes"), "count"),
                reader.estimate(join(cp, "ap50"), "float"),
                reader.estimate(join(cp, "ap"), "float"),
            ]
            for c, cp in reader.items(join(bp, "metrics", "per_class"))
            if isinstance(c, dict)
        ]
        if per:
            head = [ctx.text("det.class"), ctx.text("det.boxes")]
            blocks.append(Table([*head, "AP@0.5", "AP@[.5:.95]"], per))
    for s in det.get("skipped") or []:
        if isinstance(s, dict):
            reason = ctx.engine(s.get("reason_code"), s.get("reason", ""))
            blocks.append(Paragraph(f"{s.get('run')} ({s.get('encoder')}): {reason}", "note"))
    thumbs = [
        Thumbnail(
            str(o.get("image", "")),
            str(o.get("image", "")),
            "data:image/png;base64," + o["png_base64"],
        )
        for o in det.get("overlays") or []
        if isinstance(o, dict) and o.get("png_base64")
    ]
    if thumbs:
        blocks.append(Gallery(thumbs, note=ctx.text("det.overlay_note")))
    return blocks
