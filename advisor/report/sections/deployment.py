"""Section 7: deployment: model size, latency, and what a lighter model would cost."""

from __future__ import annotations

from advisor.report.context import BuildContext
from advisor.report.model import Block, Cell, Heading, KeyValues, Paragraph, Table
from advisor.report.numbers import derive, join
from advisor.report.sections.common import not_measured

# Where the latency for each deployment target would be measured, by result key.
_TARGET_LATENCY = {"server_gpu": "latency_cuda", "cpu": "latency_cpu", "mobile": None}


def build(ctx: BuildContext) -> list[Block]:
    """Size, compute, latency on this run's hardware, and lighter alternatives."""
    reader, kb = ctx.reader, ctx.kb
    dep, ref = reader.section("deployment")
    target = reader.get("/intake/deployment")
    target_name = kb.format_value("deployment", target, ctx.language) if target else None
    if not isinstance(dep, dict) or ref is None:
        return [not_measured(ctx, "deploy.figures")]
    rows: list[tuple[str, Cell]] = [
        (ctx.text("deploy.target"), target_name or ctx.text("goal.not_stated")),
        (ctx.text("deploy.model"), str(dep.get("model", ""))),
        (ctx.text("deploy.parameters"), reader.num(join(ref, "parameters"), "params")),
        (ctx.text("deploy.flops"), reader.num(join(ref, "flops_per_image"), "flops")),
        (ctx.text("deploy.size"), reader.num(join(ref, "size_bytes"), "bytes")),
        (ctx.text("deploy.input_size"), reader.num(join(ref, "input_size"), "count")),
    ]
    device_name, _ = reader.find("/validation/device/name", "/environment/device/name")
    threads = reader.num(
        reader.find("/validation/device/threads", "/environment/device/threads")[1], "count"
    )
    latency_rows = []
    for key in sorted(k for k in dep if k.startswith("latency_")):
        lat = join(ref, key)
        median = reader.num(join(lat, "median_ms"), "ms")
        if median is None:
            continue
        latency_rows.append(
            [
                ctx.text(f"deploy.{key}")
                if key in ("latency_cpu", "latency_cuda", "latency_cuda_batch32")
                else key,
                reader.num(join(lat, "batch_size"), "count"),
                median,
                reader.num(join(lat, "p90_ms"), "ms"),
                reader.num(join(lat, "per_image_ms"), "ms"),
            ]
        )
    blocks: list[Block] = [KeyValues(rows)]
    if latency_rows:
        blocks.append(Heading(ctx.text("deploy.latency")))
        blocks.append(
            Table(
                [
                    ctx.text("deploy.where"),
                    ctx.text("deploy.batch"),
                    ctx.text("deploy.median"),
                    ctx.text("deploy.p90"),
                    ctx.text("deploy.per_image"),
                ],
                latency_rows,
                caption=ctx.phrase(
                    "deploy.machine",
                    device=str(device_name or "?"),
                    threads=threads or ctx.text("unknown"),
                ),
            )
        )
    wanted = _TARGET_LATENCY.get(str(target)) if target else None
    if target and (wanted is None or wanted not in dep):
        blocks.append(
            Paragraph(ctx.phrase("deploy.not_on_target", target=target_name or ""), "warning")
        )
    elif target:
        blocks.append(
            Paragraph(ctx.phrase("deploy.on_target_class", target=target_name or ""), "note")
        )
    blocks += _lighter(ctx, ref, str(dep.get("model", "")))
    return blocks


def _lighter(ctx: BuildContext, ref: str, model: str) -> list[Block]:
    reader = ctx.reader
    heading = Heading(ctx.text("deploy.lighter"))
    alternatives = [
        (a, p) for a, p in reader.items(join(ref, "alternatives")) if isinstance(a, dict)
    ]
    chosen = next((p for a, p in alternatives if a.get("backbone") == model), None)
    if chosen is None:
        return [heading, not_measured(ctx, "deploy.lighter")]
    chosen_flops = reader.num(join(chosen, "flops_per_image"), "flops")
    chosen_acc = reader.estimate(join(chosen, "linear_probe_accuracy"))
    rows = []
    for alt, p in alternatives:
        flops = reader.num(join(p, "flops_per_image"), "flops")
        acc = reader.estimate(join(p, "linear_probe_accuracy"))
        delta = None
        share = None
        if acc is not None and chosen_acc is not None:
            delta = derive(
                acc.value.value - chosen_acc.value.value,
                "delta",
                "accuracy − accuracy of the chosen model",
                acc.value,
                chosen_acc.value,
            )
        if flops is not None and chosen_flops is not None and chosen_flops.value:
            share = derive(
                flops.value / chosen_flops.value,
                "percent",
                "FLOPs / FLOPs of the chosen model",
                flops,
                chosen_flops,
            )
        rows.append([str(alt.get("backbone", "")), flops, share, acc, delta])
    if len(rows) < 2:
        return [heading, not_measured(ctx, "deploy.lighter", ctx.text("deploy.one_model"))]
    return [
        heading,
        Table(
            [
                ctx.text("ev.backbone"),
                ctx.text("ev.flops"),
                ctx.text("deploy.compute_share"),
                ctx.text("ev.probe_accuracy"),
                ctx.text("deploy.delta"),
            ],
            rows,
        ),
        Paragraph(ctx.text("deploy.lighter_note"), "note"),
    ]
