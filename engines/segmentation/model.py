"""A light segmentation network: a pretrained timm encoder and a small FPN decoder.

Encoder: ``timm.create_model(name, features_only=True, out_indices=(1, 2, 3, 4))``, the
feature maps at strides 4, 8, 16 and 32. Its weights come from the same place as the
classification backbone (:func:`engines.backbones.create_backbone`: the bundled
offline packages, or the Hub): the classifier's state dict is loaded into the
features-only encoder by name, and every encoder tensor must be found there with the
same shape, so a mismatch fails loudly instead of training from random weights.

Decoder: the semantic-segmentation branch of Panoptic FPN (Kirillov, Girshick, He &
Dollár 2019, "Panoptic Feature Pyramid Networks", CVPR), slimmed for CPUs: lateral
1x1 convolutions, a top-down pathway (Lin et al. 2017, "Feature Pyramid Networks for
Object Detection", CVPR), one 3x3 convolution per level, upsampling to stride 4, sum,
and a 1x1 classifier whose logits are upsampled bilinearly to the input size.

For EfficientNet-style encoders (``conv_stem``/``bn1``/``blocks``) the forward pass can
be split after any stage, so the frozen part of a partial fine-tune is computed once
and cached (see :mod:`engines.segmentation.train`).
"""

from __future__ import annotations

from typing import Any

import timm
import torch
import torch.nn.functional as F
from torch import nn

from engines.backbones import BackboneUnavailable, create_backbone, data_config

OUT_INDICES = (1, 2, 3, 4)


def create_encoder(name: str, pretrained: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """Build a features-only timm encoder carrying the backbone's pretrained weights.

    Args:
        name: A bundled backbone (offline), any timm name (Hub) or a ``test_*`` model.
        pretrained: Load pretrained weights.

    Returns:
        ``(encoder, data_cfg)``: the encoder (eval mode) returning four feature maps,
        and the preprocessing of its weights (:func:`engines.backbones.data_config`).

    Raises:
        BackboneUnavailable: Unknown name, weights unreachable, a model timm cannot
            build as a feature pyramid, or weights that do not fit the encoder.

    """
    full = create_backbone(name, pretrained=pretrained)
    cfg = data_config(full)
    try:
        encoder: Any = timm.create_model(
            name, pretrained=False, features_only=True, out_indices=OUT_INDICES
        )
    except (RuntimeError, ValueError, TypeError, AssertionError) as exc:
        raise BackboneUnavailable(
            f"{name!r} cannot serve as a segmentation encoder (timm gives no feature "
            f"pyramid at strides 4-32 for it: {exc}). Use a convolutional backbone such "
            "as efficientnet_lite0."
        ) from exc
    source = full.state_dict()
    target = encoder.state_dict()
    missing = [k for k in target if k not in source]
    wrong = [k for k in target if k in source and source[k].shape != target[k].shape]
    if missing or wrong:
        bad = (missing + wrong)[:3]
        raise BackboneUnavailable(
            f"The weights of {name!r} do not fit its features-only encoder "
            f"({len(missing)} tensors missing, {len(wrong)} of another shape, e.g. "
            f"{', '.join(bad)}): this timm version builds the encoder differently."
        )
    encoder.load_state_dict({k: source[k] for k in target}, strict=True)
    encoder.pretrained_cfg = dict(getattr(full, "pretrained_cfg", {}) or {})
    return encoder.eval(), cfg


def is_staged(encoder: nn.Module) -> bool:
    """Whether the encoder's forward can be split after a stage (EfficientNet-style)."""
    return (
        all(hasattr(encoder, a) for a in ("conv_stem", "bn1", "blocks", "_stage_out_idx"))
        and getattr(encoder, "feature_hooks", None) is None
    )


def forward_stages(
    encoder: Any, x: torch.Tensor, start: int, stop: int, feats: list[torch.Tensor]
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run stages ``start .. stop - 1`` of a staged encoder, collecting pyramid outputs.

    Stage ``-1`` is the stem; stage ``i >= 0`` is ``encoder.blocks[i]``.

    Args:
        encoder: A staged encoder (:func:`is_staged`).
        x: The input of stage ``start`` (the image when ``start == -1``).
        start: First stage to run (-1 for the stem).
        stop: Stage to stop before (``len(encoder.blocks)`` for the whole encoder).
        feats: Pyramid outputs collected so far (not modified).

    Returns:
        ``(x, feats)``: the output of the last stage run, and the pyramid outputs
        collected so far, in order.

    """
    feats = list(feats)
    out_idx = encoder._stage_out_idx
    if start <= -1:
        x = encoder.bn1(encoder.conv_stem(x))
        if 0 in out_idx:
            feats.append(x)
        start = 0
    for i in range(start, stop):
        x = encoder.blocks[i](x)
        if i + 1 in out_idx:
            feats.append(x)
    return x, feats


class _ConvBnAct(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class FPNDecoder(nn.Module):
    """Top-down feature pyramid and a Panoptic-FPN-style semantic head (slimmed)."""

    def __init__(self, in_channels: list[int], num_classes: int, channels: int = 32) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels)
        self.smooth = nn.ModuleList(_ConvBnAct(channels, channels) for _ in in_channels)
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, feats: list[torch.Tensor], out_size: tuple[int, int]) -> torch.Tensor:
        """Class logits at ``out_size`` from the four pyramid feature maps."""
        laterals = [lat(f) for lat, f in zip(self.lateral, feats, strict=True)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(
                laterals[i], size=laterals[i - 1].shape[-2:], mode="nearest"
            )
        base = laterals[0].shape[-2:]
        merged = None
        for i, (sm, lat) in enumerate(zip(self.smooth, laterals, strict=True)):
            y = sm(lat)
            if i:
                y = F.interpolate(y, size=base, mode="bilinear", align_corners=False)
            merged = y if merged is None else merged + y
        logits = self.classifier(merged)
        return F.interpolate(logits, size=out_size, mode="bilinear", align_corners=False)


class SegmentationNet(nn.Module):
    """Encoder + FPN decoder, returning class logits at the input resolution."""

    def __init__(self, encoder: nn.Module, decoder: FPNDecoder) -> None:
        super().__init__()
        self.encoder: Any = encoder  # a timm features-only model
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes, H, W)`` for images ``(N, 3, H, W)``."""
        return self.decoder(self.encoder(x), x.shape[-2:])


def create_decoder(encoder: Any, num_classes: int, channels: int = 32) -> FPNDecoder:
    """A new, randomly initialised decoder fitted to the encoder's feature channels."""
    return FPNDecoder(list(encoder.feature_info.channels()), num_classes, channels)


def encoder_stride(encoder: Any) -> int:
    """Largest reduction of the encoder's outputs (input sides must be multiples of it)."""
    return int(max(encoder.feature_info.reduction()))
