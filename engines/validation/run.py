"""The classification validation: evidence measured on the client's own sample.

Order and budget follow what each step tells per second spent: features of the first
backbone are computed once (and cached); the linear probe, similarity and the learning
curve then cost almost nothing on them. The images are then decoded once, and the real
training step of each fine-tune is timed on them; comparison backbones are featurized
only where their estimated cost fits beside the fine-tunes' measured minimum; the
fine-tunes share what is left, each run only if three epochs fit, at an input size and
epoch count chosen from the measured cost; deployment figures come last. Every stage's
predicted and actual seconds are recorded.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import torch

from engines.deployment import deployment_figures
from engines.device import describe_device, resolve_device
from engines.images import ELONGATED_ASPECT, aspect_ratios, choose_resize_mode
from engines.learning_curve import fit_learning_curve, learning_curve_points
from engines.progress import (
    CancelToken,
    Clock,
    Deadline,
    Progress,
    ProgressCallback,
    ignore_progress,
    scaled_progress,
)
from engines.results.base import message
from engines.validation.config import LabeledSplit, ValidationConfig
from engines.validation.embed import feature_record, similarity_or_reason
from engines.validation.finetuning import (
    MIN_INFORMATIVE_EPOCHS,
    StrategyCost,
    choose_size_and_epochs,
    measure_strategy_cost,
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
# What timing the fine-tunes' real steps costs, in forward passes of one image
# (two strategies, a warm-up and three passes of 8 images, a step ~3 forwards).
MEASURE_FORWARDS = 250


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
    fitted["note_code"] = message("curve_linear_probe_floor")
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
        "source": cast(Any, cand.model).pretrained_cfg.get("source", "timm"),
        "data_config": {
            k: list(v) if isinstance(v, tuple) else v for k, v in cand.data_cfg.items()
        },
        "n_params": int(sum(p.numel() for p in cand.model.parameters())),
        "flops_per_image": cand.flops_per_image,
        "load_seconds": round(cand.load_seconds, 3),
    }


def _stage(
    stages: list[dict[str, Any]],
    name: str,
    predicted: float | None,
    actual: float,
    **extra: Any,
) -> None:
    stages.append(
        {
            "stage": name,
            "predicted_seconds": None if predicted is None else round(predicted, 2),
            "actual_seconds": round(actual, 2),
            **extra,
        }
    )


def estimate_error(stages: list[dict[str, Any]]) -> float | None:
    """Median relative error |actual - predicted| / actual over the stages predicted.

    A fine-tune stopped early by its early-stopping slice is compared with the cost
    predicted for the epochs it ran (``predicted_seconds_for_run``), so that stopping
    early is not counted as an error of the cost model.
    """
    errors = []
    for st in stages:
        predicted = st.get("predicted_seconds_for_run", st.get("predicted_seconds"))
        actual = st.get("actual_seconds")
        if predicted is not None and actual:
            errors.append(abs(actual - predicted) / actual)
    return round(float(np.median(errors)), 3) if errors else None


def _decode_timed(
    paths: list,
    data_cfg: dict[str, Any],
    decoded: dict[str, np.ndarray],
    left: float,
    clock: Clock,
) -> tuple[float, float] | None:
    """Decode every image once for the fine-tunes, unless the sample's rate says it won't fit.

    Returns (predicted, actual) seconds, or None when skipped for time.
    """
    from engines.finetune import decode_all, decoded_key

    key = decoded_key(data_cfg)
    if key in decoded:
        return 0.0, 0.0
    full = int(key.split(":")[0])
    args = (full, data_cfg["interpolation"], data_cfg.get("resize_mode", "crop"))
    t0 = clock()
    k = min(16, len(paths))
    head = decode_all(paths[:k], *args)
    per_image = (clock() - t0) / max(k, 1)
    predicted = per_image * len(paths)
    if predicted - (clock() - t0) > left:
        return None
    rest = decode_all(paths[k:], *args) if len(paths) > k else head[:0]
    decoded[key] = np.concatenate([head, rest])
    return predicted, clock() - t0


def run_validation(
    split: LabeledSplit,
    config: ValidationConfig,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
    clock: Clock = time.monotonic,
) -> dict[str, Any]:
    """Measure how well pretrained backbones and transfer strategies fit the sample.

    The budget counts from ``config.started_at`` (the start of the whole job) and
    keeps ``config.report_reserve`` seconds for writing the result and report. Each
    stage is planned from a measured cost and its predicted and actual seconds are
    recorded in ``budget.stages``; a fine-tune runs when its measured cost for three
    epochs fits in the time left.

    Args:
        split: Training and held-out images with labels (duplicate groups kept on one
            side by the caller).
        config: Run settings, including the time budget.
        progress: Receives stage, overall fraction, ETA and the latest metric.
        cancel: Stops the run at the next check when set.
        clock: Monotonic clock (injectable for tests).

    Returns:
        JSON-ready evidence: ``task``, ``device``, ``backbone``, ``feature_extraction``,
        ``split``, ``experiments`` (same split for all), ``skipped``,
        ``best_experiment``, ``misclassified``, ``similarity``, ``learning_curve``,
        ``backbone_ranking``, ``deployment``, ``budget``, ``preprocessing`` and
        ``warnings``.

    Raises:
        engines.progress.Cancelled: The run was cancelled.
        engines.backbones.BackboneUnavailable: The first backbone cannot be built.

    """
    deadline = Deadline(config.budget_seconds, start=config.started_at, clock=clock)
    started_after = deadline.elapsed
    reserve = config.report_reserve + DEPLOYMENT_RESERVE

    def left() -> float:
        return deadline.remaining - reserve

    stages: list[dict[str, Any]] = []
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    warnings: list[str] = []
    warning_codes: list[dict[str, Any]] = []

    def warn(text: str, code: dict[str, Any]) -> None:
        warnings.append(text)
        warning_codes.append(code)

    paths = list(split.train_paths) + list(split.val_paths)
    n_train = len(split.train_paths)
    mode: str = config.resize_mode
    if mode == "auto":
        mode = choose_resize_mode(paths)
    ratios = aspect_ratios(paths)

    progress(Progress("load_backbone", 0.0, f"Loading {config.backbone}"))
    t0 = clock()
    first = load_candidate(
        config.backbone,
        paths,
        config,
        device,
        scaled_progress(progress, 0.02, 0.35),
        cancel,
        resize_mode=mode,
    )
    _stage(stages, f"features:{first.name}", None, clock() - t0)
    feats = first.features.features
    x_train, x_val = feats[:n_train], feats[n_train:]

    _check(cancel)
    progress(Progress("linear_probe", 0.36, "Fitting the linear probe"))
    t0 = clock()
    lp, lp_proba = linear_probe_experiment(
        x_train, x_val, split, first.name, config.seed, first.features.seconds
    )
    _stage(stages, "linear_probe", None, clock() - t0)
    experiments = [lp]
    probas = {lp["id"]: lp_proba}
    probe_proba = {first.name: lp_proba}  # each probed backbone's held-out probabilities
    acc = lp["metrics"]["accuracy"]
    progress(
        Progress(
            "linear_probe",
            0.4,
            f"Linear probe accuracy {acc['value']:.1%} "
            f"(95% CI {acc['ci_low']:.1%}-{acc['ci_high']:.1%})",
            metric=_headline(lp),
        )
    )
    similarity = _similarity(first, split, lp)

    _check(cancel)
    curve: dict[str, Any] | None
    t0 = clock()
    try:
        curve = _learning_curve(x_train, x_val, split, config, scaled_progress(progress, 0.4, 0.48))
    except ValueError as exc:
        curve = None
        warn(f"No learning curve: {exc}", message("no_learning_curve", error=str(exc)))
    _stage(stages, "learning_curve", None, clock() - t0)

    wanted = [s for s in config.strategies if s != "linear_probe"]
    decoded: dict[str, np.ndarray] = {}
    costs: dict[str, StrategyCost] = {}
    skipped: list[dict[str, Any]] = []
    # Past the budget nothing more is started: measuring costs would itself overrun it.
    spent = left() <= 0
    # Timing the real steps costs about as much as a few hundred forward passes; with
    # less time than twice that left, no fine-tune could fit anyway.
    per_image = first.features.seconds / max(len(paths), 1)
    if wanted and not spent and left() < 2 * MEASURE_FORWARDS * per_image:
        spent = True
    if wanted and not spent:
        progress(Progress("cost", 0.48, "Measuring what a fine-tune costs on these images"))
        costs = _prepare_finetunes(
            first,
            paths,
            n_train,
            len(split.val_paths),
            wanted,
            config,
            device,
            decoded,
            left(),
            stages,
            clock,
        )
        _check(cancel)
    min_need = sum(c.scaled(c.image_size).seconds(MIN_INFORMATIVE_EPOCHS) for c in costs.values())
    candidates = [first]
    if left() <= 0:
        if comparison_names(config):
            warn(
                "No other backbone was compared: the time budget was used up by the first "
                "look; give the validation more time.",
                message("no_backbone_comparison_budget"),
            )
    elif comparison_names(config):
        progress(Progress("backbone_ranking", 0.5, "Measuring what each backbone costs"))
        # Fine-tunes are the more informative evidence: the comparison gets what they
        # leave, at most a share of the time.
        share = RANKING_SHARE if costs else 0.9
        ranking_seconds = max(min(left() * share, left() - min_need), 0.0)
        candidates = gather_candidates(
            first,
            split,
            config,
            device,
            ranking_seconds,
            scaled_progress(progress, 0.5, 0.6),
            cancel,
            warn,
            resize_mode=mode,
            stages=stages,
            clock=clock,
        )
    progress(Progress("backbone_ranking", 0.6, "Ranking backbones by transferability"))
    ranking = rank_candidates(candidates, split, config.seed)
    by_name = {c.name: c for c in candidates}
    chosen = by_name[best_by_probe({r["backbone"]: r for r in ranking})]
    if chosen is not first:
        # The best probe is evidence in its own right: the verdict weighs the probe
        # strategy by it, and the fine-tunes that may run on this backbone by their own probe.
        chosen_feats = chosen.features.features
        chosen_lp, chosen_proba = linear_probe_experiment(
            chosen_feats[:n_train],
            chosen_feats[n_train:],
            split,
            chosen.name,
            config.seed,
            chosen.features.seconds,
        )
        experiments.append(chosen_lp)
        probas[chosen_lp["id"]] = chosen_proba
        probe_proba[chosen.name] = chosen_proba

    tuned: Candidate | None = None
    if wanted and not costs:
        too_little = spent or left() <= 0
        need = (
            "too little of the time budget was left to start it"
            if too_little
            else "decoding the images for it would not fit in the time left"
        )
        code = message(
            "finetune_skipped_no_time" if too_little else "finetune_skipped_decode_budget"
        )
        skipped = [
            _skip(s, f"{need}; give the validation more time to run it", None, code) for s in wanted
        ]
    elif wanted:
        tuned = first
        if chosen is not first:
            chosen_costs = _prepare_finetunes(
                chosen,
                paths,
                n_train,
                len(split.val_paths),
                wanted,
                config,
                device,
                decoded,
                left() - min_need,
                stages,
                clock,
            )
            need_seconds = sum(c.seconds(MIN_INFORMATIVE_EPOCHS) for c in chosen_costs.values())
            if chosen_costs and need_seconds <= left():
                tuned, costs = chosen, chosen_costs
            else:
                warn(
                    f"The fine-tunes ran on {first.name}, not on {chosen.name} (best probe): "
                    f"{chosen.name} would not fit the time left for at least "
                    f"{MIN_INFORMATIVE_EPOCHS} epochs.",
                    message(
                        "finetune_on_first_backbone",
                        first=first.name,
                        chosen=chosen.name,
                        epochs=MIN_INFORMATIVE_EPOCHS,
                    ),
                )
        lp_features = tuned.features.features[:n_train]  # the probe's, for LP-FT heads
        factor = 1.0
        low = 0.6
        step = 0.35 / max(len(wanted), 1)
        for i, strategy in enumerate(wanted):
            _check(cancel)
            cost = costs[strategy].scaled(costs[strategy].image_size, factor)
            rest = [
                costs[s].scaled(costs[s].image_size, factor).seconds(MIN_INFORMATIVE_EPOCHS)
                for s in wanted[i + 1 :]
                if s in costs
            ]
            avail = left()
            own = cost.seconds(MIN_INFORMATIVE_EPOCHS)
            give = avail
            if rest and own + sum(rest) <= avail:
                give = avail * own / (own + sum(rest))  # room beyond the minimum, shared
            choice = choose_size_and_epochs(cost, give, config.max_epochs, MIN_INFORMATIVE_EPOCHS)
            if choice is None:
                skipped.append(
                    _skip(
                        strategy,
                        f"needs about {own:.0f} s for {MIN_INFORMATIVE_EPOCHS} epochs (measured on "
                        f"these images) and {max(avail, 0):.0f} s of the budget were left; give "
                        "the validation more time to run it",
                        own,
                        message(
                            "finetune_skipped_budget",
                            needed_s=round(float(own), 1),
                            epochs=MIN_INFORMATIVE_EPOCHS,
                            left_s=round(float(max(avail, 0)), 1),
                        ),
                    )
                )
                continue
            size, epochs = choice
            at_size = cost.scaled(size)
            exp, proba = run_finetune(
                strategy,
                give,
                tuned.model,
                tuned.name,
                tuned.data_cfg,
                split,
                config,
                device,
                decoded,
                scaled_progress(progress, low, low + step),
                cancel,
                image_size=size,
                epochs=epochs,
                probe_features=lp_features,
                probe_val_proba=probe_proba[tuned.name],  # the checkpoint to beat
                clock=clock,
            )
            ran = exp["epochs"]
            predicted_run = at_size.seconds(ran)
            exp["planned_epochs"] = epochs
            exp["predicted_seconds"] = round(at_size.seconds(epochs), 2)
            _stage(
                stages,
                strategy,
                at_size.seconds(epochs),
                exp["seconds"],
                predicted_seconds_for_run=round(predicted_run, 2),
                epochs=ran,
                planned_epochs=epochs,
                image_size=size,
            )
            if predicted_run > 0:
                factor = float(np.clip(factor * exp["seconds"] / predicted_run, 0.5, 3.0))
            experiments.append(exp)
            probas[exp["id"]] = proba
            low += step
            a = exp["metrics"]["accuracy"]
            progress(
                Progress(
                    strategy,
                    low,
                    f"{strategy}: accuracy {a['value']:.1%} "
                    f"(95% CI {a['ci_low']:.1%}-{a['ci_high']:.1%})",
                    metric=_headline(exp),
                )
            )

    best = max(experiments, key=lambda e: e["metrics"]["accuracy"]["value"])
    _check(cancel)
    progress(Progress("deployment", 0.96, "Measuring model size and latency"))
    t0 = clock()
    deployment = {
        "model": chosen.name,
        **deployment_figures(
            chosen.model,
            chosen.data_cfg["input_size"],
            device,
            repeats=5 if deadline.remaining > reserve else 2,
        ),
        "alternatives": [
            {
                "backbone": row["backbone"],
                "flops_per_image": row["flops_per_image"],
                "linear_probe_accuracy": row["linear_probe_accuracy"],
            }
            for row in ranking
        ],
    }
    # a fixed reserve, not an estimate: kept out of the cost model's error
    _stage(stages, "deployment", None, clock() - t0, reserved_seconds=DEPLOYMENT_RESERVE)
    for exp in experiments:
        if exp["metrics"].get("warning"):
            warn(
                f"{exp['id']}: {exp['metrics']['warning']}",
                message(
                    "experiment_warning",
                    strategy=exp["strategy"],
                    warning=exp["metrics"].get("warning_code"),
                ),
            )
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
        "preprocessing": {
            "resize_mode": mode,
            "chosen_by": "aspect ratios" if config.resize_mode == "auto" else "setting",
            "median_aspect_ratio": round(float(np.median(ratios)), 3) if ratios else None,
            "elongated_from": ELONGATED_ASPECT,
        },
        "experiments": experiments,
        "skipped": skipped,
        "best_experiment": best["id"],
        "misclassified": misclassified_examples(split, probas[best["id"]]),
        "similarity": similarity,
        "learning_curve": curve,
        "backbone_ranking": ranking,
        "finetuned_backbone": tuned.name if len(experiments) > 1 and tuned else None,
        "deployment": deployment,
        "budget": {
            "seconds": config.budget_seconds,
            "used_seconds": round(deadline.elapsed, 3),
            "started_after_seconds": round(started_after, 3),
            "reserve_seconds": round(reserve, 2),
            "stages": stages,
            "estimate_error_median": estimate_error(stages),
            "bought": _bought(experiments, skipped, candidates),
        },
        "warnings": warnings,
        "warning_codes": warning_codes,
    }
    progress(
        Progress(
            "done",
            1.0,
            f"Best: {best['id']} {best['metrics']['accuracy']['value']:.1%}",
            metric=_headline(best),
        )
    )
    return result


def _skip(
    strategy: str, reason: str, seconds: float | None, code: dict[str, Any]
) -> dict[str, Any]:
    return {
        "strategy": strategy,
        "reason": reason,
        "reason_code": code,
        "estimated_seconds": None if seconds is None else round(seconds, 1),
    }


def _bought(
    experiments: list[dict[str, Any]], skipped: list[dict[str, Any]], candidates: list
) -> list[str]:
    """What the budget bought, one sentence per item, for the report."""
    out = [f"{len(candidates)} backbone(s) compared by transferability and linear probe"]
    for exp in experiments:
        if exp["strategy"] == "linear_probe":
            out.append(f"linear probe on {exp['backbone']} ({exp['seconds']:.0f} s)")
        else:
            out.append(
                f"{exp['strategy'].replace('_', ' ')} on {exp['backbone']}: "
                f"{exp['epochs']} epoch(s) at {exp['image_size']} px "
                f"({exp['seconds']:.0f} s)"
            )
    for s in skipped:
        need = f", needs about {s['estimated_seconds']:.0f} s" if s.get("estimated_seconds") else ""
        out.append(f"{s['strategy'].replace('_', ' ')} not run{need}")
    return out


def _prepare_finetunes(
    cand: Candidate,
    paths: list,
    n_train: int,
    n_val: int,
    wanted: Sequence[str],
    config: ValidationConfig,
    device: torch.device,
    decoded: dict[str, np.ndarray],
    seconds: float,
    stages: list[dict[str, Any]],
    clock: Clock,
) -> dict[str, StrategyCost]:
    """Decode the images once and time each wanted strategy's real step on them.

    Returns the measured costs, or {} when decoding would not fit in ``seconds``.
    """
    decode = _decode_timed(paths, cand.data_cfg, decoded, seconds, clock)
    if decode is None:
        return {}
    if decode[1] > 0:
        _stage(stages, "decode", decode[0], decode[1])
    from engines.finetune import decoded_key

    images = decoded[decoded_key(cand.data_cfg)][:n_train]
    t0 = clock()
    costs = {
        s: measure_strategy_cost(
            s, cand.model, cand.data_cfg, images, n_train, n_val, config, device, clock=clock
        )
        for s in wanted
    }
    _stage(stages, f"cost_measurement:{cand.name}", None, clock() - t0)
    return costs


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.raise_if_cancelled()
