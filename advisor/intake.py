"""What the consultant tells the advisor that the data cannot say."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

TASKS: tuple[str, ...] = (
    "classification",
    "detection",
    "segmentation",
    "pose",
    "generation",
    "image_to_image",
    "ocr",
    "video",
    "tracking",
    "action_recognition",
    "similarity",
    "super_resolution",
)
Deployment = Literal["server_gpu", "cpu", "mobile"]
Similarity = Literal["similar", "different", "unknown"]
LabelQuality = Literal["clean", "noisy", "unknown"]
Language = Literal["ko", "en"]


@dataclass
class Intake:
    """The consultant's answers.

    Every field may stay at its default; the advisor then infers from the profile or
    asks a question back instead of guessing.

    Attributes:
        task: One of :data:`TASKS`, or None to take the task the data layout suggests.
        data_type: "paired", "unpaired" or "input_only", or None to infer it.
        claimed_n_images: How many images the client says they have in total (the
            sample may be smaller); None when not said.
        domain_similarity: The consultant's guess of how close the images are to
            everyday photos (ImageNet); measured evidence overrides it.
        deployment: Where the model must run.
        target_metric: The metric the client cares about.
        target_value: The value of that metric the client needs (0-1), if any.
        label_quality: How the labels were made, as far as the client knows.
        client_expects_everything: The client wants the whole thing done without
            providing labels or pairs (a red flag in the method).
        language: Language of everything shown to the client.
        goal: The client's goal in their own words.
        can_relabel: Whether a rule exists to relabel broken labels; None when unknown.
        labeled_source_available: Labeled data of a related domain exists (another site,
            a public set, simulation), usable for transfer or domain adaptation.
        source_is_simulation: The training images are rendered (simulation, CAD).
        multi_site: Several similar sites (e.g. factory lines), labels only at some.
        deployment_domain_differs: The model will see places or cameras the data does
            not cover; None when unknown.
        realtime: The model must keep up with a live stream.
        min_object_px: Size in pixels of the smallest object to find, if known.
        high_stakes: Decisions affect health, safety or money.
        domain_tags: Domain tags (ids of the glossary's tags), used to find similar cases.

    """

    task: str | None = None
    data_type: str | None = None
    claimed_n_images: int | None = None
    domain_similarity: Similarity = "unknown"
    deployment: Deployment = "server_gpu"
    target_metric: str = "accuracy"
    target_value: float | None = None
    label_quality: LabelQuality = "unknown"
    client_expects_everything: bool = False
    language: Language = "en"
    goal: str = ""
    can_relabel: bool | None = None
    labeled_source_available: bool = False
    source_is_simulation: bool = False
    multi_site: bool = False
    deployment_domain_differs: bool | None = None
    realtime: bool = False
    min_object_px: int | None = None
    high_stakes: bool = False
    domain_tags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.task is not None and self.task not in TASKS:
            raise ValueError(
                f"Unknown task {self.task!r}: choose one of {', '.join(TASKS)}."
            )
        if self.data_type not in (None, "paired", "unpaired", "input_only"):
            raise ValueError(
                f"Unknown data type {self.data_type!r}: use paired, unpaired or input_only."
            )
        if self.target_value is not None and not 0.0 < self.target_value <= 1.0:
            raise ValueError(
                f"Target {self.target_value} is not a fraction: give e.g. 0.9 for 90%."
            )
        if self.claimed_n_images is not None and self.claimed_n_images < 0:
            raise ValueError("The claimed number of images cannot be negative.")
        if self.min_object_px is not None and self.min_object_px <= 0:
            raise ValueError("The smallest object size must be a positive number of pixels.")
        if isinstance(self.domain_tags, str) or not all(
            isinstance(t, str) for t in self.domain_tags
        ):
            raise ValueError("Domain tags must be a list of tag ids, e.g. ['face', 'video'].")
        self.domain_tags = list(self.domain_tags)

    def to_dict(self) -> dict[str, Any]:
        """Return the answers as JSON-ready data."""
        return asdict(self)
