"""Speed levers of feature extraction and fine-tuning, each measured before and after.

Every lever answers one question ("does decoding JPEGs at reduced scale pay here?")
with the same work timed both ways in interleaved rounds (:func:`bench.timing.compare`),
so that bursts from other processes hit both sides. A lever that changes numbers
(reduced-scale decoding, bf16, another runtime) also reports how much the features
move (cosine similarity to the baseline's). Its verdict:

* ``pays``: the variant is at least 5 % faster (median of the per-round ratios) and
  faster in at least two thirds of the rounds, without moving the features
  (cosine >= 0.99 where measured);
* ``costs``: at least 5 % slower in at least two thirds of the rounds;
* ``no clear gain``: anything in between (within the noise of this machine);
* ``changes the features``: faster or not, the features moved too much to swap in.

A lever with a one-off cost (compiling, exporting, caching) also reports the number
of images after which it has paid for itself.

Usage::

    python -m bench.levers --generate 64            # every lever on a generated sample
    python -m bench.levers --data sample.zip --only draft_decode,batch_size
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import math
import multiprocessing
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.timing import compare, load_average, time_repeats
from engines.backbones import DEFAULT_BACKBONE, create_backbone, data_config
from engines.features import (
    DECODE_WORKERS,
    ONNX_MIN_IMAGES,
    OnnxForward,
    PooledAndLogits,
    extract_features,
    onnxruntime_available,
    prepare_image,
    to_tensor_batch,
)

PAYS_AT = 1.05
COSINE_FLOOR = 0.99


@dataclass
class LeverContext:
    """What every lever measures on.

    Attributes:
        paths: Images for the decoding levers (a sample of the dataset).
        device: Where the model runs.
        model: The backbone in eval mode on ``device``, channels_last.
        cfg: Its preprocessing.
        rounds: Timed rounds per comparison.
        batch_size: The engine's batch size (the baseline of the batch levers).
        backbone: The backbone's name.

    """

    paths: list[Path]
    device: torch.device
    model: nn.Module
    cfg: dict[str, Any]
    rounds: int = 5
    batch_size: int = 32
    backbone: str = DEFAULT_BACKBONE


def verdict(speedup: float | None, wins: int, rounds: int, cosine: float | None = None) -> str:
    """Classify a measured lever (see the module docstring for the thresholds)."""
    if speedup is None:
        return "not measured"
    if cosine is not None and cosine < COSINE_FLOOR:
        return "changes the features"
    majority = math.ceil(2 * rounds / 3)
    if speedup >= PAYS_AT and wins >= majority:
        return "pays"
    if speedup <= 1 / PAYS_AT and rounds - wins >= majority:
        return "costs"
    return "no clear gain"


def break_even_images(
    one_off_s: float, before_per_image: float, after_per_image: float
) -> float | None:
    """Images after which a one-off cost is repaid (None: it never is)."""
    saved = before_per_image - after_per_image
    return round(one_off_s / saved, 1) if saved > 0 else None


def _rates(result: dict[str, dict[str, Any]], images: int) -> dict[str, dict[str, Any]]:
    for row in result.values():
        row["images_per_second"] = round(images / row["median_s"], 2)
    return result


def _pooled(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model.forward_head(model.forward_features(x), pre_logits=True)


def _cosine(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> dict[str, float]:
    ta, tb = torch.as_tensor(np.asarray(a, np.float32)), torch.as_tensor(np.asarray(b, np.float32))
    cos = torch.nn.functional.cosine_similarity(ta.flatten(1), tb.flatten(1))
    return {"mean": round(float(cos.mean()), 5), "min": round(float(cos.min()), 5)}


def _batch(ctx: LeverContext, n: int, channels_last: bool = True) -> torch.Tensor:
    size = ctx.cfg["input_size"]
    x = torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(0))
    x = x.to(ctx.device)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x.contiguous()


def _summary(
    name: str,
    question: str,
    result: dict[str, dict[str, Any]],
    rounds: int,
    engine: str,
    chosen: str | None = None,
    quality: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One lever's record: the variants, the best one and the verdict on it."""
    names = list(result)
    if chosen is None:
        chosen = max(names[1:], key=lambda k: result[k]["speedup_vs_first"] or 0.0)
    row = result[chosen]
    cosine = None
    if quality and chosen in quality and "cosine" in quality[chosen]:
        cosine = quality[chosen]["cosine"]["mean"]
    return {
        "lever": name,
        "question": question,
        "baseline": names[0],
        "variant": chosen,
        "speedup": row["speedup_vs_first"],
        "wins": row["wins_vs_first"],
        "rounds": rounds,
        "verdict": verdict(row["speedup_vs_first"], row["wins_vs_first"], rounds, cosine),
        "engine": engine,
        "variants": result,
        "quality": quality or {},
        **extra,
    }


