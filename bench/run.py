"""Benchmark of the whole validation against the plain reference script.

Measures, on a dataset given by path or generated for a quick run, in one process
session (the upload figures in child processes, for their peak memory):

* upload + profile: seconds and peak resident memory;
* image decode rate (decode + resize to the model's input);
* model forward rate and end-to-end feature extraction rate (decode included), each
  also as a fraction of the FLOP-bound rate: model FLOPs per image against this
  machine's matmul FLOP/s, measured in the same run;
* time to the first linear-probe result with its interval;
* time of the whole validation (``advisor.pipeline.validate``);

and the same for :mod:`bench.reference`, so every figure is also a ratio to it
(``ratio`` > 1: the engine is better by that factor). Prints a table and writes JSON
with every figure, the device, library versions, settings and the machine.

Usage::

    python -m bench.run                                   # generated sample, 120 photos
    python -m bench.run --data sample.zip --budget 120    # a client-like upload
    python -m bench.run --generate 240 --levers           # also every speed lever
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from bench.machine import describe_machine, library_versions, matmul_flops
from bench.timing import Phases, compare, load_average

DEFAULT_GENERATE = 120
DEFAULT_BUDGET = 60.0


@dataclass
class BenchData:
    """The dataset under test: where it is, and its split as the pipeline makes it."""

    source: Path
    generated: bool
    root: Path
    n_images: int
    n_classes: int
    train: list[tuple[Path, int]]
    val: list[tuple[Path, int]]
    class_names: list[str]
    size_bytes: int

    def sample_paths(self, n: int) -> list[Path]:
        """Up to ``n`` images spread evenly over the dataset (every class represented)."""
        every = [p for p, _ in self.train + self.val]
        if n >= len(every):
            return every
        step = len(every) / n
        return [every[int(i * step)] for i in range(n)]


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose the dataset and the device (shared with bench.levers)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--data", type=Path, help="zip or folder of class folders")
    group.add_argument(
        "--generate",
        type=int,
        metavar="N",
        help=f"generate N photos (default {DEFAULT_GENERATE} when no --data)",
    )
    parser.add_argument("--classes", type=int, default=6, help="classes of a generated sample")
    parser.add_argument(
        "--sides",
        type=int,
        nargs=2,
        default=(640, 1024),
        metavar=("MIN", "MAX"),
        help="longer side of generated photos, px",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))


def resolve_bench_device(choice: str) -> torch.device:
    """The device to measure on ("auto": CUDA when present, else the CPU).

    Raises:
        ValueError: If CUDA is asked for and there is none.

    """
    from engines.device import resolve_device

    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    return resolve_device(choice)


def resolve_data(args: argparse.Namespace, work: Path) -> BenchData:
    """Generate the sample if asked, then unpack, profile and split it like the pipeline.

    Raises:
        SystemExit: With a one-line message when the data cannot be used.

    """
    from advisor.pipeline import check_validatable, prepare_dataset
    from bench.dataset import generate_dataset
    from engines.intake import stratified_split

    if args.data is not None:
        source, generated = Path(args.data), False
        if not source.exists():
            raise SystemExit(
                f"error: {source} does not exist; give a zip or a folder of class folders."
            )
    else:
        n = args.generate if args.generate is not None else DEFAULT_GENERATE
        try:
            source = generate_dataset(
                work / "generated",
                n,
                n_classes=args.classes,
                min_side=args.sides[0],
                max_side=args.sides[1],
                seed=args.seed,
            )
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from exc
        generated = True
    try:
        prepared = prepare_dataset(source, work / "unpacked")
        check_validatable(prepared.profile)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from exc
    counts = prepared.profile.class_counts
    labeled = [
        r for r in prepared.index.records if r.label is not None and counts.get(r.label, 0) >= 2
    ]
    train, val = stratified_split(labeled, seed=args.seed)
    names = sorted({r.label for r in labeled})
    to_int = {name: i for i, name in enumerate(names)}
    size = (
        source.stat().st_size
        if source.is_file()
        else sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
    )
    return BenchData(
        source=source,
        generated=generated,
        root=prepared.root,
        n_images=len(labeled),
        n_classes=len(names),
        train=[(r.path, to_int[r.label]) for r in train],
        val=[(r.path, to_int[r.label]) for r in val],
        class_names=names,
        size_bytes=size,
    )


def write_json(doc: dict[str, Any], path: Path) -> Path:
    """Write a JSON document (folders created), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


