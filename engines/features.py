"""Pretrained features and ImageNet logits for a list of images, batched and cached.

Decoding runs in a thread pool (PIL releases the GIL while decoding and resizing) so
it overlaps with the forward passes; JPEGs are decoded at reduced scale where the
resize makes that invisible. Features are cached on disk per backbone, preprocessing
and image content, so a second look at the same sample costs nothing. On the CPU,
when ONNX Runtime is installed and enough images are to be embedded, the frozen
forward pass runs on ONNX Runtime (same numbers, several times faster than eager
PyTorch on the CPU; see bench/README.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from PIL import Image
from torch import nn

from engines.errors import EngineError
from engines.images import load_rgb
from engines.progress import CancelToken, Progress, ProgressCallback, ignore_progress

_RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}
DECODE_WORKERS = 2
"""Threads that decode and resize the next batches while the model runs on this one."""
PREPROCESSING = "draft-v1"
"""Version of :func:`prepare_image`'s pixel recipe; part of the feature cache key, so
features computed with another recipe are never mixed in."""


ONNX_MIN_IMAGES = 96
"""Fewest images to embed on the CPU for which exporting the model to ONNX Runtime pays
(the export takes a few seconds; a model exported before is reused from the cache)."""
RUNTIMES = ("auto", "torch", "onnxruntime")
_ONNX_OPSET = 17


@dataclass
class FeatureSet:
    """Pooled features (n x d) and ImageNet logits (n x 1000) of a list of images.

    ``seconds`` is the whole call; ``setup_seconds`` the part before the first image
    (cache lookups, opening the runtime), of which ``export_seconds`` went to exporting
    the model to ONNX (0 when an earlier export was reused or none was needed).
    """

    features: np.ndarray
    logits: np.ndarray | None
    seconds: float
    images_per_second: float
    cached: int
    runtime: str = "torch"
    setup_seconds: float = 0.0
    export_seconds: float = 0.0


def prepare_image(path: Path, cfg: dict[str, Any], *, draft: bool = True) -> np.ndarray:
    """Decode an image and resize/center-crop it as the backbone was trained.

    With ``cfg["resize_mode"] == "squash"`` the whole image is first resized into the
    square (see :func:`engines.images.choose_resize_mode`).

    A JPEG larger than needed is decoded at a reduced DCT scale first (Pillow's draft
    mode, never below the resize target), then resized as usual: on 640-1024 px photos
    this decodes about 1.7x faster and changes the pooled features of
    ``efficientnet_lite0`` by a cosine similarity of about 0.997 (bench/README.md).

    Args:
        path: Image file.
        cfg: Output of :func:`engines.backbones.data_config`.
        draft: Decode JPEGs at reduced scale, never smaller than the resize target;
            False decodes every pixel (slower, for comparison).

    Returns:
        uint8 array of shape (size, size, 3).

    """
    size = cfg["input_size"]
    scale_size = int(round(size / cfg["crop_pct"]))
    img = load_rgb(path, reduce_to=scale_size if draft else None)
    if cfg.get("resize_mode", "crop") == "squash":
        # The whole image into the square (elongated samples), then the usual centre
        # crop_pct, as the fine-tunes see it.
        img = img.resize(
            (scale_size, scale_size), _RESAMPLE.get(cfg["interpolation"], Image.Resampling.BICUBIC)
        )
        left = (scale_size - size) // 2
        return np.asarray(img.crop((left, left, left + size, left + size)), dtype=np.uint8)
    w, h = img.size
    ratio = scale_size / min(w, h)
    new_w, new_h = max(size, round(w * ratio)), max(size, round(h * ratio))
    img = img.resize((new_w, new_h), _RESAMPLE.get(cfg["interpolation"], Image.Resampling.BICUBIC))
    left, top = (new_w - size) // 2, (new_h - size) // 2
    img = img.crop((left, top, left + size, top + size))
    return np.asarray(img, dtype=np.uint8)


RESIZE_MODES = ("auto", "crop", "squash")


def with_resize_mode(cfg: dict[str, Any], mode: str, paths: Sequence[Path]) -> dict[str, Any]:
    """The preprocessing with the resize mode the sample needs.

    Args:
        cfg: Output of :func:`engines.backbones.data_config`.
        mode: "crop", "squash" or "auto" (chosen from the images' aspect ratios by
            :func:`engines.images.choose_resize_mode`).
        paths: The sample's images (read only for "auto").

    Returns:
        A copy of ``cfg``; ``resize_mode`` is set only for "squash", so features cached
        with the centre crop keep their cache key.

    Raises:
        ValueError: An unknown mode.

    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"Unknown resize mode {mode!r}: use {', '.join(RESIZE_MODES)}.")
    if mode == "auto":
        from engines.images import choose_resize_mode

        mode = choose_resize_mode(paths)
    out = {k: v for k, v in cfg.items() if k != "resize_mode"}
    if mode == "squash":
        out["resize_mode"] = "squash"
    return out