# ---------------------------------------------------------------- decoding


def lever_draft_decode(ctx: LeverContext) -> dict[str, Any]:
    """Decode JPEGs at reduced DCT scale (Pillow draft mode) before the resize."""
    paths, cfg = ctx.paths, ctx.cfg
    result = compare(
        {
            "full_decode": lambda: [prepare_image(p, cfg, draft=False) for p in paths],
            "draft_decode": lambda: [prepare_image(p, cfg, draft=True) for p in paths],
        },
        rounds=ctx.rounds,
    )
    full = [prepare_image(p, cfg, draft=False) for p in paths]
    draft = [prepare_image(p, cfg, draft=True) for p in paths]
    with torch.inference_mode():
        fa = _pooled(ctx.model, to_tensor_batch(full, cfg).to(ctx.device)).float().cpu()
        fb = _pooled(ctx.model, to_tensor_batch(draft, cfg).to(ctx.device)).float().cpu()
    pixel_diff = float(
        np.mean([np.abs(a.astype(np.int16) - b).mean() for a, b in zip(full, draft, strict=True)])
    )
    quality = {
        "draft_decode": {
            "cosine": _cosine(fa, fb),
            "mean_abs_pixel_difference": round(pixel_diff, 3),
        }
    }
    engine_uses = bool(np.array_equal(prepare_image(paths[0], cfg), draft[0]))
    return _summary(
        "draft_decode",
        "Decode JPEGs at reduced scale (PIL draft mode) before resizing?",
        _rates(result, len(paths)),
        ctx.rounds,
        engine="prepare_image decodes at reduced scale"
        if engine_uses
        else "prepare_image decodes every pixel",
        quality=quality,
    )


def _decode_chunk(args: tuple[list[str], dict[str, Any]]) -> list[np.ndarray]:
    paths, cfg = args
    return [prepare_image(Path(p), cfg) for p in paths]


def lever_decode_workers(ctx: LeverContext) -> dict[str, Any]:
    """Decode with 1, 2 or 4 threads, or 2 worker processes."""
    paths, cfg = ctx.paths, ctx.cfg

    def threads(n: int) -> Callable[[], Any]:
        def run() -> list[np.ndarray]:
            with ThreadPoolExecutor(max_workers=n) as pool:
                return list(pool.map(lambda p: prepare_image(p, cfg), paths))

        return run

    t0 = time.perf_counter()
    pool = ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"))
    chunks = [([str(p) for p in paths[i::8]], cfg) for i in range(8)]
    list(pool.map(_decode_chunk, chunks))  # start the workers (imports) outside the timing
    start_s = time.perf_counter() - t0
    try:
        result = compare(
            {
                "serial": lambda: [prepare_image(p, cfg) for p in paths],
                "threads_2": threads(2),
                "threads_4": threads(4),
                "processes_2": lambda: list(pool.map(_decode_chunk, chunks)),
            },
            rounds=ctx.rounds,
        )
    finally:
        pool.shutdown()
    result = _rates(result, len(paths))
    return _summary(
        "decode_workers",
        "Decode in parallel threads or processes?",
        result,
        ctx.rounds,
        engine=f"extract_features decodes with {DECODE_WORKERS} threads, overlapping the "
        "forward passes",
        one_off_seconds={"processes_2": round(start_s, 2)},
    )


