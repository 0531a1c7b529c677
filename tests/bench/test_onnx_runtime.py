"""The ONNX Runtime path of feature extraction gives the eager features, faster on CPUs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from engines.backbones import create_backbone, data_config  # noqa: E402
from engines.features import extract_features, onnx_model_path  # noqa: E402

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_backbone("test_efficientnet").eval().to(memory_format=torch.channels_last)


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    from tests.conftest import make_class_folders

    root = make_class_folders(tmp_path / "imgs", {"cat": 3, "coffee": 3}, size=96)
    return sorted(root.rglob("*.jpg"))


def test_onnxruntime_matches_eager(tiny_model, images, tmp_path: Path) -> None:
    cfg = data_config(tiny_model)
    eager = extract_features(
        tiny_model, images, cfg, device=CPU, model_key="tiny", batch_size=4, runtime="torch"
    )
    onnx = extract_features(
        tiny_model,
        images,
        cfg,
        device=CPU,
        model_key="tiny",
        batch_size=4,
        runtime="onnxruntime",
        cache_dir=tmp_path / "c",
    )
    assert eager.runtime == "torch" and onnx.runtime == "onnxruntime"
    np.testing.assert_allclose(onnx.features, eager.features, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(onnx.logits, eager.logits, atol=1e-4, rtol=1e-4)


def test_auto_uses_onnxruntime_once_exported(tiny_model, images, tmp_path: Path) -> None:
    cfg = data_config(tiny_model)
    cache = tmp_path / "cache"
    few = extract_features(
        tiny_model, images[:2], cfg, device=CPU, model_key="tiny", cache_dir=cache
    )
    assert few.runtime == "torch"  # too few images to pay for an export
    extract_features(
        tiny_model,
        images[2:4],
        cfg,
        device=CPU,
        model_key="tiny",
        cache_dir=cache,
        runtime="onnxruntime",
    )
    assert onnx_model_path(tiny_model, cfg["input_size"], "tiny", cache).exists()
    again = extract_features(
        tiny_model, images[4:], cfg, device=CPU, model_key="tiny", cache_dir=cache
    )
    assert again.runtime == "onnxruntime"


def test_unknown_runtime_is_refused(tiny_model, images) -> None:
    with pytest.raises(ValueError, match="Unknown runtime"):
        extract_features(
            tiny_model,
            images,
            data_config(tiny_model),
            device=CPU,
            model_key="tiny",
            runtime="tensorrt",
        )


def test_a_backbone_prepared_ahead_is_opened_not_exported_by_the_first_run(
    images, tmp_path: Path
) -> None:
    from engines.validation.embed import embed_images, prepare_backbone

    cache = tmp_path / "cache"
    assert not prepare_backbone("test_efficientnet", "cpu", None)  # no cache: nothing to do
    assert prepare_backbone("test_efficientnet", "cpu", cache)
    model = create_backbone("test_efficientnet").eval()
    path = onnx_model_path(model, data_config(model)["input_size"], "test_efficientnet", cache)
    assert path is not None and path.exists()
    stamp = path.stat().st_mtime_ns
    assert prepare_backbone("test_efficientnet", "cpu", cache)  # already there: kept
    assert path.stat().st_mtime_ns == stamp
    # six images are too few to pay for an export; the prepared one is simply opened
    feats = embed_images(images, "test_efficientnet", "cpu", cache)
    assert feats.runtime == "onnxruntime" and feats.export_seconds == 0.0
    fresh = embed_images(images, "test_efficientnet", "cpu", tmp_path / "unprepared")
    assert fresh.runtime == "torch"
    np.testing.assert_allclose(feats.features, fresh.features, atol=1e-4, rtol=1e-4)
