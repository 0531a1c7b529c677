"""Fixtures of the fault and hostile-input suite.

The suite reuses the generators of the intake tests (``messy_uploads``) and the store
tests (``store_helpers``); their folders are put on ``sys.path`` here so that the
helpers are shared, not copied.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parents[1]
for _folder in (_TESTS / "intake", _TESTS / "store"):
    if str(_folder) not in sys.path:
        sys.path.append(str(_folder))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory of its own, with no configuration from the environment."""
    folder = tmp_path / "data"
    monkeypatch.setenv("FEASIBILITY_DATA_DIR", str(folder))
    for name in ("DATABASE_URL", "FEASIBILITY_CONFIG", "FEASIBILITY_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return folder
