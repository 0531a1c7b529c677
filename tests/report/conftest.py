"""Fixtures of the report tests: a crafted result, its images, a Korean font."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from advisor.report.fonts import INSTALL_HINT, find_korean_font
from tests.report.report_helpers import make_images, make_result


@pytest.fixture(scope="session")
def result() -> dict[str, Any]:
    return make_result()


@pytest.fixture(scope="session")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("upload")
    make_images(
        root,
        [
            "val/crack/crack_003.png",
            "val/scratch/scratch_011.png",
            "train/crack/crack_000.png",
            "train/normal/normal_000.png",
            "train/scratch/scratch_000.png",
        ],
    )
    return root


def _install_korean_font() -> None:
    """Install Debian's fonts-nanum where this test run may (root, apt-get present)."""
    apt = shutil.which("apt-get")
    if apt is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    cmd = [apt, "install", "-y", "--no-install-recommends", "fonts-nanum"]
    done = subprocess.run(cmd, capture_output=True, timeout=600, env=env, check=False)
    if done.returncode != 0:
        subprocess.run([apt, "update"], capture_output=True, timeout=600, env=env, check=False)
        subprocess.run(cmd, capture_output=True, timeout=600, env=env, check=False)


@pytest.fixture(scope="session")
def korean_font() -> Path:
    """A font with Korean glyphs: located, or installed from Debian's fonts-nanum."""
    font = find_korean_font()
    if font is None:
        _install_korean_font()
        font = find_korean_font()
    if font is None:
        pytest.fail(INSTALL_HINT)
    return font
