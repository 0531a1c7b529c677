"""Helpers of the store tests (a module of its own name, importable from the tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().parent / "store_worker.py"


def make_class_folder(root: Path, classes: dict[str, int], seed: int = 0) -> Path:
    """Write a small class-folder sample (not real images: the store does not decode)."""
    root.mkdir(parents=True, exist_ok=True)
    for label, count in classes.items():
        (root / label).mkdir(exist_ok=True)
        for i in range(count):
            (root / label / f"img_{i:03d}.png").write_bytes(f"{label}:{i}:{seed}".encode() * 50)
    return root


def zip_folder(folder: Path, dest: Path) -> Path:
    """Zip a folder with fixed timestamps, so the same content gives the same bytes."""
    with zipfile.ZipFile(dest, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(
                    path.relative_to(folder).as_posix(), date_time=(2026, 1, 1, 0, 0, 0)
                )
                zf.writestr(info, path.read_bytes())
    return dest


def subprocess_env() -> dict[str, str]:
    """Environment for helper subprocesses: the repository importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def start_worker(*args: str) -> subprocess.Popen[str]:
    """Start ``store_worker.py`` with arguments, stdout piped line by line."""
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
        cwd=str(REPO_ROOT),
    )
