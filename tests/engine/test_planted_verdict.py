"""The verdict on planted tasks, end to end: a probe near chance, and a probe at ceiling.

The backbone is a tiny random timm model made blind to one colour contrast: its stem
sees red and green only through their sum (the green weights are the red ones scaled by
the channels' normalisation), so images whose classes differ only in red minus green
give it features that carry no trace of the label. A linear probe on them is near
chance. The stem is also scaled down, with its batch-norm statistics scaled to match
(the same function), so that the optimiser's steps are large relative to its weights: a
full fine-tune, the only strategy that trains the stem, can see the contrast and learn
it, which is the case a verdict must revise toward. Where the classes also differ in
brightness, the probe is already at ceiling and the verdict must not move away from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from timm.models import register_model

from advisor import pipeline
from advisor.intake import Intake
from advisor.pipeline import evidence_from_validation
from engines.results import RunConfig

BLIND = "test_planted_colour_blind"
STEM_SCALE = 0.05


@register_model
def test_planted_colour_blind(pretrained: bool = False, **kwargs: Any) -> torch.nn.Module:
    """``test_efficientnet`` whose stem cannot tell red from green (see the module doc)."""
    model: Any = timm.create_model("test_efficientnet", pretrained=False, **kwargs)
    std = model.pretrained_cfg["std"]
    with torch.no_grad():
        weight = model.conv_stem.weight
        weight[:, 1] = weight[:, 0] * std[1] / std[0]
        weight.mul_(STEM_SCALE)
        model.bn1.running_mean.mul_(STEM_SCALE)
        model.bn1.running_var.mul_(STEM_SCALE**2)
    return model


test_planted_colour_blind.__test__ = False  # a model (its name must start with test_)


def planted_folder(root: Path, brightness: float, per_class: int = 80) -> Path:
    """Two classes that differ by ±60 in red minus green, and by ``brightness`` in both."""
    rng = np.random.default_rng(7)
    for label, sign in (("reddish", 1), ("greenish", -1)):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            light = np.kron(rng.normal(size=(8, 8)), np.ones((8, 8))) * 30 + 128
            blue = np.kron(rng.normal(size=(8, 8)), np.ones((8, 8))) * 30 + 128
            light = light + sign * brightness
            pixels = np.stack([light + sign * 60, light - sign * 60, blue], -1)
            Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(
                root / label / f"{label}_{i:03d}.png"
            )
    return root


def validate(tmp: Path, brightness: float) -> dict[str, Any]:
    folder = planted_folder(tmp / "sample", brightness)
    return pipeline.validate(
        folder,
        tmp / "out",
        RunConfig(
            budget_seconds=900,  # every strategy fits whatever the machine's speed
            device="cpu",
            cache_dir=tmp / "cache",
            backbone=BLIND,
            compare_backbones=(),
        ),
        intake=Intake(task="classification", domain_similarity="similar", target_value=0.9),
    ).to_json_dict()


def by_strategy(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["strategy"]: e for e in result["validation"]["experiments"]}


@pytest.fixture(scope="module")
def near_chance(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return validate(tmp_path_factory.mktemp("blind"), brightness=0.0)


@pytest.fixture(scope="module")
def at_ceiling(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return validate(tmp_path_factory.mktemp("visible"), brightness=20.0)


def test_the_planted_backbone_is_blind_to_the_contrast_and_only_to_it(tmp_path):
    model = timm.create_model(BLIND).eval()
    reference = timm.create_model("test_efficientnet").eval()
    x = torch.rand(2, 3, 32, 32)
    swapped = x[:, [1, 0, 2]]
    mean = torch.tensor(model.pretrained_cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(model.pretrained_cfg["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        # the same raw red+green, red and green swapped: identical features
        a = model.forward_features((x - mean) / std)
        b = model.forward_features((swapped - mean) / std)
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
        ref = reference.forward_features((x - mean) / std)
        assert not torch.allclose(ref, reference.forward_features((swapped - mean) / std))


def test_a_probe_near_chance_is_revised_toward_the_fine_tune_that_learns(near_chance):
    runs = by_strategy(near_chance)
    assert set(runs) == {"linear_probe", "partial_finetune", "full_finetune"}
    probe = runs["linear_probe"]["metrics"]["accuracy"]
    full = runs["full_finetune"]["metrics"]["accuracy"]
    assert probe["value"] <= 0.7, probe  # near chance: the features miss the contrast
    assert full["value"] >= 0.9 and full["ci_low"] > probe["ci_high"], (full, probe)
    assert near_chance["validation"]["best_experiment"] == runs["full_finetune"]["id"]
    # the partial fine-tune keeps the blind stem frozen: it cannot beat the probe, and
    # ends as that probe rather than below it
    partial = runs["partial_finetune"]
    assert partial["metrics"]["accuracy"]["value"] >= probe["ci_low"]
    rec = near_chance["recommendation"]
    assert rec["prior"]["strategy_id"] != "full_finetune"
    assert rec["verdict"] == "revised", rec["verdict_reason"]["en"]
    assert rec["strategy_id"] == "full_finetune"


def test_a_probe_at_ceiling_is_not_revised_toward_a_worse_strategy(at_ceiling):
    runs = by_strategy(at_ceiling)
    probe = runs["linear_probe"]["metrics"]["accuracy"]
    assert probe["value"] >= 0.95, probe  # brightness is visible to the frozen features
    rec = at_ceiling["recommendation"]
    assert rec["verdict"] in ("validated", "inconclusive"), rec["verdict_reason"]["en"]
    assert rec["strategy_id"] == rec["prior"]["strategy_id"]
    for run in runs.values():  # nothing ends below the probe it started from
        assert run["metrics"]["accuracy"]["value"] >= probe["ci_low"], run["id"]


def test_the_same_seed_gives_the_same_numbers(tmp_path, near_chance):
    again = validate(tmp_path, brightness=0.0)
    for strategy, run in by_strategy(near_chance).items():
        assert by_strategy(again)[strategy]["metrics"] == run["metrics"], strategy
    assert again["recommendation"]["verdict"] == near_chance["recommendation"]["verdict"]


def test_the_best_probe_of_another_backbone_is_evidence_too(tmp_path):
    # The blind backbone first, a pretrained one that sees colour as the comparison: the
    # comparison's probe joins the experiments, and the verdict weighs the probe by it.
    folder = planted_folder(tmp_path / "sample", brightness=0.0)
    run = pipeline.validate(
        folder,
        tmp_path / "out",
        RunConfig(
            budget_seconds=600,
            device="cpu",
            cache_dir=tmp_path / "cache",
            backbone=BLIND,
            compare_backbones=("efficientnet_lite0",),
            strategies=("linear_probe",),
        ),
        intake=Intake(task="classification", domain_similarity="similar", target_value=0.9),
    )
    v = run.to_json_dict()["validation"]
    probes = {e["backbone"]: e for e in v["experiments"]}
    assert [e["strategy"] for e in v["experiments"]] == ["linear_probe", "linear_probe"]
    assert list(probes) == [BLIND, "efficientnet_lite0"]
    ranked = {r["backbone"]: r["linear_probe_accuracy"] for r in v["backbone_ranking"]}
    strong = probes["efficientnet_lite0"]["metrics"]["accuracy"]
    assert strong["value"] == pytest.approx(ranked["efficientnet_lite0"]["value"])
    assert strong["ci_low"] > probes[BLIND]["metrics"]["accuracy"]["ci_high"]
    assert v["best_experiment"] == "linear_probe:efficientnet_lite0"
    best = evidence_from_validation(run.validation).best()
    assert best is not None and best.backbone == "efficientnet_lite0"
