"""The validation on every real labelled set: first evidence, strategies, budget, verdict.

For each set of the calibration suite (``shared/datasets/calibration/*.zip``) and the
magnetic tiles (images only; their masks are left out so the sample is a classification
one), in one process:

* the plain reference script's first result (unzip, read, embed, fit, score) and the
  engine's first linear-probe accuracy with its interval (progress callback of
  ``advisor.pipeline.validate``, from the call, the engines imported beforehand as the
  app does at start and as the reference imports its libraries before its timer), and
  their ratio;
* the whole validation at the given budget (default 180 s), wall time from the call to
  result.json and the report written: which strategies were measured, each fine-tune
  against the lower bound of its own backbone's probe interval, the verdict, and the
  cost model's median relative error over the stages it predicted.

Usage::

    python -m bench.suite                                  # every set, 180 s each
    python -m bench.suite --sets cats_vs_dogs,magnetic_tiles --budget 180
    python -m bench.suite --no-reference                   # the engine only
    python -m bench.suite --cold                           # each part in a fresh process
    python -m bench.suite --background-load 2              # two busy programs beside it

``--cold`` runs the reference and the engine of each set in fresh Python processes and
adds their first results timed from the process launch (interpreter start and imports
included). ``--background-load N`` keeps N other processes spinning on the CPU while
each set runs (a laptop in a meeting has other programs running).

Writes ``bench/results/suite-<device>.json`` (``--out``) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.machine import describe_machine
from bench.timing import load_average
from engines.device import resolve_device

LAUNCHED_AT = "BENCH_SUITE_LAUNCHED_AT"  # set for a child process: when it was launched
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
    """The whole validation through its public entry, timed from the call.

    The engines are imported, and the first backbone exported to ONNX into the run's
    (otherwise empty) feature cache, before the call, as in the app (its background probe
    does both while the consultant uploads) and as the reference script imports torch,
    timm and scikit-learn before its own timer; the cold figure, from the process
    launch, counts every import on both sides.
    """
    from advisor.intake import Intake
    from advisor.pipeline import validate
    from advisor.session import warm_validation_engines
    from engines.results import RunConfig

    cache = out_dir / "feature-cache"  # empty: every feature of the set is computed
    warm_validation_engines(cache, device)

    start = time.perf_counter()
    first: list[tuple[float, dict[str, float]]] = []

    launched = float(os.environ.get(LAUNCHED_AT, "nan"))
    first_from_launch: list[float] = []

    def progress(p: Any) -> None:
        if not first and p.stage == "linear_probe" and p.metric and "accuracy" in p.metric:
            first.append((time.perf_counter() - start, dict(p.metric)))
            first_from_launch.append(time.time() - launched)

    config = RunConfig.create(budget_seconds=budget, device=device, cache_dir=str(cache))
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
            "final_model": e.get("final_model"),
            "image_size": e.get("image_size"),
            "seconds": e.get("seconds"),
            "backbone": e["backbone"],
            "own_probe": own_probe.get(e["backbone"], probe),
            "below_probe_lower_bound": e["metrics"]["accuracy"]["value"]
            < own_probe.get(e["backbone"], probe)["ci_low"],
        }
        for e in experiments
        if e["strategy"] != "linear_probe"
    ]
    rec = result["recommendation"]
    return {
        "wall_seconds": round(wall, 2),
        "first_evidence_seconds": round(first[0][0], 2) if first else None,
        "first_evidence": first[0][1] if first else None,
        "first_evidence_from_launch_seconds": (
            round(first_from_launch[0], 2) if first_from_launch and launched == launched else None
        ),
        "n_train": v["split"]["n_train"],
        "n_val": v["split"]["n_val"],
        "resize_mode": (v.get("preprocessing") or {}).get("resize_mode"),
        "strategies_measured": list(dict.fromkeys(e["strategy"] for e in experiments)),
        "probes": {
            e["backbone"]: {k: e["metrics"]["accuracy"][k] for k in ("value", "ci_low", "ci_high")}
            for e in experiments
            if e["strategy"] == "linear_probe"
        },
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


@contextmanager
def background_load(n: int) -> Iterator[None]:
    """Keep ``n`` other processes spinning on the CPU for the duration of the block."""
    spin = "while True: pass"
    procs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def run_cold(part: str, name: str, budget: float, device: str, work: Path) -> dict[str, Any]:
    """One part ("reference" or "engine") of one set in a fresh Python process.

    The child records its first result from the moment it was launched, so the
    interpreter start and every import are counted.
    """
    out = work / f"{part}.json"
    env = {**os.environ, LAUNCHED_AT: repr(time.time())}
    cmd = [sys.executable, "-m", "bench.suite", "--child", part, "--sets", name]
    cmd += ["--budget", str(budget), "--device", device, "--out", str(out)]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text(encoding="utf-8"))


def _child(part: str, name: str, budget: float, device: str, out: Path) -> None:
    launched = float(os.environ[LAUNCHED_AT])
    sets = available_sets()
    with tempfile.TemporaryDirectory(prefix=f"bench-suite-{name}-") as tmp:
        work = Path(tmp)
        source = _images_only(sets[name], work) if name == MAGNETIC else sets[name]
        if part == "reference":
            doc = run_reference_first(source, device, work / "ref")
            doc["first_result_from_launch_seconds"] = round(time.time() - launched, 2)
        else:
            doc = run_engine(source, work / "out", budget, device)
    out.write_text(json.dumps(doc, default=str), encoding="utf-8")


def measure(
    names: Sequence[str],
    budget: float,
    device: str,
    reference: bool,
    log: Any = print,
    cold: bool = False,
    load: int = 0,
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
            row: dict[str, Any] = {"set": name, "background_load": load}
            with background_load(load):
                row["load_average_before"] = load_average()
                if reference:
                    log(f"{name}: reference script ...")
                    row["reference"] = (
                        run_cold("reference", name, budget, device, work)
                        if cold
                        else run_reference_first(source, device, work / "ref")
                    )
                log(f"{name}: validation at {budget:.0f} s ...")
                row["engine"] = (
                    run_cold("engine", name, budget, device, work)
                    if cold
                    else run_engine(source, work / "out", budget, device)
                )
                row["load_average_after"] = load_average()
            ref_first = (row.get("reference") or {}).get("first_result_seconds")
            eng_first = row["engine"]["first_evidence_seconds"]
            row["first_evidence_ratio"] = (
                round(ref_first / eng_first, 2) if ref_first and eng_first else None
            )
            if cold:
                ref_cold = (row.get("reference") or {}).get("first_result_from_launch_seconds")
                eng_cold = row["engine"]["first_evidence_from_launch_seconds"]
                row["first_evidence_cold_ratio"] = (
                    round(ref_cold / eng_cold, 2) if ref_cold and eng_cold else None
                )
            rows.append(row)
            log(format_row(row, budget))
    return {
        "benchmark": "bench.suite",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "budget_seconds": budget,
        "device": device,
        "machine": describe_machine(resolve_device(device)),
        "cold_processes": cold,
        "background_load": load,
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
    if e.get("first_evidence_from_launch_seconds") is not None:
        first += (
            f"; cold {e['first_evidence_from_launch_seconds']}"
            f" ({ref.get('first_result_from_launch_seconds')}, "
            f"{row.get('first_evidence_cold_ratio')}×)"
        )
    p = e["probe"]
    probe = f"{p['value']:.3f} [{p['ci_low']:.3f}, {p['ci_high']:.3f}]"
    tunes = (
        "; ".join(
            f"{t['strategy'].split('_')[0]} {t['accuracy']:.3f} vs probe "
            f"{t['own_probe']['value']:.3f} ({t['backbone'].replace('efficientnet_', '')}, "
            f"{t['epochs']} ep @{t['image_size']}, "
            f"{'ended as its probe, ' if t.get('final_model') == 'linear_probe' else ''}"
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
    parser.add_argument(
        "--cold", action="store_true", help="run each part in a fresh process, timed from launch"
    )
    parser.add_argument(
        "--background-load", type=int, default=0, metavar="N", help="busy processes beside it"
    )
    parser.add_argument("--child", choices=("reference", "engine"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.budget <= 0:
        parser.error("--budget must be positive.")
    if args.background_load < 0:
        parser.error("--background-load must be 0 or more.")
    if args.child:
        if args.out is None or not args.sets:
            parser.error("--child needs --sets NAME and --out FILE.")
        _child(args.child, args.sets, args.budget, args.device, args.out)
        return 0
    names = args.sets.split(",") if args.sets else list(available_sets())
    if not names:
        raise SystemExit("error: no datasets found under shared/datasets.")
    doc = measure(
        names,
        args.budget,
        args.device,
        not args.no_reference,
        cold=args.cold,
        load=args.background_load,
    )
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
