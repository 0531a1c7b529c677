"""Section 2: the client's goal, the task framing and the chosen architecture."""

from __future__ import annotations

from advisor.report.context import BuildContext
from advisor.report.diagrams import architecture_svg
from advisor.report.model import Block, Cell, Diagram, Heading, ItemList, KeyValues, Paragraph
from advisor.report.sections.common import advice_items, not_measured


def build(ctx: BuildContext) -> list[Block]:
    """Goal, framing and architecture blocks."""
    reader, kb, lang = ctx.reader, ctx.kb, ctx.language
    goal = reader.get("/intake/goal")
    rows: list[tuple[str, Cell]] = [
        (ctx.text("goal.goal"), str(goal) if goal else ctx.text("goal.not_stated")),
    ]
    presented = ctx.presented or {}
    task = presented.get("task", {}).get("name") or reader.get("/recommendation/task")
    rows.append((ctx.text("goal.task"), task or ctx.text("goal.not_stated")))
    framing = reader.get("/recommendation/architecture/framing")
    if framing:
        rows.append((ctx.text("goal.framing"), kb.format_value("task_framing", framing, lang)))
    data_type = reader.get("/profile/data_type")
    if data_type:
        rows.append((ctx.text("goal.data_type"), kb.format_value("data_type", data_type, lang)))
    deployment = reader.get("/intake/deployment")
    if deployment:
        rows.append((ctx.text("goal.deployment"), kb.format_value("deployment", deployment, lang)))
    metric = reader.get("/intake/target_metric")
    if metric:
        name = kb.metrics[metric].name.get(lang) if metric in kb.metrics else str(metric)
        rows.append((ctx.text("goal.metric"), name))
    rows.append(
        (
            ctx.text("goal.target"),
            reader.num("/intake/target_value", "percent") or ctx.text("goal.not_stated"),
        )
    )
    claimed = reader.num("/intake/claimed_n_images", "count")
    if claimed is not None:
        rows.append((ctx.text("goal.claimed"), claimed))
    blocks: list[Block] = [KeyValues(rows)]

    blocks.append(Heading(ctx.text("goal.architecture")))
    arch = presented.get("architecture")
    stored = reader.get("/recommendation/architecture")
    if not arch and not stored:
        blocks.append(not_measured(ctx, "goal.architecture", ctx.text("goal.no_architecture")))
        return blocks
    shape = (stored or {}).get("shape", "")
    name = arch["name"] if arch else ctx.pick((stored or {}).get("name"))
    shape_name = arch["shape"] if arch else ctx.pick((stored or {}).get("shape_name"))
    blocks.append(
        Paragraph(ctx.phrase("goal.architecture_line", name=name, shape=shape_name), "lead")
    )
    drawing = architecture_svg(shape, lambda key: ctx.text(f"diagram.{key}"))
    if drawing is not None:
        blocks.append(Diagram(drawing, caption=shape_name))
    if arch:
        blocks.append(
            KeyValues(
                [
                    (ctx.text("goal.how"), arch["description"]),
                    (ctx.text("goal.labels"), arch["label_format"]),
                    (ctx.text("goal.labeling_effort"), arch["labeling_effort"]),
                    (ctx.text("goal.losses"), ", ".join(arch["losses"])),
                    (ctx.text("goal.metrics"), ", ".join(arch["metrics"])),
                    (ctx.text("goal.backbones"), ", ".join(arch["backbones"])),
                ]
            )
        )
    diagnosis = advice_items(ctx, "diagnosis")
    if diagnosis:
        blocks.append(Heading(ctx.text("goal.diagnosis")))
        blocks.append(ItemList(diagnosis))
    return blocks