# ---------------------------------------------------------------- forward pass


def lever_channels_last(ctx: LeverContext) -> dict[str, Any]:
    """NHWC memory layout for the model and its input."""
    nhwc = ctx.model
    nchw = copy.deepcopy(nhwc).to(memory_format=torch.contiguous_format)
    x_cl, x_cf = _batch(ctx, ctx.batch_size, True), _batch(ctx, ctx.batch_size, False)

    def run(model: nn.Module, x: torch.Tensor) -> Callable[[], Any]:
        def go() -> None:
            with torch.inference_mode():
                model(x)

        return go

    result = compare(
        {"contiguous_nchw": run(nchw, x_cf), "channels_last": run(nhwc, x_cl)},
        rounds=ctx.rounds,
        device=ctx.device,
    )
    del nchw
    return _summary(
        "channels_last",
        "channels_last (NHWC) model and input?",
        _rates(result, ctx.batch_size),
        ctx.rounds,
        engine="to_tensor_batch returns channels_last; the validation converts the model",
    )


def lever_inference_mode(ctx: LeverContext) -> dict[str, Any]:
    """Forward with autograd on, under no_grad, or under inference_mode."""
    model, x = ctx.model, _batch(ctx, ctx.batch_size)

    def grad() -> None:
        model(x)

    def no_grad() -> None:
        with torch.no_grad():
            model(x)

    def inference() -> None:
        with torch.inference_mode():
            model(x)

    result = compare(
        {"no_grad": no_grad, "inference_mode": inference, "autograd_on": grad},
        rounds=ctx.rounds,
        device=ctx.device,
    )
    return _summary(
        "inference_mode",
        "inference_mode instead of no_grad (autograd on, for scale)?",
        _rates(result, ctx.batch_size),
        ctx.rounds,
        chosen="inference_mode",
        engine="extract_features runs under torch.inference_mode",
    )


def lever_batch_size(
    ctx: LeverContext, sizes: Sequence[int] = (1, 8, 16, 32, 64)
) -> dict[str, Any]:
    """Images per forward pass (the engine's batch size first)."""
    model = ctx.model
    ordered = [ctx.batch_size] + [s for s in sizes if s != ctx.batch_size]
    inputs = {s: _batch(ctx, s) for s in ordered}
    autocast = _engine_autocast(ctx.device)

    def run(s: int) -> Callable[[], Any]:
        def go() -> None:
            with torch.inference_mode(), autocast():
                model(inputs[s])

        return go

    raw = compare({f"batch_{s}": run(s) for s in ordered}, rounds=ctx.rounds, device=ctx.device)
    # Batches differ in size: compare time per image, not per call.
    base = raw[f"batch_{ctx.batch_size}"]["median_s"] / ctx.batch_size
    for s in ordered:
        row = raw[f"batch_{s}"]
        row["images_per_second"] = round(s / row["median_s"], 2)
        row["speedup_vs_first"] = round(base / (row["median_s"] / s), 3)
        row["wins_vs_first"] = None
    best = max(ordered, key=lambda s: raw[f"batch_{s}"]["images_per_second"])
    speedup = raw[f"batch_{best}"]["speedup_vs_first"]
    return {
        "lever": "batch_size",
        "question": "Which batch size runs fastest here?",
        "baseline": f"batch_{ctx.batch_size}",
        "variant": f"batch_{best}",
        "speedup": speedup,
        "wins": None,
        "rounds": ctx.rounds,
        "verdict": ("pays" if speedup >= PAYS_AT else "no clear gain")
        if best != ctx.batch_size
        else "engine default is the fastest",
        "engine": f"ValidationConfig.batch_size = {ctx.batch_size}",
        "variants": raw,
        "quality": {},
        "note": "per-image medians of interleaved rounds; wins are not comparable across "
        "batch sizes",
    }


