"""Fixtures of the app tests: a data directory per test and a stand-in for the pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import APP, TIMEOUT, FakePipeline
from streamlit.testing.v1 import AppTest


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("FEASIBILITY_DATA_DIR", str(folder))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("FEASIBILITY_CONFIG", raising=False)
    monkeypatch.delenv("FEASIBILITY_PASSWORD", raising=False)
    return folder


@pytest.fixture
def fake_pipeline(monkeypatch) -> FakePipeline:
    fake = FakePipeline()
    monkeypatch.setattr("advisor.pipeline.validate", fake)
    yield fake
    fake.release.set()


@pytest.fixture
def app(data_dir) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at
