"""The classification validation: evidence measured on the client's own sample.

Order and budget follow what each step tells per second spent: features of the first
backbone are computed once (and cached); the linear probe, similarity and the learning
curve then cost almost nothing on them; comparison backbones are featurized only where
their estimated cost fits; the fine-tunes share what is left, each run only if it can
train long enough to mean something; deployment figures come last.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from engines.deployment import deployment_figures
from engines.device import describe_device, resolve_device
from engines.learning_curve import fit_learning_curve, learning_curve_points
from engines.progress import (
    CancelToken,
    Deadline,
    Progress,
    ProgressCallback,
    ignore_progress,
    scaled_progress,
)
from engines.validation.config import LabeledSplit, ValidationConfig
from engines.validation.embed import feature_record, similarity_or_reason
from engines.validation.finetuning import (
    measure_forward_cost,
    measure_step_cost,
    plan_finetunes,
    run_finetune,
)
from engines.validation.probe import linear_probe_experiment, misclassified_examples
from engines.validation.ranking import (
    Candidate,
    best_by_probe,
    comparison_names,
    gather_candidates,
    load_candidate,
    rank_candidates,
)

# Share of the time left after the first look that the backbone comparison may use
# when fine-tunes are wanted too (they are the more informative evidence).
RANKING_SHARE = 0.3
# Seconds kept for the deployment figures at the end.
DEPLOYMENT_RESERVE = 3.0
LEARNING_CURVE_FRACTIONS = (0.125, 0.25, 0.5, 1.0)


def _headline(experiment: dict[str, Any]) -> dict[str, float]:
    return {"accuracy": float(experiment["metrics"]["accuracy"]["value"])}


def _learning_curve(
    x_train: np.ndarray,
    x_val: np.ndarray,
    split: LabeledSplit,
    config: ValidationConfig,
    progress: ProgressCallback,
) -> dict[str, Any]:
    curve = learning_curve_points(
        x_train,
        np.asarray(split.train_labels),
        x_val,
        np.asarray(split.val_labels),
        fractions=LEARNING_CURVE_FRACTIONS,
        repeats=config.learning_curve_repeats,
        seed=config.seed,
        progress=progress,
    )
    targets = [config.target_accuracy] if config.target_accuracy is not None else []
    fitted = fit_learning_curve(curve, targets=targets, multiples=(2.0, 10.0), seed=config.seed)
    fitted["strategy"] = "linear_probe"
    fitted["note"] = (
        "Linear probe on frozen features, retrained on growing stratified shares of the "
        "training split and scored on the same held-out images; fine-tuning usually "
        "gains more from more data, so read it as a floor."
    )
    return fitted


def _similarity(first: Candidate, split: LabeledSplit, lp: dict[str, Any]) -> dict[str, Any]:
    labels = np.concatenate([np.asarray(split.train_labels), np.asarray(split.val_labels)])
    return similarity_or_reason(
        first.features.logits,
        first.features.features,
        first.name,
        labels=labels,
        lp_accuracy=lp["metrics"]["accuracy"]["value"],
        knn_accuracy=lp["knn_accuracy"],
        paths=[*split.train_paths, *split.val_paths],
    )


def _backbone_record(cand: Candidate) -> dict[str, Any]:
    return {
        "name": cand.name,
        "source": cand.model.pretrained_cfg.get("source", "timm"),
        "data_config": {
            k: list(v) if isinstance(v, tuple) else v for k, v in cand.data_cfg.items()
        },
        "n_params": int(sum(p.numel() for p in cand.model.parameters())),
        "flops_per_image": cand.flops_per_image,
        "load_seconds": round(cand.load_seconds, 3),
    }


def run_validation(
    split: LabeledSplit,
    config: ValidationConfig,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Measure how well pretrained backbones and transfer strategies fit the sample.

    Args:
        split: Training and held-out images with labels (duplicate groups kept on one
            side by the caller).
        config: Run settings, including the time budget.
        progress: Receives stage, overall fraction, ETA and the latest metric.
        cancel: Stops the run at the next check when set.

    Returns:
        JSON-ready evidence: ``task``, ``device``, ``backbone``, ``feature_extraction``,
        ``split``, ``experiments`` (same split for all), ``skipped``,
        ``best_experiment``, ``misclassified``, ``similarity``, ``learning_curve``,
        ``backbone_ranking``, ``deployment``, ``budget`` and ``warnings``.

    Raises:
        engines.progress.Cancelled: The run was cancelled.
        engines.backbones.BackboneUnavailable: The first backbone cannot be built.

    """
    deadline = Deadline(config.budget_seconds)
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    warnings: list[str] = []
    paths = list(split.train_paths) + list(split.val_paths)
    n_train = len(split.train_paths)

    progress(Progress("load_backbone", 0.0, f"Loading {config.backbone}"))
    first = load_candidate(
        config.backbone, paths, config, device, scaled_progress(progress, 0.02, 0.35), cancel
    )
    feats = first.features.features
    x_train, x_val = feats[:n_train], feats[n_train:]

    _check(cancel)
    progress(Progress("linear_probe", 0.36, "Fitting the linear probe"))
    lp, lp_proba = linear_probe_experiment(
        x_train, x_val, split, first.name, config.seed, first.features.seconds
    )
    experiments = [lp]
    probas = {lp["id"]: lp_proba}
    progress(
        Progress("linear_probe", 0.4, f"Linear probe accuracy "
                 f"{lp['metrics']['accuracy']['value']:.1%}", metric=_headline(lp))
    )
    similarity = _similarity(first, split, lp)

    _check(cancel)
    curve: dict[str, Any] | None
    try:
        curve = _learning_curve(x_train, x_val, split, config, scaled_progress(progress, 0.4, 0.48))
    except ValueError as exc:
        curve = None
        warnings.append(f"No learning curve: {exc}")

    wants_finetune = any(s != "linear_probe" for s in config.strategies)
    # Past the budget nothing more is started: measuring costs would itself overrun it.
    spent = deadline.remaining <= DEPLOYMENT_RESERVE
    share = RANKING_SHARE if wants_finetune else 0.9
    ranking_seconds = max(deadline.remaining - DEPLOYMENT_RESERVE, 0.0) * share
    size = first.data_cfg["input_size"]
    first_cost = None
    candidates = [first]
    if spent:
        if comparison_names(config):
            warnings.append("No other backbone was compared: the time budget was used up "
                            "by the first look; give the validation more time.")
    else:
        progress(Progress("backbone_ranking", 0.48, "Measuring what each backbone costs"))
        if wants_finetune:
            first_cost = measure_step_cost(first.model, size, device)
            first_forward = first_cost.forward
        elif comparison_names(config):
            first_forward = measure_forward_cost(first.model, size, device)
        else:
            first_forward = 0.0  # nothing to estimate
        candidates = gather_candidates(
            first, first_forward, split, config, device, ranking_seconds,
            scaled_progress(progress, 0.5, 0.6), cancel, warnings.append,
        )
    progress(Progress("backbone_ranking", 0.6, "Ranking backbones by transferability"))
    ranking = rank_candidates(candidates, split, config.seed)
    by_name = {c.name: c for c in candidates}
    chosen = by_name[best_by_probe({r["backbone"]: r for r in ranking})]

    skipped: list[dict[str, Any]] = []
    if wants_finetune and spent:
        skipped = [
            {"strategy": s, "reason": "the time budget was used up before it could start; "
             "give the validation more time to run it", "estimated_seconds": None}
            for s in config.strategies if s != "linear_probe"
        ]
    elif wants_finetune:
        _check(cancel)
        cost = (first_cost if chosen is first and first_cost is not None else
                measure_step_cost(chosen.model, chosen.data_cfg["input_size"], device))
        left = max(deadline.remaining - DEPLOYMENT_RESERVE, 0.0)
        plan, skipped = plan_finetunes(config, split, cost, left)
        decoded: dict[str, np.ndarray] = {}
        low = 0.6
        step = 0.35 / max(len(plan), 1)
        for strategy, seconds in plan:
            _check(cancel)
            seconds = min(seconds, max(deadline.remaining - DEPLOYMENT_RESERVE, 1.0))
            exp, proba = run_finetune(
                strategy, seconds, chosen.model, chosen.name, chosen.data_cfg, split,
                config, device, decoded, scaled_progress(progress, low, low + step), cancel,
            )
            experiments.append(exp)
            probas[exp["id"]] = proba
            low += step
            progress(Progress(strategy, low, f"{strategy}: accuracy "
                              f"{exp['metrics']['accuracy']['value']:.1%}",
                              metric=_headline(exp)))

    best = max(experiments, key=lambda e: e["metrics"]["accuracy"]["value"])
    _check(cancel)
    progress(Progress("deployment", 0.96, "Measuring model size and latency"))
    deployment = {
        "model": chosen.name,
        **deployment_figures(chosen.model, chosen.data_cfg["input_size"], device,
                             repeats=5 if deadline.remaining > 0 else 2),
        "alternatives": [
            {
                "backbone": row["backbone"],
                "flops_per_image": row["flops_per_image"],
                "linear_probe_accuracy": row["linear_probe_accuracy"],
            }
            for row in ranking
        ],
    }
    for exp in experiments:
        if exp["metrics"].get("warning"):
            warnings.append(f"{exp['id']}: {exp['metrics']['warning']}")
    result = {
        "task": "classification",
        "device": describe_device(device),
        "backbone": _backbone_record(first),
        "feature_extraction": feature_record(first.features),
        "split": {
            "n_train": n_train,
            "n_val": len(split.val_paths),
            "classes": list(split.class_names),
            "method": split.method,
            "seed": config.seed,
        },
        "experiments": experiments,
        "skipped": skipped,
        "best_experiment": best["id"],
        "misclassified": misclassified_examples(split, probas[best["id"]]),
        "similarity": similarity,
        "learning_curve": curve,
        "backbone_ranking": ranking,
        "finetuned_backbone": chosen.name if len(experiments) > 1 else None,
        "deployment": deployment,
        "budget": {
            "seconds": config.budget_seconds,
            "used_seconds": round(deadline.elapsed, 3),
        },
        "warnings": warnings,
    }
    progress(Progress("done", 1.0, f"Best: {best['id']} "
                      f"{best['metrics']['accuracy']['value']:.1%}", metric=_headline(best)))
    return result


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.raise_if_cancelled()
