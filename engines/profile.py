"""The dataset profile: what an upload contains, as plain data.

The profile is the contract between intake (which fills it) and the advisor (which
reads it). It holds numbers and names only, never pixels, so it can be stored,
serialised to result.json and shown in the app.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

DataType = Literal["paired", "unpaired", "input_only"]
TaskHint = Literal["classification", "segmentation", "detection"]


@dataclass
class SkippedFile:
    """A file of the upload that was not used, and why."""

    path: str
    reason: str


@dataclass
class DatasetProfile:
    """Counts, layout and health of an uploaded sample.

    Attributes:
        n_images: Images that decoded and are used.
        n_classes: Distinct labels among them (0 when unlabeled).
        class_counts: Images per label, sorted by label.
        split_counts: Images per split ("train", "val", "test"); empty when the upload
            had no split folders.
        data_type: Paired (input + label), unpaired (two unlinked collections) or
            input-only, as inferred from the layout.
        task_hint: The task the layout suggests, or None when it does not say.
        layout: A short name of the layout recognised (e.g. "class_folders").
        skipped: Files not used, each with its reason.
        image_stats: Summaries of width, height, mode and format.
        health: Findings of the health check (duplicates, label issues, quality),
            filled by the health check where it ran.
        effective_n_images: Images left after removing duplicates, where measured.
        domain_counts: Images per collection of an unpaired upload ("A"/"B",
            "source"/"target"); empty otherwise.
        annotations: Summaries of annotations beside the labels: segmentation masks,
            detection boxes (per image, sizes, classes), the manifest used.
        notes: Plain sentences on what intake inferred and why, for the consultant.
        samples: A few example images per class, as paths relative to the upload root,
            for sample grids in the app and the report.

    """

    n_images: int
    n_classes: int
    class_counts: dict[str, int]
    split_counts: dict[str, int] = field(default_factory=dict)
    data_type: DataType = "paired"
    task_hint: TaskHint | None = "classification"
    layout: str = "class_folders"
    skipped: list[SkippedFile] = field(default_factory=list)
    image_stats: dict[str, Any] = field(default_factory=dict)
    health: dict[str, Any] = field(default_factory=dict)
    effective_n_images: int | None = None
    domain_counts: dict[str, int] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    samples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def min_class_count(self) -> int:
        """Images in the smallest class (0 when unlabeled)."""
        return min(self.class_counts.values(), default=0)

    @property
    def imbalance_ratio(self) -> float:
        """Largest class count over smallest (1.0 when balanced or unlabeled)."""
        if not self.class_counts or self.min_class_count == 0:
            return 1.0
        return max(self.class_counts.values()) / self.min_class_count

    def to_dict(self) -> dict[str, Any]:
        """Return the profile as JSON-ready data, derived figures included."""
        data = asdict(self)
        data["min_class_count"] = self.min_class_count
        data["imbalance_ratio"] = round(self.imbalance_ratio, 3)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetProfile:
        """Rebuild a profile from :meth:`to_dict` output."""
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["skipped"] = [SkippedFile(**s) for s in data.get("skipped", [])]
        return cls(**kwargs)
