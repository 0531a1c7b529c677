"""Section 3: the data audit: amount, effective amount, balance, findings, samples."""

from __future__ import annotations

from advisor.report.charts import Bar, BarChart
from advisor.report.context import BuildContext
from advisor.report.images import embed, samples_from_folders
from advisor.report.model import (
    Block,
    Cell,
    ChartBlock,
    Gallery,
    Heading,
    Item,
    ItemList,
    KeyValues,
    Paragraph,
    Table,
    Thumbnail,
)
from advisor.report.numbers import Num, derive, pointer
from advisor.report.sections.common import count_of, not_measured

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def build(ctx: BuildContext) -> list[Block]:
    """The data audit blocks."""
    reader, kb, lang = ctx.reader, ctx.kb, ctx.language
    if not isinstance(reader.get("/profile"), dict):
        return [not_measured(ctx, "data.profile", ctx.text("data.no_profile"))]
    n_images = reader.num("/profile/n_images", "count")
    rows: list[tuple[str, Cell]] = [(ctx.text("data.n_images"), n_images)]
    _, eff_ref = reader.find("/profile/effective_n_images", "/profile/health/effective_n_images")
    rows.append(
        (ctx.text("data.effective"), reader.num(eff_ref, "count") or ctx.text("not_measured"))
    )
    claimed = reader.num("/intake/claimed_n_images", "count")
    if claimed is not None:
        rows.append((ctx.text("data.claimed"), claimed))
    band = reader.get("/profile/health/amount_band")
    if isinstance(band, str) and band in (kb.facts["amount"].values or {}):
        rows.append((ctx.text("data.amount"), kb.format_value("amount", band, lang)))
    data_type = reader.get("/profile/data_type")
    if data_type:
        rows.append((ctx.text("data.data_type"), kb.format_value("data_type", data_type, lang)))
    rows.append((ctx.text("data.n_classes"), reader.num("/profile/n_classes", "count")))
    rows.append((ctx.text("data.smallest"), reader.num("/profile/min_class_count", "count")))
    rows.append((ctx.text("data.imbalance"), reader.num("/profile/imbalance_ratio", "float")))
    skipped = reader.get("/profile/skipped", [])
    if isinstance(skipped, list):
        rows.append((ctx.text("data.skipped"), count_of("/profile/skipped", skipped)))
    blocks: list[Block] = [KeyValues(rows)]
    blocks += _balance(ctx, n_images)
    blocks += _splits(ctx)
    blocks += _image_stats(ctx)
    blocks += _findings(ctx)
    blocks += _samples(ctx)
    return blocks


def _balance(ctx: BuildContext, n_images: Num | None) -> list[Block]:
    reader = ctx.reader
    counts = reader.get("/profile/class_counts")
    if not isinstance(counts, dict) or not counts:
        return []
    total = sum(v for v in counts.values() if isinstance(v, int | float))
    bars: list[Bar] = []
    rows: list[list[Cell]] = []
    for name in counts:
        num = reader.num(pointer("profile", "class_counts", name), "count")
        if num is None:
            continue
        share = (
            derive(num.value / total, "percent", "class images / sum of class images", num)
            if total
            else None
        )
        bars.append(Bar(str(name), num))
        rows.append([str(name), num, share])
    chart = BarChart(
        "class-balance",
        ctx.text("data.balance"),
        ctx.text("data.images_axis"),
        bars,
        value_kind="count",
        horizontal=True,
    )
    return [
        Heading(ctx.text("data.balance")),
        ChartBlock(chart),
        Table([ctx.text("data.class"), ctx.text("data.images"), ctx.text("data.share")], rows),
    ]


def _splits(ctx: BuildContext) -> list[Block]:
    splits = ctx.reader.get("/profile/split_counts")
    if not isinstance(splits, dict) or not splits:
        return []
    rows: list[tuple[str, Cell]] = [
        (str(k), ctx.reader.num(pointer("profile", "split_counts", k), "count")) for k in splits
    ]
    return [Paragraph(ctx.text("data.splits_note"), "note"), KeyValues(rows)]


def _image_stats(ctx: BuildContext) -> list[Block]:
    reader = ctx.reader
    stats = reader.get("/profile/image_stats")
    if not isinstance(stats, dict) or not stats:
        return []
    rows: list[tuple[str, Cell]] = []
    for key in ("width", "height"):
        median = reader.num(f"/profile/image_stats/{key}/median", "count")
        if median is not None:
            rows.append((ctx.text(f"data.median_{key}"), median))
    for key in ("formats", "modes"):
        value = stats.get(key)
        if isinstance(value, dict) and value:
            rows.append(
                (
                    ctx.text(f"data.{key}"),
                    ", ".join(
                        f"{k} ({v:,})" if isinstance(v, int) else str(k) for k, v in value.items()
                    ),
                )
            )
    if not rows:
        return []
    return [Heading(ctx.text("data.images_heading")), KeyValues(rows)]


def _findings(ctx: BuildContext) -> list[Block]:
    findings = ctx.reader.get("/profile/health/findings")
    heading = Heading(ctx.text("data.findings"))
    if not isinstance(findings, list):
        return [heading, not_measured(ctx, "data.findings", ctx.text("data.no_health"))]
    items = []
    for f in sorted(
        (f for f in findings if isinstance(f, dict)),
        key=lambda f: SEVERITY_ORDER.get(f.get("severity", "info"), 3),
    ):
        severity = str(f.get("severity", "info"))
        items.append(
            Item(
                text=f"{ctx.finding(f, 'title')}: {ctx.finding(f, 'meaning')}",
                tag=ctx.text(f"severity.{severity}") if severity in SEVERITY_ORDER else severity,
                action=ctx.finding(f, "action"),
            )
        )
    if not items:
        return [heading, Paragraph(ctx.text("data.no_findings"))]
    return [heading, ItemList(items, show_sources=False)]


def _sample_paths(ctx: BuildContext) -> dict[str, list[str]]:
    """Sample image paths per class: listed in the result, else found under image_root."""
    stored = ctx.reader.get("/profile/samples")
    if isinstance(stored, dict) and stored:
        return {str(k): [str(p) for p in v][:3] for k, v in stored.items() if isinstance(v, list)}
    classes = list((ctx.reader.get("/profile/class_counts") or {}).keys())
    return samples_from_folders(ctx.options.image_root, classes, per_class=2)


def _samples(ctx: BuildContext) -> list[Block]:
    heading = Heading(ctx.text("data.samples"))
    opts = ctx.options
    if opts.max_thumbnails == 0:
        return []
    paths = _sample_paths(ctx)
    thumbs: list[Thumbnail] = []
    missing = 0
    for label, rels in paths.items():
        for rel in rels:
            if len(thumbs) >= opts.max_thumbnails:
                break
            uri = embed(opts.image_root, rel, opts.thumbnail_px)
            if uri is None:
                missing += 1
                continue
            thumbs.append(Thumbnail(rel, label, uri))
    if not thumbs:
        reason = (
            ctx.text("images.no_root") if opts.image_root is None else ctx.text("images.not_found")
        )
        return [heading, Paragraph(reason, "note")]
    return [heading, Gallery(thumbs, missing=missing)]