def figure(
    engine: float | None,
    reference: float | None,
    unit: str,
    better: str,
    note: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """A measured figure with its reference value and the ratio between them.

    ``ratio`` is how many times better the engine is: reference / engine for figures
    where lower is better (seconds, memory), engine / reference where higher is.
    """
    ratio = None
    if engine is not None and reference is not None and engine > 0 and reference > 0:
        ratio = reference / engine if better == "lower" else engine / reference
    return {
        "engine": engine,
        "reference": reference,
        "ratio": round(ratio, 3) if ratio is not None else None,
        "unit": unit,
        "better": better,
        "note": note,
        **extra,
    }


# ---------------------------------------------------------------- measurements


def engine_runtime(device: torch.device, n_images: int) -> str:
    """The runtime ``extract_features(runtime="auto")`` picks for ``n_images`` new images."""
    from engines.features import ONNX_MIN_IMAGES, onnxruntime_available

    wanted = device.type == "cpu" and n_images >= ONNX_MIN_IMAGES
    return "onnxruntime" if wanted and onnxruntime_available() else "torch"


def measure_decode(
    paths: Sequence[Path], cfg: dict[str, Any], rounds: int, warmup: int = 1
) -> dict[str, Any]:
    """Decode + resize rate: the engine's threaded recipe against the reference's."""
    from bench.reference import reference_image
    from engines.features import DECODE_WORKERS, prepare_image

    def engine() -> None:
        with ThreadPoolExecutor(max_workers=DECODE_WORKERS) as pool:
            list(pool.map(lambda p: prepare_image(p, cfg), paths))

    result = compare(
        {"reference": lambda: [reference_image(p) for p in paths], "engine": engine},
        rounds=rounds,
        warmup=warmup,
    )
    return {k: {**v, "images_per_second": len(paths) / v["median_s"]} for k, v in result.items()}


def measure_forward(
    model: torch.nn.Module,
    reference_model: torch.nn.Module,
    size: int,
    batch: int,
    device: torch.device,
    rounds: int,
    warmup: int = 1,
    runtime: str = "torch",
) -> dict[str, Any]:
    """Model-only rate: the engine's batched pass against one image at a time."""
    from engines.features import OnnxForward

    x = torch.randn(batch, 3, size, size, device=device)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    onnx = OnnxForward(model, size, "bench") if runtime == "onnxruntime" else None

    def engine() -> None:
        if onnx is not None:
            onnx(x_cl, True)
            return
        with torch.inference_mode(), autocast:
            model.forward_head(model.forward_features(x_cl), pre_logits=True)

    def reference() -> None:
        for i in range(batch):
            with torch.no_grad():
                reference_model(x[i : i + 1])

    result = compare(
        {"reference": reference, "engine": engine}, rounds=rounds, warmup=warmup, device=device
    )
    out = {k: {**v, "images_per_second": batch / v["median_s"]} for k, v in result.items()}
    out["engine"]["runtime"] = runtime
    return out


def measure_extraction(
    model: torch.nn.Module,
    reference_model: torch.nn.Module,
    paths: Sequence[Path],
    cfg: dict[str, Any],
    device: torch.device,
    backbone: str,
    rounds: int,
    warmup: int = 1,
    n_dataset: int | None = None,
    work: Path | None = None,
) -> dict[str, Any]:
    """End-to-end feature rate (decode included), no cached features, both ways.

    The engine runs as inside one validation of the whole dataset: with the runtime
    ``extract_features`` picks for ``n_dataset`` images, a fresh feature cache per
    call (so its writes are counted and nothing is read back), and on ONNX Runtime the
    model exported once beforehand (the export is timed apart, as ``one_off_s``).
    """
    from bench.reference import reference_image
    from engines.features import OnnxForward, extract_features

    runtime = engine_runtime(device, n_dataset or len(paths))
    root = Path(tempfile.mkdtemp(prefix="bench-extract-", dir=work))
    one_off = 0.0
    if runtime == "onnxruntime":
        t0 = time.perf_counter()
        OnnxForward(model, cfg["input_size"], backbone, root / "seed")
        one_off = time.perf_counter() - t0

    def engine() -> None:
        fresh = Path(tempfile.mkdtemp(dir=root))
        if runtime == "onnxruntime":
            (fresh / "onnx").symlink_to(root / "seed" / "onnx", target_is_directory=True)
        extract_features(
            model,
            paths,
            cfg,
            device=device,
            model_key=backbone,
            cache_dir=fresh,
            with_logits=True,
            runtime=runtime,
        )

    def reference() -> None:
        for p in paths:
            with torch.no_grad():
                reference_model(reference_image(p).to(device).unsqueeze(0))

    try:
        result = compare(
            {"reference": reference, "engine": engine}, rounds=rounds, warmup=warmup, device=device
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    out = {k: {**v, "images_per_second": len(paths) / v["median_s"]} for k, v in result.items()}
    out["engine"].update(runtime=runtime, one_off_s=round(one_off, 3))
    return out


def run_reference(data: BenchData, device: torch.device) -> dict[str, Any]:
    """The plain script end to end: unzip and read the sample, then its linear probe."""
    from bench.reference import reference_linear_probe, reference_profile
    from engines.metrics import wilson_interval

    with tempfile.TemporaryDirectory(prefix="bench-reference-") as tmp:
        profile = reference_profile(data.source, Path(tmp))
        found = _suffix_index([p for p, _ in profile["items"]])
        train = [(found.get(_rel(p, data.root), p), y) for p, y in data.train]
        val = [(found.get(_rel(p, data.root), p), y) for p, y in data.val]
        probe = reference_linear_probe(train, val, device=device)
    low, high = wilson_interval(probe["n_correct"], probe["n_val"])
    return {
        "profile_seconds": profile["seconds"],
        **probe,
        "ci_low": low,
        "ci_high": high,
        "first_result_seconds": profile["seconds"] + probe["seconds_total"],
        "read_own_copy": all(_rel(p, data.root) in found for p, _ in data.train + data.val),
    }


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).name


def _suffix_index(paths: Sequence[Path]) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for p in paths:
        parts = Path(p).parts
        for k in range(1, len(parts) + 1):
            index.setdefault("/".join(parts[-k:]), Path(p))
    return index


def run_pipeline(
    data: BenchData, device: str, budget: float, cache_dir: Path, out_dir: Path
) -> dict[str, Any]:
    """The whole validation through its public entry, with the time of each stage."""
    from advisor.pipeline import validate
    from engines.results import RunConfig

    start = time.perf_counter()
    stages: dict[str, float] = {}
    first_probe: list[float] = []

    def progress(p: Any) -> None:
        now = time.perf_counter() - start
        stages.setdefault(p.stage, round(now, 3))
        metric = p.metric or {}
        if not first_probe and "accuracy" in metric and p.stage == "linear_probe":
            first_probe.append(now)

    config = RunConfig.create(budget_seconds=budget, device=device, cache_dir=cache_dir)
    result = validate(data.source, out_dir, config, progress=progress).to_json_dict()
    seconds = time.perf_counter() - start
    validation = result["validation"]
    experiments = validation.get("experiments", [])
    probe = next((e for e in experiments if e.get("strategy") == "linear_probe"), None)
    accuracy = probe["metrics"]["accuracy"] if probe else {}
    return {
        "seconds": seconds,
        "first_linear_probe_seconds": first_probe[0] if first_probe else None,
        "linear_probe_accuracy": accuracy.get("value"),
        "ci_low": accuracy.get("ci_low"),
        "ci_high": accuracy.get("ci_high"),
        "ci_method": accuracy.get("method"),
        "stage_first_seen_seconds": stages,
        "feature_extraction": validation.get("feature_extraction"),
        "experiments": [
            {
                "id": e.get("id"),
                "strategy": e.get("strategy"),
                "seconds": e.get("seconds"),
                "accuracy": (e.get("metrics") or {}).get("accuracy", {}).get("value"),
                "epochs": e.get("epochs"),
                "max_epochs": (e.get("config") or {}).get("max_epochs"),
                "stopped_by": e.get("stopped_by"),
                "cached_frozen_part": e.get("cached_frozen_part"),
            }
            for e in experiments
        ],
        "skipped": validation.get("skipped"),
        "learning_curve": validation.get("learning_curve") is not None,
        "backbone_ranking": [r.get("backbone") for r in validation.get("backbone_ranking") or []],
        "timings": result.get("timings"),
        "budget": validation.get("budget"),
    }


# ---------------------------------------------------------------- the whole benchmark


def measure_all(
    args: argparse.Namespace,
    lever_names: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run every measurement (and the named levers) and return the JSON document."""
    from bench.upload import measure_upload
    from engines.backbones import DEFAULT_BACKBONE, create_backbone, data_config
    from engines.deployment import count_flops
    from engines.features import DECODE_WORKERS

    started = datetime.now(UTC).isoformat(timespec="seconds")
    load_start = load_average()
    device = resolve_bench_device(args.device)
    backbone = DEFAULT_BACKBONE
    phases = Phases()
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        work = Path(tmp)
        log("preparing the dataset ...")
        with phases.phase("dataset"):
            data = resolve_data(args, work)
        log(
            f"  {data.n_images} images, {data.n_classes} classes, "
            f"{len(data.train)} train / {len(data.val)} held out"
        )

        log("measuring the matmul ceiling ...")
        sizes = tuple(args.matmul_sizes)
        with phases.phase("ceiling"):
            ceilings = {"float32": matmul_flops(device, torch.float32, sizes)}
            if device.type == "cuda":
                ceilings["bfloat16"] = matmul_flops(device, torch.bfloat16, sizes)
        engine_dtype = "bfloat16" if device.type == "cuda" else "float32"
        engine_ceiling = ceilings[engine_dtype]["flops_per_second"]
        reference_ceiling = ceilings["float32"]["flops_per_second"]

        with phases.phase("models"):
            model = create_backbone(backbone).to(device).eval()
            model = model.to(memory_format=torch.channels_last)
            cfg = data_config(model)
            flops = count_flops(model, cfg["input_size"], device)
            reference_model = create_backbone(backbone)
            reference_model.reset_classifier(0)
            reference_model = reference_model.eval().to(device)

        log("upload + profile (child processes) ...")
        with phases.phase("upload"):
            upload = {kind: measure_upload(kind, data.source) for kind in ("engine", "reference")}

        sample = data.sample_paths(args.rate_images)
        log(f"decode rate on {len(sample)} images ...")
        with phases.phase("decode"):
            decode = measure_decode(sample, cfg, args.rounds, args.warmup)
        log("forward rate ...")
        with phases.phase("forward"):
            forward = measure_forward(
                model,
                reference_model,
                cfg["input_size"],
                args.batch,
                device,
                args.rounds,
                args.warmup,
                engine_runtime(device, data.n_images),
            )
        log("feature extraction rate ...")
        with phases.phase("extraction"):
            extraction = measure_extraction(
                model,
                reference_model,
                sample,
                cfg,
                device,
                backbone,
                args.rounds,
                args.warmup,
                n_dataset=data.n_images,
                work=work,
            )
        del reference_model

        log("reference script (unzip, read, embed one by one, logistic regression) ...")
        with phases.phase("reference"):
            reference = run_reference(data, device)
        log(f"  {reference['first_result_seconds']:.1f} s, accuracy {reference['accuracy']:.3f}")

        log(f"whole validation (budget {args.budget:.0f} s) ...")
        with phases.phase("validation"):
            pipeline = run_pipeline(data, device.type, args.budget, work / "cache", work / "out")
        warm = None
        if args.warm:
            log("whole validation again, features cached ...")
            with phases.phase("validation_cached"):
                warm = run_pipeline(data, device.type, args.budget, work / "cache", work / "out2")
        levers = None
        if lever_names:
            from bench.levers import LeverContext, run_levers

            ctx = LeverContext(sample, device, model, cfg, args.rounds, args.batch, backbone)
            with phases.phase("levers"):
                levers = run_levers(ctx, lever_names, log)

    def flop_fraction(rate: float, ceiling: float) -> float:
        return rate * flops / ceiling

    fig: dict[str, dict[str, Any]] = {}
    fig["upload_profile_seconds"] = figure(
        upload["engine"]["seconds"],
        upload["reference"]["seconds"],
        "s",
        "lower",
        "unpack + scan + profile (engine) vs unzip + open every image (reference)",
    )
    work_mb = {
        k: max((v["peak_rss_work_mb"] or v["peak_rss_mb"]) - v["rss_after_imports_mb"], 0.1)
        for k, v in upload.items()
    }
    fig["upload_profile_peak_rss_mb"] = figure(
        upload["engine"]["peak_rss_mb"],
        upload["reference"]["peak_rss_mb"],
        "MB",
        "lower",
        "peak resident memory of a fresh process, imports included (both import torch; "
        "the reference also timm and scikit-learn, at the top, as a plain script does)",
    )
    fig["upload_profile_work_mb"] = figure(
        work_mb["engine"],
        work_mb["reference"],
        "MB",
        "lower",
        "peak while working minus resident memory after imports: the work's own memory",
    )
    fig["decode_images_per_second"] = figure(
        decode["engine"]["images_per_second"],
        decode["reference"]["images_per_second"],
        "images/s",
        "higher",
        f"decode + resize to the input; engine: prepare_image on {DECODE_WORKERS} threads",
    )
    fig["forward_images_per_second"] = figure(
        forward["engine"]["images_per_second"],
        forward["reference"]["images_per_second"],
        "images/s",
        "higher",
        f"model only; engine batch {args.batch} on "
        f"{forward['engine']['runtime']}, reference one by one on eager PyTorch",
    )
    fig["forward_flop_fraction"] = figure(
        flop_fraction(forward["engine"]["images_per_second"], engine_ceiling),
        flop_fraction(forward["reference"]["images_per_second"], reference_ceiling),
        "of FLOP-bound",
        "higher",
        "forward rate x FLOPs per image / matmul FLOP/s",
    )
    fig["feature_images_per_second"] = figure(
        extraction["engine"]["images_per_second"],
        extraction["reference"]["images_per_second"],
        "images/s",
        "higher",
        f"decode + forward, no cached features; engine runtime "
        f"{extraction['engine']['runtime']} (one-off export "
        f"{extraction['engine']['one_off_s']:.1f} s not included)",
    )
    fig["feature_flop_fraction"] = figure(
        flop_fraction(extraction["engine"]["images_per_second"], engine_ceiling),
        flop_fraction(extraction["reference"]["images_per_second"], reference_ceiling),
        "of FLOP-bound",
        "higher",
        "feature rate x FLOPs per image / matmul FLOP/s",
    )
    fig["first_linear_probe_seconds"] = figure(
        pipeline["first_linear_probe_seconds"],
        reference["first_result_seconds"],
        "s",
        "lower",
        "from the upload to the first held-out accuracy with its interval",
        engine_interval=[pipeline["ci_low"], pipeline["ci_high"]],
        reference_interval=[reference["ci_low"], reference["ci_high"]],
    )
    fig["linear_probe_accuracy"] = figure(
        pipeline["linear_probe_accuracy"],
        reference["accuracy"],
        "accuracy",
        "higher",
        "held-out accuracy of the first linear probe (engine: the pipeline's own split)",
    )
    fig["validation_seconds"] = figure(
        pipeline["seconds"],
        reference["first_result_seconds"],
        "s",
        "lower",
        "whole validation (fills its budget with more experiments); the reference stops "
        "after its one probe",
    )
    if warm is not None:
        fig["first_linear_probe_seconds_cached"] = figure(
            warm["first_linear_probe_seconds"],
            reference["first_result_seconds"],
            "s",
            "lower",
            "second validation of the same upload, features from the cache",
        )
    return {
        "benchmark": "feasibility-advisor validation speed",
        "created_at": started,
        "argv": sys.argv[1:],
        "figures": fig,
        "dataset": {
            "source": data.source.name,
            "generated": data.generated,
            "n_images": data.n_images,
            "n_classes": data.n_classes,
            "n_train": len(data.train),
            "n_val": len(data.val),
            "size_bytes": data.size_bytes,
            "rate_sample_images": len(sample),
        },
        "model": {"backbone": backbone, "flops_per_image": flops, "input_size": cfg["input_size"]},
        "ceiling": {"engine_dtype": engine_dtype, **ceilings},
        "settings": {
            "device": str(device),
            "budget_seconds": args.budget,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "rate_images": args.rate_images,
            "batch_size": args.batch,
            "decode_workers": DECODE_WORKERS,
            "torch_threads": torch.get_num_threads(),
            "matmul_sizes": list(sizes),
            "seed": args.seed,
            "generate": {"n": args.generate, "classes": args.classes, "sides": list(args.sides)}
            if data.generated
            else None,
        },
        "machine": describe_machine(device),
        "versions": library_versions(),
        "load_average": {"start": load_start, "end": load_average()},
        "phases": phases.records,
        "details": {
            "upload": upload,
            "decode": decode,
            "forward": forward,
            "extraction": extraction,
            "reference": reference,
            "pipeline": pipeline,
            "pipeline_cached": warm,
        },
        "levers": levers,
    }


def format_table(doc: dict[str, Any]) -> str:
    """The figures as an aligned text table."""
    rows = [("figure", "engine", "reference", "ratio", "unit")]
    for name, f in doc["figures"].items():
        rows.append(
            (
                name,
                _num(f["engine"]),
                _num(f["reference"]),
                f"x{f['ratio']:.2f}" if f["ratio"] is not None else "-",
                f["unit"],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    machine = doc["machine"]
    lines.append("")
    lines.append(
        f"device {machine['device']['name']}, {machine['cpu_count']} CPUs, "
        f"torch {doc['versions']['torch']}, load average "
        f"{doc['load_average']['start']} -> {doc['load_average']['end']}"
    )
    lines.append("ratio: how many times better the engine is than the plain reference")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m bench.run``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/<name>.json)")
    parser.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET,
        help="time budget of the whole validation, seconds",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timed rounds")
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed calls of each variant before the rounds"
    )
    parser.add_argument(
        "--rate-images", type=int, default=64, help="images used for the decode and feature rates"
    )
    parser.add_argument("--batch", type=int, default=32, help="engine batch for the forward rate")
    parser.add_argument("--matmul-sizes", type=int, nargs="+", default=[1024, 2048])
    parser.add_argument(
        "--warm", action="store_true", help="run the validation a second time on the feature cache"
    )
    parser.add_argument("--levers", action="store_true", help="also measure every lever")
    parser.add_argument("--levers-only", help="comma-separated levers (implies --levers)")
    parser.add_argument("--levers-skip", help="comma-separated levers to leave out")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the benchmark never downloads
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.budget <= 0 or args.rounds < 1 or args.rate_images < 1 or args.batch < 1:
        parser.error("--budget, --rounds, --rate-images and --batch must be positive.")
    if args.warmup < 0:
        parser.error("--warmup cannot be negative.")
    try:
        resolve_bench_device(args.device)
        lever_names = None
        if args.levers or args.levers_only:
            from bench.levers import resolve_levers

            lever_names = resolve_levers(args.levers_only, args.levers_skip)
    except ValueError as exc:
        parser.error(str(exc))
    doc = measure_all(args, lever_names or ())
    out = args.out or Path("bench/results") / f"{_default_name(doc)}.json"
    write_json(doc, out)
    print()
    print(format_table(doc))
    print(f"\nwrote {out}")
    return 0


def _default_name(doc: dict[str, Any]) -> str:
    device = doc["machine"]["device"]["type"]
    data = "generated" if doc["dataset"]["generated"] else Path(doc["dataset"]["source"]).stem
    return f"{device}-{data}-{doc['dataset']['n_images']}"


if __name__ == "__main__":
    raise SystemExit(main())
