"""The validation on every real labelled set: first evidence, strategies, budget, verdict.

For each set of the calibration suite (``shared/datasets/calibration/*.zip``) and the
magnetic tiles (images only; their masks are left out so the sample is a classification
one), in one process:

* the plain reference script's first result (unzip, read, embed, fit, score) and the
  engine's first linear-probe accuracy with its interval (progress callback of
  ``advisor.pipeline.validate``, from the call), and their ratio;
* the whole validation at the given budget (default 180 s), wall time from the call to
  result.json and the report written: which strategies were measured, each fine-tune
  against the lower bound of its own backbone's probe interval, the verdict, and the
  cost model's median relative error over the stages it predicted.

Usage::

    python -m bench.suite                                  # every set, 180 s each
    python -m bench.suite --sets cats_vs_dogs,magnetic_tiles --budget 180
    python -m bench.suite --no-reference                   # the engine only

Writes ``bench/results/suite-<device>.json`` (``--out``) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.machine import describe_machine
from bench.timing import load_average
from engines.device import resolve_device

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
MAGNETIC = "magnetic_tiles"


def available_sets(shared: Path = SHARED) -> dict[str, Path]:
    """Set name -> zip, for every calibration set and the magnetic tiles found."""
    sets = {p.stem: p for p in sorted((shared / "calibration").glob("*.zip"))}
    tiles = shared / "magnetic_tile_seg.zip"
    if tiles.exists():
        sets[MAGNETIC] = tiles
    return sets


def _images_only(zip_path: Path, work: Path) -> Path:
    """The magnetic tiles' class folders of images, without the masks."""
    out = work / "magnetic_tiles"
    with zipfile.ZipFile(zip_path) as z:
        for name in z.namelist():
            parts = name.split("/")
            if len(parts) == 4 and parts[1] == "images" and parts[3]:
                target = out / parts[2] / parts[3]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(name))
    return out


def run_engine(source: Path, out_dir: Path, budget: float, device: str) -> dict[str, Any]:
    """The whole validation through its public entry, timed from the call."""
    from advisor.intake import Intake
    from advisor.pipeline import validate
    from engines.results import RunConfig

    start = time.perf_counter()
    first: list[tuple[float, dict[str, float]]] = []

    def progress(p: Any) -> None:
        if not first and p.stage == "linear_probe" and p.metric and "accuracy" in p.metric:
            first.append((time.perf_counter() - start, dict(p.metric)))

    config = RunConfig.create(budget_seconds=budget, device=device)
    result = validate(
        source, out_dir, config, intake=Intake(task="classification"), progress=progress
    ).to_json_dict()
    wall = time.perf_counter() - start  # result.json and the report are written by then
    v = result["validation"]
    experiments = v["experiments"]
    probe = experiments[0]["metrics"]["accuracy"]
    # each fine-tune against the probe of its own backbone (from the ranking)
    own_probe = {r["backbone"]: r["linear_probe_accuracy"] for r in v["backbone_ranking"]}
    tuned = [
        {
            "strategy": e["strategy"],
            "accuracy": e["metrics"]["accuracy"]["value"],
            "ci_low": e["metrics"]["accuracy"]["ci_low"],
            "ci_high": e["metrics"]["accuracy"]["ci_high"],
            "epochs": e.get("epochs"),
            "best_epoch": e.get("best_epoch"),
            "image_size": e.get("image_size"),
            "seconds": e.get("seconds"),
            "backbone": e["backbone"],
            "own_probe": own_probe.get(e["backbone"], probe),
            "below_probe_lower_bound": e["metrics"]["accuracy"]["value"]
            < own_probe.get(e["backbone"], probe)["ci_low"],
        }
        for e in experiments[1:]
    ]
    rec = result["recommendation"]
    return {
        "wall_seconds": round(wall, 2),
        "first_evidence_seconds": round(first[0][0], 2) if first else None,
        "first_evidence": first[0][1] if first else None,
        "n_train": v["split"]["n_train"],
        "n_val": v["split"]["n_val"],
        "resize_mode": (v.get("preprocessing") or {}).get("resize_mode"),
        "strategies_measured": [e["strategy"] for e in experiments],
        "probe": {k: probe[k] for k in ("value", "ci_low", "ci_high")},
        "finetunes": tuned,
        "skipped": v.get("skipped"),
        "verdict": rec.get("verdict"),
        "verdict_reason": (rec.get("verdict_reason") or {}).get("en"),
        "advised_strategy": (rec.get("prior") or {}).get("strategy_id"),
        "budget": v.get("budget"),
        "timings": result.get("timings"),
        "device": v.get("device"),
    }


