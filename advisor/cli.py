"""Command line: the same pipeline as the app, headless.

Every failure a user can act on ends with exit status 2 and one line on stderr
saying what is wrong and what to do; unexpected failures exit 1 with one line, and
the traceback goes to a log file.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import traceback
from pathlib import Path

from advisor.cli_checks import OneLineParser, check_arguments
from engines.errors import UserError
from engines.results import STRATEGY_ORDER, Result

log = logging.getLogger("advisor")
USER_ERRORS = (UserError, ValueError, FileNotFoundError, PermissionError)


def _existing_path(value: str) -> Path:
    path = Path(value)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{value} does not exist: give a zip file or a folder.")
    return path


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds.") from None
    if number <= 0:
        raise argparse.ArgumentTypeError("the budget must be a positive number of seconds.")
    return number


STRATEGY_NAMES = tuple(s.value for s in STRATEGY_ORDER)


def _strategies(value: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [n for n in names if n not in STRATEGY_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown strategy {unknown[0] if unknown else value!r}: give a comma-separated "
            f"list of {', '.join(STRATEGY_NAMES)}."
        )
    return names


def _backbone_list(value: str) -> tuple[str, ...]:
    if value.strip().lower() == "none":
        return ()
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number.") from None
    if number > 1:
        number /= 100  # "90" means 90%
    if not 0 < number <= 1:
        raise argparse.ArgumentTypeError("the target accuracy must be between 0 and 1 (or %).")
    return number  # 1.0 (100%) is allowed: the advice says why it cannot be promised


def _intake_file(value: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise argparse.ArgumentTypeError(
            f"{value} is not a file: give a JSON file of the consultant's answers."
        )
    return path


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand documented."""
    parser = OneLineParser(
        prog="python -m advisor",
        description="Feasibility Advisor: profile a client's image sample, recommend an "
        "approach, validate it on the sample and export a feasibility report.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data_help = (
        "a zip file or folder laid out as class/*.jpg or split/class/*.jpg "
        "(split folders train/val/test are recognised)"
    )
    intake_help = (
        "JSON file of the consultant's answers: an object whose keys are those of "
        "result.json's 'intake' (task, data_type, claimed_n_images, domain_similarity, "
        "deployment, target_metric, target_value, label_quality, can_relabel, ...) plus "
        "wants_reinforcement_learning and pairs_can_be_synthesised (yes/no/unknown)"
    )
    p = sub.add_parser(
        "validate",
        help="profile, recommend, validate within a time budget; write result.json, the report "
        "and the one-page summary",
        description="Run the whole pipeline headless and write DIR/result.json, "
        "DIR/report.html and DIR/summary.html (and the PDFs where a PDF engine is installed).",
    )
    p.add_argument("data", type=_existing_path, metavar="DATA", help=data_help)
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--budget-seconds",
        type=_positive,
        default=180.0,
        metavar="N",
        help="wall-clock budget of the validation (default 180)",
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where to run: auto picks CUDA when present, else the CPU (default auto)",
    )
    p.add_argument("--backbone", default=None, help="backbone name (default: bundled offline)")
    p.add_argument("--seed", type=int, default=0, help="seed for split and bootstrap")
    p.add_argument(
        "--language",
        choices=("en", "ko"),
        default=None,
        help="report language (default: the intake's language, else en)",
    )
    p.add_argument("--cache-dir", type=Path, default=None, help="feature cache folder")
    p.add_argument(
        "--strategies",
        type=_strategies,
        default=None,
        metavar="LIST",
        help="strategies to compare, comma-separated (default: linear_probe,"
        "partial_finetune,full_finetune; fine-tunes run where the budget allows)",
    )
    p.add_argument(
        "--compare",
        type=_backbone_list,
        default=None,
        metavar="LIST",
        help="backbones to rank against the first, comma-separated, or 'none' "
        "(default: every bundled offline backbone)",
    )
    p.add_argument(
        "--target-accuracy",
        type=_fraction,
        default=None,
        metavar="P",
        help="the client's target accuracy (0.9 or 90), for the images-needed estimate; "
        "overrides target_value of --intake",
    )
    p.add_argument(
        "--intake", type=_intake_file, default=None, metavar="FILE.json", help=intake_help
    )
    p.add_argument(
        "--reference-images",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of images from the deployment site: measures the domain gap between "
        "them and the sample (the decks' domain-adaptation question)",
    )

    p = sub.add_parser(
        "profile",
        help="print the dataset profile as JSON",
        description="Unpack and check an upload and print its profile as JSON.",
    )
    p.add_argument("data", type=_existing_path, metavar="DATA", help=data_help)

    p = sub.add_parser(
        "recommend",
        help="print the recommendation for a dataset as JSON (no training)",
        description="Profile the data and print the recommendation, with the rules that "
        "fired, as JSON.",
    )
    p.add_argument("data", type=_existing_path, metavar="DATA", help=data_help)
    p.add_argument(
        "--intake", type=_intake_file, default=None, metavar="FILE.json", help=intake_help
    )

    p = sub.add_parser(
        "report",
        help="render report.html again from a result.json",
        description="Render the HTML report from an existing result.json.",
    )
    p.add_argument("result", type=_existing_path, metavar="RESULT_JSON")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--language", choices=("en", "ko"), default="en", help="report language")

    sub.add_parser(
        "backbones",
        help="list the backbones available offline",
        description="List the bundled backbones whose weights are installed.",
    )
    return parser


