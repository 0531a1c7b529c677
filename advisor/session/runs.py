"""Validation runs of an engagement, their results and reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor import store
from advisor.jobs import load_run_result
from advisor.run_config import run_config
from advisor.session.context import AppContext
from advisor.session.engagements import intake_for
from advisor.session.samples import current_sample
from engines.results import Result, dump_json


# --------------------------------------------------------------------------- runs
def start_validation(
    ctx: AppContext,
    engagement_id: int,
    budget_seconds: float,
    strategies: tuple[str, ...] | None = None,
    language: str | None = None,
) -> int:
    """Start a background validation of the engagement's latest sample; return the run id.

    The run's configuration is resolved from the settings and the consultant's
    choices here; the pipeline fills in what the recommendation and the target decide.

    Raises:
        ValueError: No sample yet, or a run of this engagement is still active.
        engines.results.ConfigError: A budget or strategy that cannot be used.

    """
    config = run_config(ctx.settings, budget_seconds=budget_seconds, strategies=strategies)
    active = ctx.jobs.active_run(engagement_id)
    if active is not None:
        raise ValueError(
            "A validation of this engagement is already running: wait for it or cancel it first."
        )
    sample = current_sample(ctx, engagement_id)
    if sample is None:
        raise ValueError("Upload a sample on the Data page first.")
    intake = intake_for(ctx, engagement_id, language)
    with store.open_session(ctx.engine) as session:
        latest = store.latest_recommendation(session, sample.dataset_id)
    return ctx.jobs.start(
        sample.dataset_id,
        source=sample.root,
        intake=intake,
        config=config,
        recommendation_id=int(latest.id or 0) if latest else None,
    )


def engagement_runs(ctx: AppContext, engagement_id: int) -> list[dict[str, Any]]:
    """The runs of an engagement, newest first: id, status, times, headline numbers."""
    with store.open_session(ctx.engine) as session:
        runs = store.list_runs(session, engagement_id=engagement_id)
    rows = []
    for run in runs:
        metrics = run.metrics or {}
        rows.append(
            {
                "id": int(run.id or 0),
                "status": run.status,
                "created_at": run.created_at,
                "seconds": run.seconds,
                "budget_seconds": (run.config or {}).get("budget_seconds"),
                "strategy": metrics.get("strategy"),
                "accuracy": metrics.get("accuracy"),
                "ci_low": metrics.get("ci_low"),
                "ci_high": metrics.get("ci_high"),
                "verdict": metrics.get("verdict"),
                "error": run.error,
            }
        )
    return rows


def latest_result(ctx: AppContext, engagement_id: int) -> tuple[int, Result] | None:
    """The newest finished run of an engagement and its result document, if any."""
    with store.open_session(ctx.engine) as session:
        runs = store.list_runs(session, engagement_id=engagement_id, statuses=("done",))
    for run in runs:
        result = load_run_result(ctx.data_dir, run)
        if result is not None:
            return int(run.id or 0), result
    return None


def run_result(ctx: AppContext, run_id: int) -> Result | None:
    """The result document of a run (None when it has none).

    Raises:
        advisor.store.NotFoundError: No such run.

    """
    with store.open_session(ctx.engine) as session:
        run = store.get_run(session, run_id)
    return load_run_result(ctx.data_dir, run)


@dataclass
class ReportFiles:
    """A run's report as the Report page offers it.

    Attributes:
        html: The self-contained HTML report.
        result_json: The run's result.json text.
        pdf: The PDF report, when it was asked for and could be made.
        pdf_error: Why there is no PDF (no Korean font, no WeasyPrint), if asked for.
        summary_html: The one-page client summary (HTML).
        summary_pdf: The one-page client summary as PDF, when the PDF was made.

    """

    html: str
    result_json: str
    pdf: bytes | None = None
    pdf_error: str | None = None
    summary_html: str = ""
    summary_pdf: bytes | None = None


def run_report(
    ctx: AppContext, engagement_id: int, run_id: int, language: str, *, pdf: bool = False
) -> ReportFiles:
    """Render a run's feasibility report, keep it with the engagement, return it.

    The files are written once per run and language under the engagement's reports
    folder and recorded in the store; later calls read them back. Thumbnails of the
    sample are embedded where its files are on this machine.

    Args:
        ctx: The app context.
        engagement_id: The engagement.
        run_id: A finished run of it.
        language: "ko" or "en".
        pdf: Also make (or read) the PDF.

    Returns:
        The report files.

    Raises:
        ValueError: The run has no result.

    """
    from advisor.report import (
        ReportOptions,
        build_report_model,
        render_html,
        render_pdf,
        render_summary_html,
        render_summary_pdf,
    )

    result = run_result(ctx, run_id)
    if result is None:
        raise ValueError(f"Run {run_id} has no result to report: run a validation first.")
    folder = store.reports_dir(ctx.data_dir, engagement_id)
    html_path = folder / f"run-{run_id}-{language}.html"
    pdf_path = html_path.with_suffix(".pdf")
    summary_path = folder / f"run-{run_id}-{language}-summary.html"
    summary_pdf_path = summary_path.with_suffix(".pdf")
    model = None

    def report_model() -> Any:
        nonlocal model
        if model is None:
            sample = current_sample(ctx, engagement_id)
            options = ReportOptions(image_root=sample.root if sample is not None else None)
            model = build_report_model(result.to_json_dict(), language, options)
        return model

    if not html_path.exists():
        _keep_report(
            ctx,
            engagement_id,
            run_id,
            html_path,
            render_html(report_model()).encode("utf-8"),
            "html",
        )
    if not summary_path.exists():
        _keep_report(
            ctx,
            engagement_id,
            run_id,
            summary_path,
            render_summary_html(report_model()).encode("utf-8"),
            "html",
        )
    files = ReportFiles(
        html=html_path.read_text("utf-8"),
        result_json=dump_json(result.to_json_dict()),
        summary_html=summary_path.read_text("utf-8"),
    )
    if pdf:
        try:
            for path, render in ((pdf_path, render_pdf), (summary_pdf_path, render_summary_pdf)):
                if not path.exists():
                    _keep_report(ctx, engagement_id, run_id, path, render(report_model()), "pdf")
        except RuntimeError as exc:  # no Korean font or no WeasyPrint: said how to fix
            files.pdf_error = str(exc)
            return files
        files.pdf = pdf_path.read_bytes()
        files.summary_pdf = summary_pdf_path.read_bytes()
    return files


def _keep_report(
    ctx: AppContext, engagement_id: int, run_id: int, path: Path, data: bytes, fmt: str
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    with store.open_session(ctx.engine) as session:
        store.record_report(session, engagement_id, fmt, path, ctx.data_dir, run_id=run_id)
