"""Settings of a validation run and the labeled split it runs on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engines.results import STRATEGY_ORDER, RunConfig

__all__ = ["STRATEGY_ORDER", "LabeledSplit", "RunConfig", "ValidationConfig", "display_path"]


def display_path(path: Path, root: Path | None) -> str:
    """A path as shown to people: relative to the upload root, never absolute."""
    p = Path(path)
    if root is not None:
        try:
            return p.relative_to(root).as_posix()
        except ValueError:
            pass
    return p.name


ValidationConfig = RunConfig
"""The engine's name for the run configuration (one class: :class:`RunConfig`)."""


@dataclass
class LabeledSplit:
    """Image paths with integer labels for training and held-out evaluation.

    Attributes:
        train_paths: Training images.
        train_labels: Their labels, indexes into ``class_names``.
        val_paths: Held-out images (never trained or early-stopped on).
        val_labels: Their labels.
        class_names: Class names, indexed by label.
        root: Folder the paths are reported relative to (None: file names only).
        method: How the split was made, for the record.

    """

    train_paths: Sequence[Path]
    train_labels: Sequence[int]
    val_paths: Sequence[Path]
    val_labels: Sequence[int]
    class_names: Sequence[str]
    root: Path | None = None
    method: str = "stratified hold-out"

    def __post_init__(self) -> None:
        if len(self.train_paths) != len(self.train_labels):
            raise ValueError("Every training image needs exactly one label.")
        if len(self.val_paths) != len(self.val_labels):
            raise ValueError("Every held-out image needs exactly one label.")
        if not self.train_paths or not self.val_paths:
            raise ValueError(
                "The split needs images on both sides: add images so that each class has "
                "at least two."
            )
        k = len(self.class_names)
        bad = [y for y in (*self.train_labels, *self.val_labels) if not 0 <= int(y) < k]
        if bad:
            raise ValueError(f"Label {bad[0]} is not one of the {k} classes.")

    def display_path(self, path: Path) -> str:
        """The path as shown to people: relative to the upload, never absolute."""
        return display_path(path, self.root)
