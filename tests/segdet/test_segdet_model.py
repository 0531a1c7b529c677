"""The segmentation encoder carries the bundled pretrained weights; its stages split."""

import pytest
import timm
import torch

from engines.backbones import BackboneUnavailable
from engines.segmentation.model import (
    SegmentationNet,
    create_decoder,
    create_encoder,
    forward_stages,
    is_staged,
)


def test_bundled_lite0_weights_load_into_the_features_only_encoder(lite0_encoder, lite0_full):
    encoder, cfg = lite0_encoder
    source = lite0_full.state_dict()
    target = encoder.state_dict()
    assert len(target) == 288
    for key, tensor in target.items():
        assert torch.equal(tensor, source[key]), key
    random = timm.create_model(
        "efficientnet_lite0", pretrained=False, features_only=True, out_indices=(1, 2, 3, 4)
    )
    assert not torch.equal(random.conv_stem.weight, encoder.conv_stem.weight)
    assert cfg["mean"] == (0.5, 0.5, 0.5)  # the bundled port's preprocessing
    assert "bundled" in encoder.pretrained_cfg["source"]


def test_encoder_outputs_match_the_classifier_and_split_at_any_stage(lite0_encoder, lite0_full):
    encoder, _ = lite0_encoder
    full = lite0_full
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        feats = encoder(x)
        ref = full.blocks[:3](full.bn1(full.conv_stem(x)))
        assert [f.shape[1] for f in feats] == [24, 40, 112, 320]
        assert [64 // f.shape[-1] for f in feats] == [4, 8, 16, 32]
        torch.testing.assert_close(feats[1], ref)  # stride 8 = after blocks[2]
        assert is_staged(encoder)
        for k in (1, 3, 5):
            x_k, before = forward_stages(encoder, x, -1, k, [])
            _, after = forward_stages(encoder, x_k, k, len(encoder.blocks), before)
            for a, b in zip(after, feats, strict=True):
                torch.testing.assert_close(a, b)


def test_segmentation_net_gives_logits_at_the_input_size():
    encoder, _ = create_encoder("test_efficientnet")
    net = SegmentationNet(encoder, create_decoder(encoder, 3, channels=16)).eval()
    with torch.inference_mode():
        out = net(torch.randn(2, 3, 64, 96))
    assert out.shape == (2, 3, 64, 96)


def test_unknown_backbone_is_refused_with_a_reason():
    with pytest.raises(BackboneUnavailable, match="not a timm model"):
        create_encoder("no_such_backbone")