def lever_torch_threads(ctx: LeverContext) -> dict[str, Any]:
    """Intra-op threads of the forward pass: all cores against one.

    On a machine shared with other busy processes, OpenMP threads that wait for each
    other at every operator can lose more than the extra core brings.
    """
    if ctx.device.type != "cpu":
        return _unavailable("torch_threads", "a CPU setting")
    model, x = ctx.model, _batch(ctx, ctx.batch_size)
    all_threads = torch.get_num_threads()

    def run(n: int) -> Callable[[], Any]:
        def go() -> None:
            torch.set_num_threads(n)
            try:
                with torch.inference_mode():
                    model(x)
            finally:
                torch.set_num_threads(all_threads)

        return go

    result = compare(
        {f"threads_{all_threads}": run(all_threads), "threads_1": run(1)}, rounds=ctx.rounds
    )
    return _summary(
        "torch_threads",
        "One intra-op thread instead of one per core?",
        _rates(result, ctx.batch_size),
        ctx.rounds,
        engine=f"resolve_device('cpu') sets {all_threads} threads (one per core)",
    )


def lever_extraction_threads(ctx: LeverContext) -> dict[str, Any]:
    """End-to-end extraction with intra-op threads x decode threads.

    Decoding threads and the forward pass's OpenMP threads share the cores; this
    measures ``extract_features`` (decode included, no cache) for each combination.
    """
    if ctx.device.type != "cpu":
        return _unavailable("extraction_threads", "a CPU setting")
    import engines.features as features

    all_threads = torch.get_num_threads()
    default_workers = features.DECODE_WORKERS

    def run(torch_threads: int, workers: int) -> Callable[[], Any]:
        def go() -> None:
            torch.set_num_threads(torch_threads)
            features.DECODE_WORKERS = workers
            try:
                extract_features(
                    ctx.model,
                    ctx.paths,
                    ctx.cfg,
                    device=ctx.device,
                    model_key=ctx.backbone,
                    cache_dir=None,
                    batch_size=ctx.batch_size,
                    runtime="torch",
                )
            finally:
                torch.set_num_threads(all_threads)
                features.DECODE_WORKERS = default_workers

        return go

    combos = [(all_threads, default_workers), (1, default_workers), (1, 1), (all_threads, 1)]
    combos = list(dict.fromkeys(combos))
    result = compare({f"torch_{t}_decode_{w}": run(t, w) for t, w in combos}, rounds=ctx.rounds)
    return _summary(
        "extraction_threads",
        "Intra-op and decode threads for extraction?",
        _rates(result, len(ctx.paths)),
        ctx.rounds,
        engine=f"{all_threads} intra-op threads, {default_workers} decode threads",
    )


def _engine_autocast(device: torch.device) -> Callable[[], Any]:
    """The autocast the engine uses on ``device`` (bf16 on CUDA, none elsewhere)."""
    if device.type == "cuda":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def lever_bf16_autocast(ctx: LeverContext) -> dict[str, Any]:
    """bfloat16 autocast of the forward pass (float32 baseline)."""
    model, x = ctx.model, _batch(ctx, ctx.batch_size)
    kind = ctx.device.type

    def fp32() -> torch.Tensor:
        with torch.inference_mode():
            return _pooled(model, x)

    def bf16() -> torch.Tensor:
        with torch.inference_mode(), torch.autocast(kind, dtype=torch.bfloat16):
            return _pooled(model, x)

    result = compare({"float32": fp32, "bf16_autocast": bf16}, rounds=ctx.rounds, device=ctx.device)
    quality = {"bf16_autocast": {"cosine": _cosine(fp32().float().cpu(), bf16().float().cpu())}}
    return _summary(
        "bf16_autocast",
        f"bfloat16 autocast on {kind}?",
        _rates(result, ctx.batch_size),
        ctx.rounds,
        quality=quality,
        engine="extract_features autocasts to bf16 on CUDA only",
    )


