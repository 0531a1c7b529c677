"""Job functions and helpers of the job-runner tests (a module of its own name, importable
from the tests and, through PYTHONPATH, from the Ray workers the tests start)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from engines.progress import CancelToken, Progress, ProgressCallback

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]


def train_tiny(
    steps: int,
    data_file: str | None = None,
    *,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> dict:
    """Fit a logistic regression by gradient descent on separable points, reporting each step.

    The points come from ``data_file`` (an .npz with x and y) when given, else are drawn.
    """
    if data_file is not None:
        data = np.load(data_file)
        x, y = data["x"], data["y"]
    else:
        rng = np.random.default_rng(0)
        y = rng.integers(0, 2, 200)
        x = rng.normal(size=(200, 2)) + 3.0 * y[:, None]
    w, b = np.zeros(x.shape[1]), 0.0
    for step in range(steps):
        cancel.raise_if_cancelled()
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        w -= 0.5 * x.T @ (p - y) / len(y)
        b -= 0.5 * float(np.mean(p - y))
        loss = float(-np.mean(y * np.log(p + 1e-9) + (1 - y) * np.log(1 - p + 1e-9)))
        progress(
            Progress("train", (step + 1) / steps, f"step {step + 1}/{steps}", metric={"loss": loss})
        )
    accuracy = float(np.mean(((x @ w + b) > 0) == y))
    return {
        "steps": steps,
        "loss": loss,
        "accuracy": accuracy,
        "pid": os.getpid(),
        "data_file": data_file,
    }


def sleepy(
    steps: int,
    seconds_per_step: float = 0.1,
    *,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> dict:
    """Sleep in steps, checking for cancellation between them."""
    for step in range(steps):
        cancel.raise_if_cancelled()
        progress(Progress("sleep", step / steps, f"step {step}/{steps}"))
        time.sleep(seconds_per_step)
    return {"steps": steps, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}


def stubborn(seconds: float, *, progress: ProgressCallback, cancel: CancelToken) -> dict:
    """Sleep without ever checking for cancellation (a stuck job)."""
    progress(Progress("stuck", 0.0, "not listening"))
    time.sleep(seconds)
    return {"slept": seconds}


def failing(message: str, *, progress: ProgressCallback, cancel: CancelToken) -> dict:
    """Report some progress, then raise ValueError(message)."""
    progress(Progress("about_to_fail", 0.5, "failing soon"))
    raise ValueError(message)


def not_a_dict(*, progress: ProgressCallback, cancel: CancelToken) -> list:
    """Return a list where a dict is expected."""
    return [1, 2, 3]


def write_points(path: Path, n: int = 120, seed: int = 1) -> Path:
    """Write separable 2-D points with labels to an .npz file."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 2)) - 3.0 * y[:, None]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x, y=y)
    return path


def write_two_class_images(root: Path, per_class: int = 8, size: int = 48) -> dict:
    """Write class folders of small generated images (red-ish vs blue-ish noise).

    Returns:
        Paths and labels split 6/2 per class, as the keyword arguments of a LabeledSplit.

    """
    rng = np.random.default_rng(0)
    split: dict = {
        "train_paths": [],
        "train_labels": [],
        "val_paths": [],
        "val_labels": [],
        "class_names": ["red", "blue"],
    }
    for label, name in enumerate(split["class_names"]):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 90, (size, size, 3))
            pixels[..., 0 if label == 0 else 2] += 160
            path = folder / f"{name}_{i:02d}.png"
            Image.fromarray(pixels.astype(np.uint8)).save(path)
            part = "train" if i < per_class - 2 else "val"
            split[f"{part}_paths"].append(path)
            split[f"{part}_labels"].append(label)
    return split


def wait_for(runner, job_id: str, predicate, timeout: float = 30.0, interval: float = 0.05):
    """Poll until ``predicate(state)`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        state = runner.poll(job_id)
        if predicate(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} stuck in {state} after {timeout} s")
        time.sleep(interval)


def wait_finished(runner, job_id: str, timeout: float = 30.0):
    """Poll until the job reaches a final status."""
    return wait_for(runner, job_id, lambda s: s.finished, timeout)
