"""A tiny segmentation run learns a planted signal; budget, cancel and errors behave."""

import base64
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from engines.intake import scan_dataset
from engines.progress import Cancelled, CancelToken
from engines.segmentation import (
    MaskError,
    SegmentationConfig,
    SegmentationDataError,
    run_segmentation_validation,
)
from engines.segmentation.data import decode_pairs
from engines.segmentation.masks import resolve_mask_encoding
from engines.segmentation.model import create_encoder
from engines.segmentation.train import cached_levels, train_segmentation
from tests.segdet.fixtures import square_sample


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    root = square_sample(
        tmp_path_factory.mktemp("seg") / "squares", n=24, size=64, groups=("left", "right")
    )
    index = scan_dataset(root)
    assert index.layout == "segmentation_masks"
    return index.records


def tiny(**kw):
    base = dict(
        backbone="test_efficientnet",
        image_size=64,
        max_epochs=8,
        batch_size=8,
        decoder_channels=16,
        budget_seconds=None,
        curve_fractions=(0.25, 0.5, 1.0),
        curve_repeats=1,
        n_boot=200,
        device="cpu",
        n_overlays=3,
    )
    return SegmentationConfig(**{**base, **kw})


def test_tiny_run_learns_the_planted_squares(squares):
    seen = []
    res = run_segmentation_validation(
        squares, None, tiny(strategies=("frozen_encoder", "full_finetune")), progress=seen.append
    )
    json.dumps(res)  # JSON-ready as it is
    assert res["classes"] == ["background", "foreground"]
    assert res["mask_encoding"]["encoding"] == "binary"
    assert res["split"]["n_val"] == 6 and res["split"]["n_train"] == 18
    for exp in res["experiments"]:
        m = exp["metrics"]
        assert m["dice"]["value"] >= 0.6, exp["strategy"]
        assert m["better_than_baseline"] is True
        assert m["dice"]["ci_low"] > m["baseline"]["dice"] + 0.2
        assert 0 <= m["iou"]["value"] <= m["dice"]["value"]
        assert [c["name"] for c in m["per_class"]] == ["background", "foreground"]
        assert [g["label"] for g in m["by_image_label"]] == ["left", "right"]
        assert sum(g["n_images"] for g in m["by_image_label"]) == 6
        assert exp["epochs"] >= 1 and exp["seconds"] > 0
    frozen, full = res["experiments"]
    assert frozen["cached_frozen_part"] and not full["cached_frozen_part"]
    assert frozen["trainable_parameters"] < full["trainable_parameters"]
    curve = res["learning_curve"]
    assert [p["n"] for p in curve["summary"]] == [4, 8, 18]  # stratified by image label
    assert curve["fit"] is not None and curve["fit"]["model"].startswith("dice")
    assert len(res["overlays"]) == 3
    png = Image.open(io.BytesIO(base64.b64decode(res["overlays"][0]["png_base64"])))
    assert png.format == "PNG" and png.width > png.height
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)


def test_palette_masks_with_named_classes_and_overlay_files(tmp_path):
    root = square_sample(tmp_path / "pal", n=12, size=64, palette=True, seed=3)
    records = scan_dataset(root).records
    cfg = tiny(
        strategies=("frozen_encoder",),
        learning_curve=False,
        max_epochs=4,
        output_dir=str(tmp_path / "out"),
        n_overlays=2,
    )
    res = run_segmentation_validation(records, ["background", "square"], cfg)
    assert res["mask_encoding"]["encoding"] == "index"
    assert res["classes"] == ["background", "square"]
    assert res["learning_curve"] is None
    paths = [o["path"] for o in res["overlays"]]
    assert len(paths) == 2 and all(Image.open(p).format == "PNG" for p in paths)


def test_same_seed_same_scores(squares):
    cfg = tiny(strategies=("frozen_encoder",), learning_curve=False, max_epochs=3, n_overlays=0)
    a = run_segmentation_validation(squares, None, cfg)["experiments"][0]["metrics"]
    b = run_segmentation_validation(squares, None, cfg)["experiments"][0]["metrics"]
    assert a["dice"] == b["dice"]


@pytest.fixture(scope="module")
def prepared(squares):
    encoder, cfg = create_encoder("test_efficientnet")
    spec = resolve_mask_encoding([r.mask_path for r in squares])
    pairs = decode_pairs(squares[:10], 64, spec)
    return encoder, cfg, pairs


def test_training_stops_at_the_budget(prepared):
    encoder, cfg, pairs = prepared
    trained = train_segmentation(
        encoder,
        cfg,
        pairs,
        np.arange(10),
        np.array([], int),
        2,
        "full_finetune",
        tiny(batch_size=2),
        device=torch.device("cpu"),
        budget_seconds=1e-3,
    )
    assert trained.epochs == 1 and trained.stopped_by == "budget"


def test_training_can_be_cancelled(prepared):
    encoder, cfg, pairs = prepared
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        train_segmentation(
            encoder,
            cfg,
            pairs,
            np.arange(10),
            np.array([], int),
            2,
            "partial_finetune",
            tiny(),
            device=torch.device("cpu"),
            budget_seconds=None,
            cancel=token,
        )


def test_partial_finetune_reuses_the_frozen_pyramid(prepared):
    encoder, cfg, pairs = prepared
    cache = {}
    views = ["identity", "hflip"]
    pyramid = cached_levels(encoder, cfg, pairs, views, None, torch.device("cpu"), cache)
    assert [lvl.shape[0] for lvl in pyramid] == [20] * 4 and len(cache) == 1
    partial = cached_levels(encoder, cfg, pairs, views, 3, torch.device("cpu"), cache)
    assert len(cache) == 1  # nothing recomputed
    assert partial[0] is pyramid[0] and partial[1] is pyramid[1] and partial[2] is pyramid[1]


def test_unusable_samples_raise_clear_errors(squares):
    with pytest.raises(SegmentationDataError, match="Only 3 images have a mask"):
        run_segmentation_validation(squares[:3], None, tiny())
    with pytest.raises(MaskError, match="binary"):
        run_segmentation_validation(squares, ["background", "a", "b"], tiny())
    with pytest.raises(ValueError, match="multiple of 32"):
        tiny(image_size=50)
    with pytest.raises(ValueError, match="Unknown segmentation strategy 'linear_probe'"):
        tiny(strategies=("linear_probe",))


def test_other_encoders_freeze_by_module_without_a_cache(squares):
    encoder, cfg = create_encoder("test_resnet")
    spec = resolve_mask_encoding([r.mask_path for r in squares])
    pairs = decode_pairs(squares[:8], 64, spec)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    trained = train_segmentation(
        encoder,
        cfg,
        pairs,
        np.arange(8),
        np.array([], int),
        2,
        "partial_finetune",
        tiny(max_epochs=1, freeze_stages=2),
        device=torch.device("cpu"),
        budget_seconds=None,
    )
    assert trained.cached_frozen_part is False
    assert trained.frozen_stages == 6  # conv1, bn1, act1, maxpool, layer1, layer2
    after = trained.net.encoder.state_dict()
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"layer3", "layer4"}  # frozen parts keep weights and BN statistics
    frozen = train_segmentation(
        encoder,
        cfg,
        pairs,
        np.arange(8),
        np.array([], int),
        2,
        "frozen_encoder",
        tiny(max_epochs=1),
        device=torch.device("cpu"),
        budget_seconds=None,
    )
    assert frozen.cached_frozen_part is True
    assert frozen.trainable_parameters == sum(p.numel() for p in frozen.net.decoder.parameters())