def run_reference_first(source: Path, device: str, work: Path) -> dict[str, Any]:
    """The plain script's first result on the same split the pipeline makes."""
    from bench.run import resolve_bench_device, resolve_data, run_reference

    args = argparse.Namespace(
        data=source, generate=None, classes=6, sides=(640, 1024), seed=0, device=device
    )
    data = resolve_data(args, work)
    ref = run_reference(data, resolve_bench_device(device))
    return {
        "first_result_seconds": round(ref["first_result_seconds"], 2),
        "accuracy": ref.get("accuracy"),
        "ci_low": ref.get("ci_low"),
        "ci_high": ref.get("ci_high"),
    }


def measure(
    names: Sequence[str], budget: float, device: str, reference: bool, log: Any = print
) -> dict[str, Any]:
    """Run the suite and return every figure."""
    sets = available_sets()
    unknown = [n for n in names if n not in sets]
    if unknown:
        raise SystemExit(f"error: unknown set {unknown[0]!r}; known: {', '.join(sets)}.")
    rows = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"bench-suite-{name}-") as tmp:
            work = Path(tmp)
            source = _images_only(sets[name], work) if name == MAGNETIC else sets[name]
            row: dict[str, Any] = {"set": name, "load_average_before": load_average()}
            if reference:
                log(f"{name}: reference script ...")
                row["reference"] = run_reference_first(source, device, work / "ref")
            log(f"{name}: validation at {budget:.0f} s ...")
            row["engine"] = run_engine(source, work / "out", budget, device)
            row["load_average_after"] = load_average()
            ref_first = (row.get("reference") or {}).get("first_result_seconds")
            eng_first = row["engine"]["first_evidence_seconds"]
            row["first_evidence_ratio"] = (
                round(ref_first / eng_first, 2) if ref_first and eng_first else None
            )
            rows.append(row)
            log(format_row(row, budget))
    return {
        "benchmark": "bench.suite",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "budget_seconds": budget,
        "device": device,
        "machine": describe_machine(resolve_device(device)),
        "rows": rows,
    }


HEADER = (
    "| set | images | first evidence s (reference s, ×) | strategies measured | "
    "probe [95% CI] | fine-tunes (≥ probe lower bound?) | wall s / budget | verdict | "
    "cost error (median) | load |\n|---|---|---|---|---|---|---|---|---|---|"
)


def format_row(row: dict[str, Any], budget: float) -> str:
    """One Markdown table row."""
    e = row["engine"]
    ref = row.get("reference") or {}
    first = f"{e['first_evidence_seconds']}"
    if ref:
        first += f" ({ref['first_result_seconds']}, {row['first_evidence_ratio']}×)"
    p = e["probe"]
    probe = f"{p['value']:.3f} [{p['ci_low']:.3f}, {p['ci_high']:.3f}]"
    tunes = (
        "; ".join(
            f"{t['strategy'].split('_')[0]} {t['accuracy']:.3f} vs probe "
            f"{t['own_probe']['value']:.3f} ({t['backbone'].replace('efficientnet_', '')}, "
            f"{t['epochs']} ep @{t['image_size']}, "
            f"{'no' if t['below_probe_lower_bound'] else 'yes'})"
            for t in e["finetunes"]
        )
        or "—"
    )
    skipped = [
        s["strategy"].split("_")[0]
        + (f" needs {s['estimated_seconds']:.0f} s" if s.get("estimated_seconds") else "")
        for s in e.get("skipped") or []
    ]
    if skipped:
        tunes += "; skipped: " + ", ".join(skipped)
    err = (e.get("budget") or {}).get("estimate_error_median")
    load = row.get("load_average_before") or ["?"]
    n = e["n_train"] + e["n_val"]
    return (
        f"| {row['set']} | {n} | {first} | {len(e['strategies_measured'])} | {probe} | "
        f"{tunes} | {e['wall_seconds']:.0f} / {budget:.0f} | {e['verdict']} | "
        f"{'—' if err is None else f'{err:.0%}'} | {load[0]} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sets", default=None, help="comma-separated set names (default: every set found)"
    )
    parser.add_argument("--budget", type=float, default=180.0)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.budget <= 0:
        parser.error("--budget must be positive.")
    names = args.sets.split(",") if args.sets else list(available_sets())
    if not names:
        raise SystemExit("error: no datasets found under shared/datasets.")
    doc = measure(names, args.budget, args.device, not args.no_reference)
    out = args.out or Path(__file__).parent / "results" / f"suite-{args.device}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1, default=str) + "\n", encoding="utf-8")
    print(HEADER)
    for row in doc["rows"]:
        print(format_row(row, args.budget))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