def lever_onnxruntime(ctx: LeverContext) -> dict[str, Any]:
    """ONNX Runtime (CPU execution provider) instead of eager PyTorch, forward only."""
    if ctx.device.type != "cpu":
        return _unavailable("onnxruntime", "measured on the CPU only (CPU execution provider)")
    if not onnxruntime_available():
        return _unavailable("onnxruntime", "onnxruntime and onnx are not installed")
    net = PooledAndLogits(ctx.model).eval()
    x = _batch(ctx, ctx.batch_size)
    t0 = time.perf_counter()
    onnx = OnnxForward(ctx.model, ctx.cfg["input_size"], ctx.backbone)
    onnx(x, True)
    one_off = time.perf_counter() - t0

    def eager() -> Any:
        with torch.inference_mode():
            return net(x)

    result = compare({"eager": eager, "onnxruntime": lambda: onnx(x, True)}, rounds=ctx.rounds)
    ref = eager()[0]
    got = onnx(x, True)[0]
    quality = {
        "onnxruntime": {
            "cosine": _cosine(ref, got),
            "max_abs_difference": float(np.abs(ref.numpy() - got).max()),
        }
    }
    result = _rates(result, ctx.batch_size)
    per = {k: v["median_s"] / ctx.batch_size for k, v in result.items()}
    return _summary(
        "onnxruntime",
        "ONNX Runtime for the frozen forward pass on the CPU?",
        result,
        ctx.rounds,
        quality=quality,
        engine=f"extract_features(runtime='auto') uses it on the CPU from {ONNX_MIN_IMAGES} "
        "images (or once exported to the cache)",
        one_off_seconds={"onnxruntime": round(one_off, 2)},
        break_even_images=break_even_images(one_off, per["eager"], per["onnxruntime"]),
    )


def lever_extraction_runtime(ctx: LeverContext) -> dict[str, Any]:
    """End-to-end extraction (decode included) on eager PyTorch against ONNX Runtime."""
    if ctx.device.type != "cpu":
        return _unavailable("extraction_runtime", "ONNX Runtime is measured on the CPU only")
    if not onnxruntime_available():
        return _unavailable("extraction_runtime", "onnxruntime and onnx are not installed")
    tmp = Path(tempfile.mkdtemp(prefix="bench-onnx-"))

    def extract(runtime: str) -> Callable[[], Any]:
        def go() -> Any:
            fresh = Path(tempfile.mkdtemp(dir=tmp))  # no cached features, but ...
            (fresh / "onnx").symlink_to(tmp / "seed" / "onnx", target_is_directory=True)
            return extract_features(
                ctx.model,
                ctx.paths,
                ctx.cfg,
                device=ctx.device,
                model_key=ctx.backbone,
                cache_dir=fresh,
                batch_size=ctx.batch_size,
                runtime=runtime,
            )

        return go

    try:
        t0 = time.perf_counter()  # ... the model exported once, as within one validation
        OnnxForward(ctx.model, ctx.cfg["input_size"], ctx.backbone, tmp / "seed")
        export_s = time.perf_counter() - t0
        result = compare(
            {"torch": extract("torch"), "onnxruntime": extract("onnxruntime")}, rounds=ctx.rounds
        )
        a, b = extract("torch")(), extract("onnxruntime")()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = _rates(result, len(ctx.paths))
    per = {k: v["median_s"] / len(ctx.paths) for k, v in result.items()}
    return _summary(
        "extraction_runtime",
        "Whole extraction on ONNX Runtime (model exported once)?",
        result,
        ctx.rounds,
        quality={"onnxruntime": {"cosine": _cosine(a.features, b.features)}},
        engine=f"runtime='auto': ONNX Runtime on the CPU from {ONNX_MIN_IMAGES} images",
        one_off_seconds={"onnxruntime": round(export_s, 2)},
        break_even_images=break_even_images(export_s, per["torch"], per["onnxruntime"]),
    )


