"""Shared synthetic data for the numerical engine tests (numpy only, no torch)."""

from __future__ import annotations

import numpy as np
import pytest


def planted_features(n: int, d: int, k: int, signal: float, seed: int):
    """Non-negative "pooled" features with a class signal of the given strength."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    rng.shuffle(y)
    centres = rng.normal(size=(k, d))
    x = rng.normal(size=(n, d)) + signal * centres[y]
    return np.maximum(x, 0.0).astype(np.float32), y


@pytest.fixture
def planted():
    return planted_features(240, 128, 4, 0.6, seed=1)


@pytest.fixture
def weak_planted():
    return planted_features(240, 128, 4, 0.15, seed=1)


@pytest.fixture
def noise():
    rng = np.random.default_rng(2)
    x = np.maximum(rng.normal(size=(240, 128)), 0.0).astype(np.float32)
    y = np.arange(240) % 4
    rng.shuffle(y)
    return x, y
