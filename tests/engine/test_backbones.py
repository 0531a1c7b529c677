"""Backbones: the bundled offline weights are real ImageNet weights."""

import numpy as np
import pytest
import torch
from PIL import Image

from engines.backbones import (
    BUNDLED_BACKBONES,
    BackboneUnavailable,
    available_backbones,
    create_backbone,
    data_config,
    imagenet_class_name,
)
from engines.features import to_tensor_batch

CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def classify(model, image: np.ndarray) -> torch.Tensor:
    cfg = data_config(model)
    size = cfg["input_size"]
    img = Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC)
    with torch.inference_mode():
        return model(to_tensor_batch([np.asarray(img)], cfg)).softmax(-1)[0]


def test_bundled_lite0_classifies_the_cat_photo_as_a_cat():
    from skimage import data

    model = create_backbone("efficientnet_lite0")
    probs = classify(model, data.chelsea())
    top = int(probs.argmax())
    assert top in CAT_CLASSES, imagenet_class_name(top)
    assert imagenet_class_name(top) == "Egyptian cat"
    assert float(probs[top]) > 0.3


def test_random_weights_do_not_classify_the_cat():
    from skimage import data

    model = create_backbone("efficientnet_lite0", pretrained=False)
    probs = classify(model, data.chelsea())
    assert float(probs.max()) < 0.3


def test_bundled_backbones_are_listed_offline():
    names = {b.name for b in available_backbones()}
    assert "efficientnet_lite0" in names
    assert all(b.available_offline and b.source == "bundled" for b in available_backbones())
    assert names <= set(BUNDLED_BACKBONES)


def test_bundled_preprocessing_is_the_tf_lite_one():
    cfg = data_config(create_backbone("efficientnet_lite0"))
    assert cfg["input_size"] == 224
    assert cfg["mean"] == (0.5, 0.5, 0.5) and cfg["std"] == (0.5, 0.5, 0.5)


def test_hub_backbone_without_network_gives_a_clear_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackboneUnavailable) as err:
        create_backbone("resnet18")
    message = str(err.value)
    assert "resnet18" in message and "efficientnet_lite0" in message
    assert "\n" not in message


def test_unknown_backbone_name_is_refused():
    with pytest.raises(BackboneUnavailable, match="not a timm model name"):
        create_backbone("no_such_net")


def test_tiny_test_model_builds_without_weights():
    model = create_backbone("test_efficientnet")
    assert model.num_features > 0