def lever_torch_compile(ctx: LeverContext) -> dict[str, Any]:
    """torch.compile (inductor) of the forward pass."""
    net = PooledAndLogits(ctx.model).eval()
    x = _batch(ctx, ctx.batch_size)
    autocast = _engine_autocast(ctx.device)
    compiled = torch.compile(net)
    t0 = time.perf_counter()
    try:
        with torch.inference_mode(), autocast():
            compiled(x)
    except Exception as exc:  # no compiler, unsupported platform: report it
        return _unavailable("torch_compile", f"compile failed: {type(exc).__name__}: {exc}")
    one_off = time.perf_counter() - t0

    def run(m: nn.Module) -> Callable[[], Any]:
        def go() -> None:
            with torch.inference_mode(), autocast():
                m(x)

        return go

    result = _rates(
        compare(
            {"eager": run(net), "compiled": run(compiled)}, rounds=ctx.rounds, device=ctx.device
        ),
        ctx.batch_size,
    )
    per = {k: v["median_s"] / ctx.batch_size for k, v in result.items()}
    return _summary(
        "torch_compile",
        "torch.compile the forward pass?",
        result,
        ctx.rounds,
        engine="eager PyTorch",
        one_off_seconds={"compiled": round(one_off, 2)},
        break_even_images=break_even_images(one_off, per["eager"], per["compiled"]),
    )


# ---------------------------------------------------------------- caching