def to_tensor_batch(arrays: Sequence[np.ndarray], cfg: dict[str, Any]) -> torch.Tensor:
    """Stack uint8 HWC arrays into a normalised float NCHW batch (channels_last)."""
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"]).view(1, 3, 1, 1)
    return ((batch - mean) / std).contiguous(memory_format=torch.channels_last)


def file_digest(path: Path) -> str:
    """Content hash of a file (the cache key of its features)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class FeatureCache:
    """Features on disk, one small file per (backbone, preprocessing, image content)."""

    def __init__(self, root: str | Path, model_key: str, cfg: dict[str, Any]) -> None:
        tag = hashlib.blake2b(
            json.dumps([model_key, cfg, PREPROCESSING], sort_keys=True, default=str).encode(),
            digest_size=8,
        ).hexdigest()
        self.dir = Path(root) / f"{model_key}-{tag}"
        self.dir.mkdir(parents=True, exist_ok=True)

    def get(self, digest: str) -> tuple[np.ndarray, np.ndarray | None] | None:
        """Return cached (feature, logits) for an image digest, or None."""
        path = self.dir / f"{digest}.npz"
        if not path.exists():
            return None
        try:
            with np.load(path) as data:
                logits = data["logits"] if "logits" in data.files else None
                return data["feature"], logits
        except (OSError, ValueError, KeyError):
            return None  # a torn write: recompute

    def put(self, digest: str, feature: np.ndarray, logits: np.ndarray | None) -> None:
        """Store one image's feature (and logits) atomically."""
        tmp = self.dir / f".{digest}.tmp.npz"
        arrays: dict[str, Any] = (
            {"feature": feature} if logits is None else {"feature": feature, "logits": logits}
        )
        np.savez(tmp, **arrays)
        tmp.replace(self.dir / f"{digest}.npz")