def _print_progress(p) -> None:  # noqa: ANN001 - engines.progress.Progress
    eta = f" (about {p.eta_seconds:.0f} s left)" if p.eta_seconds else ""
    print(f"[{p.fraction:5.0%}] {p.stage}: {p.message}{eta}", file=sys.stderr, flush=True)


def _print_summary(result: Result) -> None:
    validation = result.validation
    for exp in validation.experiments:
        acc = exp.accuracy
        interval = (
            f" [95% {acc.ci_low:.1%}–{acc.ci_high:.1%}]"
            if acc.ci_low is not None and acc.ci_high is not None
            else ""
        )
        print(
            f"{exp.strategy.value} ({exp.backbone}): accuracy {acc.value:.1%}{interval} "
            f"in {exp.seconds or 0:.1f} s"
        )
    for skipped in validation.skipped:
        print(f"{skipped.strategy.value}: not run ({skipped.reason})")
    sim = validation.similarity
    if sim is not None and sim.call and sim.score is not None:
        print(f"similarity to ImageNet: {sim.call} (score {sim.score:.2f})")
    fit = validation.learning_curve.fit if validation.learning_curve else None
    for pred in fit.predictions if fit else []:
        interval = (
            f" [95% {pred.ci_low:.1%}–{pred.ci_high:.1%}]"
            if pred.ci_low is not None and pred.ci_high is not None
            else ""
        )
        print(f"predicted accuracy with {pred.n} training images: {pred.value:.1%}{interval}")
    gap = validation.domain_gap
    if gap:
        print(f"proxy A-distance between the collections: {gap['pad']:.2f} ({gap['level']})")
    site = validation.site_gap
    if site:
        print(
            f"deployment-site images against the sample: gap {site['gap']:.2f} "
            f"[95% {site['ci_low']:.2f}–{site['ci_high']:.2f}] ({site['interpretation']})"
        )
    clusters = validation.clusters
    if clusters:
        print(f"natural groups: {clusters['k']} ({clusters['separability']} separation)")
    rec = result.recommendation
    verdict = rec.verdict.value if rec.verdict else "prior"
    print(f"recommendation: {rec.strategy_id} ({verdict})")


def _run(args: argparse.Namespace) -> int:
    from advisor import pipeline
    from advisor.intake import Intake

    answers = Intake.from_json_file(args.intake) if getattr(args, "intake", None) else None
    if args.command == "validate":
        from advisor.run_config import run_config

        intake = answers or Intake()
        if args.language is not None:
            intake.language = args.language
        if args.target_accuracy is not None:
            intake.target_value = args.target_accuracy
        config = run_config(
            budget_seconds=args.budget_seconds,
            device=args.device,
            backbone=args.backbone,
            seed=args.seed,
            cache_dir=args.cache_dir,
            strategies=args.strategies,
            compare_backbones=args.compare,
        )
        result = pipeline.validate(
            args.data,
            args.out,
            config,
            intake=intake,
            reference_images=args.reference_images,
            progress=_print_progress,
        )
        _print_summary(result)
        # the full report and the client's one-page summary, in each format written
        written = sorted(
            p.name for pattern in ("report.*", "summary.*") for p in Path(args.out).glob(pattern)
        )
        print(f"wrote {args.out / 'result.json'} and {', '.join(written)} in {args.out}")
        return 0
    if args.command in ("profile", "recommend"):
        with tempfile.TemporaryDirectory(prefix="fa-") as tmp:
            claimed = answers.claimed_n_images if answers is not None else None
            prepared = pipeline.prepare_dataset(args.data, Path(tmp), claimed_n_images=claimed)
            if args.command == "profile":
                data = prepared.profile.to_dict()
            else:
                data = pipeline.recommend_for(prepared, answers or Intake()).to_dict()
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    if args.command == "report":
        from advisor.report import write_report
        from advisor.result import load_result

        document = load_result(args.result).to_json_dict()
        path = write_report(document, args.out, language=args.language)
        print(f"wrote {path}")
        return 0
    if args.command == "backbones":
        from engines.backbones import available_backbones

        for info in available_backbones():
            print(f"{info.name}\t{info.source}\t{info.license}")
        return 0
    raise ValueError(f"Unknown command {args.command!r}.")


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0), or a refusal already printed as one line (2)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        check_arguments(args)
        return _run(args)
    except USER_ERRORS as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one place a traceback is kept off the screen
        log_path = Path(tempfile.gettempdir()) / "feasibility-advisor-error.log"
        log_path.write_text(traceback.format_exc(), encoding="utf-8")
        print(
            f"error: unexpected failure ({type(exc).__name__}: {exc}); details in {log_path}",
            file=sys.stderr,
        )
        return 1