def lever_feature_cache(ctx: LeverContext) -> dict[str, Any]:
    """Features cached on disk by image content: a second look at the same sample."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    warm_dir = tmp / "warm"

    def extract(cache_dir: Path | None) -> Any:
        return extract_features(
            ctx.model,
            ctx.paths,
            ctx.cfg,
            device=ctx.device,
            model_key=ctx.backbone,
            cache_dir=cache_dir,
            batch_size=ctx.batch_size,
            runtime="torch",
        )

    try:
        extract(warm_dir)  # fills the warm cache (and is the warm-up of both variants)
        result = compare(
            {"no_cache": lambda: extract(None), "cache_hit": lambda: extract(warm_dir)},
            rounds=max(2, ctx.rounds // 2),
            warmup=0,
            device=ctx.device,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _summary(
        "feature_cache",
        "Cache features by image content hash?",
        _rates(result, len(ctx.paths)),
        max(2, ctx.rounds // 2),
        engine="extract_features caches by BLAKE2 content hash when given a cache_dir",
    )


def lever_frozen_cache(ctx: LeverContext, freeze_fraction: float = 0.6) -> dict[str, Any]:
    """Partial fine-tune: cache the frozen stages' output instead of recomputing it.

    One training step (forward, backward, AdamW) of the trainable top, fed either with
    images through the frozen stem and stages (recomputed every epoch) or with their
    cached output. Caching costs one frozen forward pass per image and view, once.
    """
    model = ctx.model
    if not all(hasattr(model, a) for a in ("conv_stem", "bn1", "blocks", "conv_head", "bn2")):
        return _unavailable("frozen_cache", "the backbone is not EfficientNet-shaped")
    stop = max(1, min(len(model.blocks) - 1, round(freeze_fraction * len(model.blocks))))
    prefix = nn.Sequential(model.conv_stem, model.bn1, *list(model.blocks)[:stop]).eval()
    work = nn.Sequential(*list(model.blocks)[stop:])
    top = copy.deepcopy(
        nn.Sequential(
            work,
            model.conv_head,
            model.bn2,
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(model.num_features, 10),
        )
    )
    top = top.to(ctx.device).train()
    optimizer = torch.optim.AdamW(top.parameters(), lr=1e-4)
    x = _batch(ctx, ctx.batch_size)
    y = torch.randint(0, 10, (ctx.batch_size,), device=ctx.device)
    with torch.inference_mode():
        cached = prefix(x)
    cached = cached.clone()
    loss_fn = nn.CrossEntropyLoss()

    def step(inputs: Callable[[], torch.Tensor]) -> Callable[[], Any]:
        def go() -> None:
            loss = loss_fn(top(inputs()), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return go

    def through_prefix() -> torch.Tensor:
        with torch.no_grad():
            return prefix(x)

    result = _rates(
        compare(
            {"recompute_frozen": step(through_prefix), "cached_frozen": step(lambda: cached)},
            rounds=ctx.rounds,
            device=ctx.device,
        ),
        ctx.batch_size,
    )
    one_off = time_repeats(through_prefix, repeats=3, device=ctx.device)
    per_image_cache = float(np.median(one_off)) / ctx.batch_size
    per = {k: v["median_s"] / ctx.batch_size for k, v in result.items()}
    saved = per["recompute_frozen"] - per["cached_frozen"]
    return _summary(
        "frozen_cache",
        f"Partial fine-tune: cache the frozen stem + {stop} stages?",
        result,
        ctx.rounds,
        engine="engines.finetune caches the frozen part for EfficientNet-shaped models",
        frozen_stages=stop,
        one_off_seconds_per_image_and_view=round(per_image_cache, 5),
        break_even_epochs=round(per_image_cache / saved, 2) if saved > 0 else None,
    )


def lever_gpu_large_batch(ctx: LeverContext) -> dict[str, Any]:
    """On a GPU: bf16 autocast with large batches against the float32 engine batch."""
    if ctx.device.type != "cuda":
        return _unavailable("gpu_large_batch", "needs a CUDA GPU")
    model = ctx.model
    sizes = (ctx.batch_size, 128, 256, 512)
    inputs = {s: _batch(ctx, s) for s in sizes}

    def run(s: int, bf16: bool) -> Callable[[], Any]:
        def go() -> None:
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
                model(inputs[s])

        return go

    variants = {f"fp32_batch_{ctx.batch_size}": run(ctx.batch_size, False)}
    variants.update({f"bf16_batch_{s}": run(s, True) for s in sizes})
    raw = compare(variants, rounds=ctx.rounds, device=ctx.device)
    base = raw[f"fp32_batch_{ctx.batch_size}"]["median_s"] / ctx.batch_size
    for name, row in raw.items():
        s = int(name.rsplit("_", 1)[1])
        row["images_per_second"] = round(s / row["median_s"], 2)
        row["speedup_vs_first"] = round(base / (row["median_s"] / s), 3)
        row["wins_vs_first"] = None
    best = max(list(raw)[1:], key=lambda k: raw[k]["images_per_second"])
    speedup = raw[best]["speedup_vs_first"]
    return {
        "lever": "gpu_large_batch",
        "question": "bf16 and large batches on the GPU?",
        "baseline": f"fp32_batch_{ctx.batch_size}",
        "variant": best,
        "speedup": speedup,
        "wins": None,
        "rounds": ctx.rounds,
        "verdict": "pays" if speedup >= PAYS_AT else "no clear gain",
        "engine": f"bf16 autocast on CUDA, batch {ctx.batch_size}",
        "variants": raw,
        "quality": {},
    }


def _unavailable(name: str, reason: str) -> dict[str, Any]:
    return {
        "lever": name,
        "verdict": "not measured",
        "reason": reason,
        "variants": {},
        "speedup": None,
    }


LEVERS: dict[str, Callable[[LeverContext], dict[str, Any]]] = {
    "draft_decode": lever_draft_decode,
    "decode_workers": lever_decode_workers,
    "channels_last": lever_channels_last,
    "inference_mode": lever_inference_mode,
    "batch_size": lever_batch_size,
    "torch_threads": lever_torch_threads,
    "extraction_threads": lever_extraction_threads,
    "bf16_autocast": lever_bf16_autocast,
    "onnxruntime": lever_onnxruntime,
    "extraction_runtime": lever_extraction_runtime,
    "torch_compile": lever_torch_compile,
    "feature_cache": lever_feature_cache,
    "frozen_cache": lever_frozen_cache,
    "gpu_large_batch": lever_gpu_large_batch,
}
"""Every lever, in the order they run (slow ones last but two)."""


def resolve_levers(only: str | None, skip: str | None) -> list[str]:
    """Names of the levers to run from comma-separated ``only`` / ``skip`` lists.

    Raises:
        ValueError: If a name is not a lever.

    """
    wanted = [n.strip() for n in only.split(",") if n.strip()] if only else list(LEVERS)
    skipped = {n.strip() for n in skip.split(",") if n.strip()} if skip else set()
    unknown = [n for n in [*wanted, *skipped] if n not in LEVERS]
    if unknown:
        raise ValueError(f"Unknown lever {unknown[0]!r}: use any of {', '.join(LEVERS)}.")
    return [n for n in wanted if n not in skipped]


def build_context(
    paths: Sequence[Path],
    device: torch.device,
    rounds: int = 5,
    batch_size: int = 32,
    backbone: str = DEFAULT_BACKBONE,
) -> LeverContext:
    """Load the backbone as the engine does and gather what the levers need."""
    model = create_backbone(backbone).to(device).eval().to(memory_format=torch.channels_last)
    return LeverContext(
        list(paths), device, model, data_config(model), rounds, batch_size, backbone
    )


def run_levers(
    ctx: LeverContext, names: Sequence[str], log: Callable[[str], None] = print
) -> list[dict[str, Any]]:
    """Measure the named levers; a lever that fails is recorded with its error."""
    records = []
    for name in names:
        t0 = time.perf_counter()
        load_before = load_average()
        log(f"lever {name} ...")
        try:
            record = LEVERS[name](ctx)
        except Exception as exc:  # one broken lever must not lose the others' numbers
            record = _unavailable(name, f"failed: {type(exc).__name__}: {exc}")
        record["seconds"] = round(time.perf_counter() - t0, 2)
        record["load_average"] = {"before": load_before, "after": load_average()}
        log(f"  {format_lever(record)}")
        records.append(record)
    return records


def format_lever(record: dict[str, Any]) -> str:
    """One line: lever, verdict, speed-up and the variant it is for."""
    if record.get("speedup") is None:
        return f"{record['lever']:<16} {record['verdict']}: {record.get('reason', '')}"
    extra = ""
    quality = record.get("quality", {}).get(record.get("variant"), {})
    if "cosine" in quality:
        extra = f", feature cosine {quality['cosine']['mean']:.4f}"
    if record.get("break_even_images") is not None:
        extra += f", repaid after {record['break_even_images']:.0f} images"
    return (
        f"{record['lever']:<16} {record['verdict']:<22} x{record['speedup']:.2f} "
        f"({record['baseline']} -> {record['variant']}{extra})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: measure the levers and write their JSON."""
    from bench.run import add_data_arguments, resolve_bench_device, resolve_data, write_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--only", help="comma-separated levers to run (default: all)")
    parser.add_argument("--skip", help="comma-separated levers to leave out")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timed rounds")
    parser.add_argument(
        "--images", type=int, default=64, help="images used by the decoding and cache levers"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/levers.json"))
    args = parser.parse_args(argv)
    try:
        names = resolve_levers(args.only, args.skip)
        device = resolve_bench_device(args.device)
    except ValueError as exc:
        parser.error(str(exc))
    with tempfile.TemporaryDirectory(prefix="bench-levers-") as tmp:
        data = resolve_data(args, Path(tmp))
        ctx = build_context(data.sample_paths(args.images), device, args.rounds)
        records = run_levers(ctx, names)
    write_json(
        {"levers": records, "device": str(device), "rounds": args.rounds, "images": len(ctx.paths)},
        args.out,
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