def _forward(
    model: Any, batch: torch.Tensor, device: torch.device, with_logits: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    batch = batch.to(device, non_blocking=True)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    with torch.inference_mode(), autocast:
        fmap = model.forward_features(batch)
        pooled = model.forward_head(fmap, pre_logits=True)
        logits = model.get_classifier()(pooled) if with_logits else None
    feats = pooled.float().cpu().numpy()
    return feats, (logits.float().cpu().numpy() if logits is not None else None)


class PooledAndLogits(nn.Module):
    """A timm classifier's pooled features and ImageNet logits, as one graph to export."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        # A timm model: forward_features / forward_head / get_classifier are timm's API.
        self.model: Any = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled features and logits of a normalised batch."""
        pooled = self.model.forward_head(self.model.forward_features(x), pre_logits=True)
        return pooled, self.model.get_classifier()(pooled)


def onnxruntime_available() -> bool:
    """Whether ONNX Runtime and the ONNX exporter's package are installed."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))


def _weights_digest(model: nn.Module, input_size: int) -> str:
    h = hashlib.blake2b(digest_size=12)
    h.update(f"{input_size}:{_ONNX_OPSET}".encode())
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def onnx_model_path(
    model: nn.Module, input_size: int, model_key: str, cache_dir: str | Path | None
) -> Path | None:
    """Where the exported model is kept in a cache folder (None without one)."""
    if cache_dir is None:
        return None
    digest = _weights_digest(model, input_size)
    return Path(cache_dir) / "onnx" / f"{model_key}-{digest}.onnx"


class OnnxForward:
    """The frozen forward pass (pooled features and logits) on ONNX Runtime's CPU kernels.

    The model is exported once (legacy TorchScript exporter, dynamic batch axis) and,
    when a cache folder is given, the ``.onnx`` file is kept there under a digest of the
    weights, so later runs only open it. Outputs match eager PyTorch to float32
    rounding (bench: cosine 1.0, max difference about 1e-5).
    """

    def __init__(
        self, model: nn.Module, input_size: int, model_key: str, cache_dir: str | Path | None = None
    ) -> None:
        """Export (or reuse) the model and open an inference session.

        Args:
            model: A timm classifier in eval mode (on the CPU).
            input_size: Square input side.
            model_key: Name of the weights (part of the file name).
            cache_dir: Where exported models are kept; None exports in memory.

        Raises:
            EngineError: If ONNX Runtime is missing or the export fails.

        """
        import io
        import warnings

        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise EngineError(
                "ONNX Runtime is not installed: pip install onnxruntime onnx, or use the "
                "torch runtime."
            ) from exc
        path = onnx_model_path(model, input_size, model_key, cache_dir)
        started = time.monotonic()
        self.export_seconds = 0.0  # 0 when an earlier export was reused
        if path is not None and path.exists():
            data = path.read_bytes()
        else:
            buffer = io.BytesIO()
            net = PooledAndLogits(model).eval()
            example = torch.zeros(1, 3, input_size, input_size)
            try:
                with warnings.catch_warnings(), torch.no_grad():
                    warnings.simplefilter("ignore")
                    torch.onnx.export(
                        # The exporter writes to a file object too (its stub says path only).
                        net,
                        (example,),
                        buffer,  # type: ignore[arg-type]
                        dynamo=False,
                        opset_version=_ONNX_OPSET,
                        input_names=["x"],
                        output_names=["pooled", "logits"],
                        dynamic_axes={"x": {0: "n"}, "pooled": {0: "n"}, "logits": {0: "n"}},
                    )
            except Exception as exc:  # exporter missing or the graph unsupported
                raise EngineError(
                    f"Could not export {model_key} to ONNX ({type(exc).__name__}); use the "
                    "torch runtime."
                ) from exc
            data = buffer.getvalue()
            self.export_seconds = time.monotonic() - started
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(data)
                tmp.replace(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, torch.get_num_threads())
        self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])

    def __call__(
        self, batch: torch.Tensor, with_logits: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Pooled features (and logits) of a normalised NCHW batch."""
        x = batch.detach().cpu().contiguous().numpy()
        pooled, logits = self.session.run(None, {"x": x})
        return pooled.astype(np.float32), (logits.astype(np.float32) if with_logits else None)


def _usable(hit: tuple[np.ndarray, np.ndarray | None] | None, with_logits: bool) -> bool:
    """Whether a cache entry serves a call (one stored without logits does not, if asked)."""
    return hit is not None and (hit[1] is not None or not with_logits)


def uncached(
    paths: Sequence[Path],
    model_key: str,
    cfg: dict[str, Any],
    cache_dir: str | Path | None,
    with_logits: bool = True,
) -> list[Path]:
    """The images whose features ``extract_features`` would have to compute."""
    if cache_dir is None:
        return list(paths)
    cache = FeatureCache(cache_dir, model_key, cfg)
    return [p for p in paths if not _usable(cache.get(file_digest(p)), with_logits)]


def planned_runtime(device: torch.device, n_images: int) -> str:
    """The runtime ``extract_features(runtime="auto")`` picks for ``n_images`` new images.

    Lets a caller time a few images on the runtime the whole set will use (a small
    subset alone would run eager PyTorch).
    """
    return _choose_runtime("auto", device, n_images, exported=False)


def _choose_runtime(runtime: str, device: torch.device, n_todo: int, exported: bool) -> str:
    if runtime not in RUNTIMES:
        raise ValueError(f"Unknown runtime {runtime!r}: use one of {', '.join(RUNTIMES)}.")
    if runtime == "onnxruntime" and device.type != "cpu":
        raise ValueError(
            "The onnxruntime runtime runs on the CPU only: use device cpu or runtime torch."
        )
    if runtime != "auto":
        return runtime
    wanted = device.type == "cpu" and (exported or n_todo >= ONNX_MIN_IMAGES)
    return "onnxruntime" if wanted and onnxruntime_available() else "torch"


def extract_features(
    model: nn.Module,
    paths: Sequence[Path],
    cfg: dict[str, Any],
    *,
    device: torch.device,
    model_key: str,
    cache_dir: str | Path | None = None,
    batch_size: int = 32,
    with_logits: bool = True,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    stage: str = "features",
    runtime: str = "auto",
    clock: Callable[[], float] = time.monotonic,
) -> FeatureSet:
    """Compute pooled features (and ImageNet logits) for every image.

    Args:
        model: A timm model in eval mode, already on ``device``.
        paths: Images to embed, in order.
        cfg: Preprocessing, from :func:`engines.backbones.data_config`.
        device: Where the model runs.
        model_key: Name that identifies the weights (part of the cache key).
        cache_dir: Where to cache features; None disables caching.
        batch_size: Images per forward pass.
        with_logits: Also return the ImageNet classifier's logits.
        progress: Called after each batch.
        cancel: Checked between batches.
        stage: Stage name reported through ``progress``.
        runtime: "torch" (eager PyTorch), "onnxruntime" (CPU only) or "auto": ONNX
            Runtime on the CPU when it is installed and either at least
            :data:`ONNX_MIN_IMAGES` images need a forward pass or the model was
            exported to ``cache_dir`` before; else PyTorch. A failed export under
            "auto" falls back to PyTorch.
        clock: Monotonic clock the seconds are read from.

    Returns:
        The features in the order of ``paths``.

    Raises:
        ValueError: An unknown runtime, or "onnxruntime" on a GPU.
        EngineError: "onnxruntime" asked for but not installed or not exportable.

    """
    start = clock()
    n = len(paths)
    cache = FeatureCache(cache_dir, model_key, cfg) if cache_dir is not None else None
    digests = [file_digest(p) for p in paths] if cache is not None else [""] * n
    feats: list[np.ndarray | None] = [None] * n
    logits: list[np.ndarray | None] = [None] * n
    todo = []
    for i, digest in enumerate(digests):
        hit = cache.get(digest) if cache is not None else None
        if hit is not None and _usable(hit, with_logits):
            feats[i], logits[i] = hit
        else:
            todo.append(i)
    cached = n - len(todo)
    done = 0
    exported = False
    if todo and runtime == "auto" and device.type == "cpu" and cache_dir is not None:
        path = onnx_model_path(model, cfg["input_size"], model_key, cache_dir)
        exported = path is not None and path.exists()
    chosen = _choose_runtime(runtime, device, len(todo), exported) if todo else "torch"
    onnx_forward = None
    if chosen == "onnxruntime":
        try:
            onnx_forward = OnnxForward(model, cfg["input_size"], model_key, cache_dir)
        except EngineError:
            if runtime == "onnxruntime":
                raise
            chosen = "torch"
    setup_seconds = clock() - start
    with ThreadPoolExecutor(max_workers=DECODE_WORKERS) as pool:
        batches = [todo[k : k + batch_size] for k in range(0, len(todo), batch_size)]
        pending = pool.map(lambda idx: [prepare_image(paths[i], cfg) for i in idx], batches)
        for idx, arrays in zip(batches, pending, strict=True):
            if cancel is not None:
                cancel.raise_if_cancelled()
            batch = to_tensor_batch(arrays, cfg)
            if onnx_forward is not None:
                f, lg = onnx_forward(batch, with_logits)
            else:
                f, lg = _forward(model, batch, device, with_logits)
            for row, i in enumerate(idx):
                feats[i] = f[row]
                logits[i] = lg[row] if lg is not None else None
                if cache is not None:
                    cache.put(digests[i], f[row], logits[i])
            done += len(idx)
            elapsed = clock() - start
            rate = done / elapsed if elapsed > 0 else 0.0
            progress(
                Progress(
                    stage,
                    (cached + done) / max(n, 1),
                    f"Embedded {cached + done}/{n} images",
                    eta_seconds=(len(todo) - done) / rate if rate else None,
                )
            )
    seconds = clock() - start
    done_feats, done_logits = cast("list[np.ndarray]", feats), cast("list[np.ndarray]", logits)
    features = np.stack(done_feats).astype(np.float32) if n else np.zeros((0, 0), np.float32)
    logit_arr = np.stack(done_logits).astype(np.float32) if with_logits and n else None
    return FeatureSet(
        features,
        logit_arr,
        seconds,
        n / seconds if seconds > 0 else 0.0,
        cached,
        chosen,
        setup_seconds=setup_seconds,
        export_seconds=onnx_forward.export_seconds if onnx_forward is not None else 0.0,
    )
