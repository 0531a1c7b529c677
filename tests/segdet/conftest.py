"""Fixtures shared by the segmentation and detection tests (built once per session)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def lite0_full():
    from engines.backbones import create_backbone

    return create_backbone("efficientnet_lite0")


@pytest.fixture(scope="session")
def lite0_encoder():
    from engines.segmentation.model import create_encoder

    return create_encoder("efficientnet_lite0")
