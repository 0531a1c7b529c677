"""What the consultant tells the advisor that the data cannot say."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from engines.results.vocab import Task

TASKS: tuple[str, ...] = tuple(task.value for task in Task)
Deployment = Literal["server_gpu", "cpu", "mobile"]
Similarity = Literal["similar", "different", "unknown"]
LabelQuality = Literal["clean", "noisy", "unknown"]
YesNoUnknown = Literal["yes", "no", "unknown"]
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
        wants_reinforcement_learning: The client asks for (or expects) reinforcement
            learning; the method says never to promise it, whatever the data.
        pairs_can_be_synthesised: Whether input/output pairs can be made from the data
            (e.g. degrading high-quality video into low-quality inputs): "yes", "no" or
            "unknown".

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
    wants_reinforcement_learning: bool = False
    pairs_can_be_synthesised: YesNoUnknown = "unknown"

    def __post_init__(self) -> None:
        if self.task is not None and self.task not in TASKS:
            raise ValueError(f"Unknown task {self.task!r}: choose one of {', '.join(TASKS)}.")
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
        if self.pairs_can_be_synthesised not in ("yes", "no", "unknown"):
            raise ValueError(
                f"Unknown answer {self.pairs_can_be_synthesised!r} for whether pairs can be "
                "synthesised: use yes, no or unknown."
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the answers as JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Intake:
        """Build answers from JSON-like data (e.g. result.json's ``intake``).

        Keys are the field names of :class:`Intake`; absent keys keep their default.
        Types are checked strictly (a boolean must be ``true``/``false``, a count an
        integer), so that a typo in a hand-written file never turns into silent advice.

        Args:
            data: Field name to value.

        Returns:
            The answers.

        Raises:
            ValueError: For an unknown key or a value of the wrong type or range, with
                what to write instead.

        """
        if not isinstance(data, Mapping):
            raise ValueError(
                f"The intake must be a JSON object of answers, got {type(data).__name__}."
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(k for k in data if k not in known)
        if unknown:
            raise ValueError(
                f"Unknown intake key {unknown[0]!r}: use only {', '.join(sorted(known))}."
            )
        for key, value in data.items():
            _check_type(key, value)
        return cls(**dict(data))

    @classmethod
    def from_json_file(cls, path: Path | str) -> Intake:
        """Read answers from a JSON file (see :meth:`from_mapping`).

        Raises:
            ValueError: If the file is not valid JSON or holds bad answers.
            FileNotFoundError: If the file does not exist.

        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{path.name} is not valid JSON (line {exc.lineno}: {exc.msg})."
            ) from None
        try:
            return cls.from_mapping(data)
        except ValueError as exc:
            raise ValueError(f"{path.name}: {exc}") from None


_BOOL_FIELDS = frozenset(
    {
        "client_expects_everything",
        "labeled_source_available",
        "source_is_simulation",
        "multi_site",
        "realtime",
        "high_stakes",
        "wants_reinforcement_learning",
    }
)
_OPTIONAL_BOOL_FIELDS = frozenset({"can_relabel", "deployment_domain_differs"})
_INT_FIELDS = frozenset({"claimed_n_images", "min_object_px"})
_CHOICES: dict[str, tuple[str, ...]] = {
    "domain_similarity": ("similar", "different", "unknown"),
    "deployment": ("server_gpu", "cpu", "mobile"),
    "label_quality": ("clean", "noisy", "unknown"),
    "language": ("ko", "en"),
    "pairs_can_be_synthesised": ("yes", "no", "unknown"),
}


def _check_type(key: str, value: Any) -> None:
    """Raise ValueError when an answer read from JSON has the wrong type."""
    if key in _BOOL_FIELDS and not isinstance(value, bool):
        raise ValueError(f"Intake key {key!r} must be true or false, got {value!r}.")
    if key in _OPTIONAL_BOOL_FIELDS and value is not None and not isinstance(value, bool):
        raise ValueError(f"Intake key {key!r} must be true, false or null, got {value!r}.")
    if (
        key in _INT_FIELDS
        and value is not None
        and (isinstance(value, bool) or not isinstance(value, int))
    ):
        raise ValueError(f"Intake key {key!r} must be a whole number or null, got {value!r}.")
    if key in _CHOICES and value not in _CHOICES[key]:
        raise ValueError(
            f"Intake key {key!r} must be one of {', '.join(_CHOICES[key])}, got {value!r}."
        )
    if (
        key == "target_value"
        and value is not None
        and (isinstance(value, bool) or not isinstance(value, int | float))
    ):
        raise ValueError(f"Intake key 'target_value' must be a number such as 0.9, got {value!r}.")
    if key in ("goal", "target_metric") and not isinstance(value, str):
        raise ValueError(f"Intake key {key!r} must be text, got {value!r}.")
    if key in ("task", "data_type") and value is not None and not isinstance(value, str):
        raise ValueError(f"Intake key {key!r} must be text or null, got {value!r}.")
