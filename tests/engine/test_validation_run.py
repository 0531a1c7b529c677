"""The whole validation on real photos: strategies, ranking, curve, budget, other layouts."""

import numpy as np
import pytest

from advisor import pipeline
from advisor.intake import Intake
from engines.progress import Cancelled, CancelToken
from engines.results import RunConfig, Validation
from engines.validation import LabeledSplit, ValidationConfig
from engines.validation.finetuning import StrategyCost, choose_size_and_epochs
from tests.conftest import make_class_folders


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("full")
    folder = make_class_folders(tmp / "sample", {"cat": 16, "coffee": 16}, size=72)
    # A planted copy: the same image saved twice must stay on one side of the split.
    (folder / "cat" / "copy_of_cat_000.jpg").write_bytes(
        (folder / "cat" / "cat_000.jpg").read_bytes()
    )
    stages = []
    # A generous budget so that every strategy is planned whatever the machine's speed;
    # early stopping ends the fine-tunes long before it.
    result = pipeline.validate(
        folder,
        tmp / "out",
        RunConfig(
            budget_seconds=1200,
            device="cpu",
            cache_dir=tmp / "cache",
            # the comparison is plumbing: the tiny random model keeps it cheap
            compare_backbones=("test_efficientnet",),
        ),
        intake=Intake(target_value=0.95),
        progress=stages.append,
    ).to_json_dict()
    return result, stages


def test_every_strategy_runs_on_the_same_split(full_run):
    result, _ = full_run
    v = result["validation"]
    strategies = list(dict.fromkeys(e["strategy"] for e in v["experiments"]))
    assert strategies == ["linear_probe", "partial_finetune", "full_finetune"], v["skipped"]
    probed = {e["backbone"] for e in v["experiments"] if e["strategy"] == "linear_probe"}
    assert {e["backbone"] for e in v["experiments"]} <= probed  # each fine-tune's own probe
    assert {e["n_val"] for e in v["experiments"]} == {v["split"]["n_val"]}
    for exp in v["experiments"]:
        acc = exp["metrics"]["accuracy"]
        assert 0 <= acc["ci_low"] <= acc["value"] <= acc["ci_high"] <= 1
        assert exp["seconds"] > 0
    (partial,) = [e for e in v["experiments"] if e["strategy"] == "partial_finetune"]
    assert partial["frozen_stages"] >= 1 and partial["cached_frozen_part"]
    assert v["best_experiment"] in {e["id"] for e in v["experiments"]}


def test_the_planted_signal_is_learned_by_the_probe(full_run):
    result, _ = full_run
    probe = result["validation"]["experiments"][0]["metrics"]
    assert probe["accuracy"]["value"] >= 0.9 and probe["better_than_chance"]
    assert len(probe["confusion_matrix"]) == 2 and "roc_auc" in probe


def test_backbones_are_ranked_and_confirmed_by_a_probe(full_run):
    v = full_run[0]["validation"]
    ranking = v["backbone_ranking"]
    assert {r["backbone"] for r in ranking} == {"efficientnet_lite0", "test_efficientnet"}
    assert [r["rank"] for r in ranking] == sorted(r["rank"] for r in ranking)
    for row in ranking:
        assert set(row["scores"]) == {"logme", "h_score", "nleep"}
        assert row["flops_per_image"] > 0
        assert 0 <= row["linear_probe_accuracy"]["value"] <= 1
    alternatives = v["deployment"]["alternatives"]
    assert len(alternatives) == 2 and v["deployment"]["latency_cpu"]


def test_no_fine_tune_ends_below_its_own_probe(full_run):
    v = full_run[0]["validation"]
    probes = {
        e["backbone"]: e["metrics"]["accuracy"]
        for e in v["experiments"]
        if e["strategy"] == "linear_probe"
    }
    tuned = [e for e in v["experiments"] if e["strategy"] != "linear_probe"]
    assert len(tuned) == 2
    for exp in tuned:
        assert exp["head_init"] == "probe" and exp["n_early_stop"] >= 4
        assert exp["metrics"]["accuracy"]["value"] >= probes[exp["backbone"]]["ci_low"], exp["id"]
        assert exp["best_epoch"] <= exp["epochs"]


def test_every_stage_records_predicted_and_actual_seconds(full_run):
    result, _ = full_run
    budget = result["validation"]["budget"]
    names = [s["stage"] for s in budget["stages"]]
    assert {"linear_probe", "decode", "partial_finetune", "full_finetune", "deployment"} <= set(
        names
    )
    for st in budget["stages"]:
        assert st["actual_seconds"] >= 0
    tuned = [s for s in budget["stages"] if s["stage"].endswith("finetune")]
    assert all(s["predicted_seconds"] > 0 and s["predicted_seconds_for_run"] > 0 for s in tuned)
    assert budget["estimate_error_median"] is not None
    assert budget["bought"] and budget["used_seconds"] <= budget["seconds"]
    assert result["validation"]["preprocessing"]["resize_mode"] == "crop"


def test_learning_curve_predicts_more_data_and_images_for_the_target(full_run):
    curve = full_run[0]["validation"]["learning_curve"]
    sizes = [p["n"] for p in curve["points"]]
    assert sizes == sorted(sizes) and len(sizes) >= 3
    fit = curve["fit"]
    multiples = [round(p["extrapolation"]) for p in fit["predictions"]]
    assert multiples == [2, 10]
    for pred in fit["predictions"]:
        assert pred["ci_low"] <= pred["value"] <= pred["ci_high"] <= 1.0
    (needed,) = fit["images_needed"]
    assert needed["target"] == 0.95
    assert needed["status"] in ("reachable", "already_reached", "uncertain", "not_reachable")


def test_duplicates_stay_on_one_side_and_are_reported(full_run):
    result, _ = full_run
    health = result["profile"]["health"]
    assert result["profile"]["n_images"] == 33
    exact = health["duplicates"]["exact"]["groups"]
    assert len(exact) == 1 and len(exact[0]["members"]) == 2
    # random crops of one photo may also be near-copies: never more than the exact count
    assert health["effective_n_images"] <= 32
    assert result["profile"]["effective_n_images"] == health["effective_n_images"]
    assert "duplicate groups kept on one side" in result["validation"]["split"]["method"]


def test_progress_is_monotonic_and_ends_done(full_run):
    _, stages = full_run
    fractions = [p.fraction for p in stages]
    assert fractions[-1] == 1.0 and stages[-1].stage == "done"
    assert all(b >= a - 1e-9 for a, b in zip(fractions, fractions[1:], strict=False))
    seen = {p.stage for p in stages}
    assert {
        "embed",
        "health",
        "linear_probe",
        "learning_curve",
        "partial_finetune",
        "full_finetune",
        "deployment",
    } <= seen


def test_the_recommendation_is_reevaluated_with_the_evidence(full_run):
    rec = full_run[0]["recommendation"]
    assert rec["verdict"] in ("validated", "revised", "inconclusive")
    assert rec["verdict_reason"]["en"] and rec["verdict_reason"]["ko"]
    assert rec["prior"]["strategy_id"]


def test_size_and_epochs_come_from_the_measured_cost():
    cost = StrategyCost("full_finetune", 224, setup=0.0, per_epoch=10.0, final=1.0)
    assert choose_size_and_epochs(cost, 200, max_epochs=15) == (224, 15)
    assert choose_size_and_epochs(cost, 56, max_epochs=15) == (224, 5)
    # three epochs at 224 px need 31 s: a smaller input is chosen, not a useless run
    size, epochs = choose_size_and_epochs(cost, 25, max_epochs=15)
    assert size < 224 and epochs >= 3
    assert cost.scaled(size).seconds(epochs) <= 25
    assert choose_size_and_epochs(cost, 5, max_epochs=15) is None
    assert cost.scaled(112).per_epoch == pytest.approx(2.5)


class TickingClock:
    """A fake clock: every reading advances it by a fixed tick, whatever the real time."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 1000.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def tiny_split(folder):
    paths, labels = [], []
    for i, name in enumerate(("cat", "coffee")):
        files = sorted((folder / name).glob("*.jpg"))
        paths += files
        labels += [i] * len(files)
    val = set(range(0, len(paths), 4))
    pick = lambda keep: [j for j in range(len(paths)) if (j in val) == keep]  # noqa: E731
    return LabeledSplit(
        [paths[j] for j in pick(False)],
        [labels[j] for j in pick(False)],
        [paths[j] for j in pick(True)],
        [labels[j] for j in pick(True)],
        ["cat", "coffee"],
    )


def test_a_fake_clock_budget_is_kept_and_what_did_not_fit_says_how_long_it_needs(tmp_path):
    from engines.progress import Deadline
    from engines.validation import run_validation

    now = [100.0]
    deadline = Deadline(30, start=90.0, clock=lambda: now[0])
    assert deadline.elapsed == 10 and deadline.remaining == 20
    now[0] = 125.0
    assert deadline.remaining == -5

    split = tiny_split(make_class_folders(tmp_path / "s", {"cat": 10, "coffee": 10}, size=48))

    def run(budget):
        config = ValidationConfig(
            backbone="test_efficientnet",
            device="cpu",
            budget_seconds=budget,
            compare_backbones=(),
            max_epochs=4,
            learning_curve_repeats=1,
            report_reserve_seconds=1.0,
        )
        # every clock reading advances 0.25 fake seconds: the run is timed in fake time
        return run_validation(split, config, clock=TickingClock(0.25))

    roomy = run(60)
    assert [e["strategy"] for e in roomy["experiments"]] == [
        "linear_probe",
        "partial_finetune",
        "full_finetune",
    ]
    assert roomy["budget"]["used_seconds"] <= 60 * 1.1
    tight = run(14)
    assert tight["budget"]["used_seconds"] <= 14 * 1.1
    assert [e["strategy"] for e in tight["experiments"]] == ["linear_probe"]
    for skip in tight["skipped"]:
        assert "give the validation more time" in skip["reason"]
        assert skip["reason_code"]["code"].startswith("finetune_skipped_")
    assert any(s["estimated_seconds"] for s in tight["skipped"])  # the measured need
    again = run(14)
    assert again["budget"]["stages"] == tight["budget"]["stages"]
    assert again["skipped"] == tight["skipped"]


def test_a_comparison_backbone_is_timed_on_the_samples_images_before_it_runs(tmp_path):
    import torch

    from engines.progress import ignore_progress
    from engines.validation.ranking import MEASURE_IMAGES, gather_candidates, load_candidate

    split = tiny_split(make_class_folders(tmp_path / "s", {"cat": 24, "coffee": 24}, size=48))
    paths = list(split.train_paths) + list(split.val_paths)
    n = len(paths)
    cpu = torch.device("cpu")

    def gather(seconds, cache):
        config = ValidationConfig(
            backbone="test_efficientnet",
            device="cpu",
            compare_backbones=("test_efficientnet_gn",),
            cache_dir=tmp_path / cache,
        )
        first = load_candidate("test_efficientnet", paths, config, cpu)
        stages, logged = [], []
        out = gather_candidates(
            first,
            split,
            config,
            cpu,
            seconds,
            ignore_progress,
            None,
            lambda _text, code: logged.append(code),
            stages=stages,
            clock=TickingClock(0.25),  # every reading advances 0.25 fake seconds
        )
        return out, stages, logged

    roomy, stages, logged = gather(600.0, "a")
    assert [c.name for c in roomy] == ["test_efficientnet", "test_efficientnet_gn"] and not logged
    measured, featurized = stages
    assert measured["stage"] == "cost_measurement:features:test_efficientnet_gn"
    assert measured["predicted_seconds"] is None
    assert featurized["stage"] == "features:test_efficientnet_gn"
    # In fake time: opening the runtime takes one tick, the two timed batches of 16
    # five more; the 16 images left are predicted at that rate.
    per_image = 5 * 0.25 / (2 * MEASURE_IMAGES)
    assert featurized["predicted_seconds"] == pytest.approx(0.25 + 16 * per_image, abs=0.01)
    # the timed images were cached, not thrown away
    assert roomy[1].features.cached == 2 * MEASURE_IMAGES
    assert roomy[1].features.features.shape[0] == n

    tight, stages, logged = gather(1.0, "b")  # less than the measurement itself takes
    assert [c.name for c in tight] == ["test_efficientnet"]
    (code,) = logged
    assert code["code"] == "backbone_not_compared_budget"
    assert code["params"]["timed_images"] == 2 * MEASURE_IMAGES
    assert code["params"]["needed_s"] == pytest.approx(0.25 + 16 * per_image, abs=0.1)
    assert [s["stage"] for s in stages] == ["cost_measurement:features:test_efficientnet_gn"]

    assert gather(0.0, "c")[2][0]["code"] == "backbone_not_compared_no_time"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budget_seconds": 0}, "budget"),
        ({"strategies": ("magic",)}, "Unknown strategy"),
        ({"target_accuracy": 1.5}, "target accuracy"),
        ({"freeze_fraction": -0.1}, "frozen share"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ValidationConfig(**kwargs)


def test_the_linear_probe_is_always_part_of_the_run():
    assert ValidationConfig(strategies=("full_finetune",)).strategies == (
        "linear_probe",
        "full_finetune",
    )


def test_a_cancelled_run_stops_with_cancelled(tmp_path):
    folder = make_class_folders(tmp_path / "s", {"cat": 10, "coffee": 10})
    token = CancelToken()

    def cancel_on_health(p):
        if p.stage == "health":
            token.cancel()

    with pytest.raises(Cancelled):
        pipeline.validate(
            folder,
            tmp_path / "out",
            RunConfig(budget_seconds=60, device="cpu"),
            progress=cancel_on_health,
            cancel=token,
        ).to_json_dict()
    assert not (tmp_path / "out" / "result.json").exists()


def test_an_unlabeled_sample_gets_natural_groups(tmp_path):
    folder = make_class_folders(tmp_path / "mixed", {"cat": 10, "coffee": 10})
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in folder.rglob("*.jpg"):
        path.replace(flat / path.name)
    result = pipeline.validate(
        flat, tmp_path / "out", RunConfig(budget_seconds=60, device="cpu")
    ).to_json_dict()
    v = result["validation"]
    assert v["task"] == "unlabeled" and v["experiments"] == []
    assert v["clusters"]["k"] >= 2
    reps = [r for c in v["clusters"]["clusters"] for r in c["representatives"]]
    assert reps and all(r.endswith(".jpg") and not r.startswith("/") for r in reps)


def test_an_unpaired_sample_gets_the_domain_gap(tmp_path):
    make_class_folders(tmp_path / "u" / "domain_a", {"cat": 10}, seed=1)
    make_class_folders(tmp_path / "u" / "domain_b", {"coffee": 10}, seed=2)
    # flatten: domain_a/*.jpg and domain_b/*.jpg
    for side in ("domain_a", "domain_b"):
        for path in list((tmp_path / "u" / side).rglob("*.jpg")):
            path.replace(tmp_path / "u" / side / path.name)
    result = pipeline.validate(
        tmp_path / "u", tmp_path / "out", RunConfig(budget_seconds=60, device="cpu")
    ).to_json_dict()
    v = result["validation"]
    assert v["task"] == "unpaired" and result["profile"]["data_type"] == "unpaired"
    gap = v["domain_gap"]
    assert 0 <= gap["ci_low"] <= gap["pad"] <= gap["ci_high"] <= 2
    # cats and coffee cups are easy to tell apart: a large gap
    assert gap["pad"] > 1.0


def test_the_evidence_reads_curve_predictions_and_images_needed():
    validation = {
        "task": "classification",
        "experiments": [],
        "similarity": {"call": "similar", "score": 0.8},
        "learning_curve": {
            "fit": {
                "model": "power_law",
                "predictions": [
                    {"n": 20, "value": 0.8, "extrapolation": 2.0},
                    {"n": 100, "value": 0.9, "extrapolation": 10.0},
                ],
                "images_needed": [{"target": 0.85, "status": "reachable", "n": 60}],
            }
        },
    }
    evidence = pipeline.evidence_from_validation(Validation.model_validate(validation), 0.85)
    assert evidence.predicted_accuracy_10x == 0.9
    assert evidence.images_for_target == 60
    assert evidence.measured_similarity == "similar"
    validation["learning_curve"]["fit"]["images_needed"][0]["status"] = "not_reachable"
    typed = Validation.model_validate(validation)
    assert pipeline.evidence_from_validation(typed, 0.85).images_for_target is None


def test_misclassified_examples_name_relative_paths(tmp_path):
    from engines.validation.probe import misclassified_examples

    root = tmp_path / "up"
    split = LabeledSplit(
        [root / "a/1.jpg"], [0], [root / "a/2.jpg", root / "b/3.jpg"], [0, 1], ["a", "b"], root=root
    )
    proba = np.array([[0.9, 0.1], [0.8, 0.2]])
    (wrong,) = misclassified_examples(split, proba)
    assert wrong == {"path": "b/3.jpg", "true": "b", "predicted": "a", "confidence": 0.8}


def test_a_used_up_budget_starts_nothing_more_and_says_why(tmp_path):
    folder = make_class_folders(tmp_path / "s", {"cat": 8, "coffee": 8})
    result = pipeline.validate(
        folder,
        tmp_path / "out",
        RunConfig(budget_seconds=0.01, device="cpu", report_formats=("html",)),
    ).to_json_dict()
    v = result["validation"]
    assert [e["strategy"] for e in v["experiments"]] == ["linear_probe"]
    assert [s["strategy"] for s in v["skipped"]] == ["partial_finetune", "full_finetune"]
    assert all("budget" in s["reason"] for s in v["skipped"])
    assert [r["backbone"] for r in v["backbone_ranking"]] == ["efficientnet_lite0"]
    assert any("No other backbone was compared" in w for w in v["warnings"])
    # one code per warning, in the same order, for the locale files
    assert len(v["warning_codes"]) == len(v["warnings"])
    assert {"code": "no_backbone_comparison_budget", "params": {}} in v["warning_codes"]


def test_an_unlearnable_split_does_not_look_learnable(tmp_path):
    # Crops of one photo split at random into two "classes": nothing to learn.
    folder = make_class_folders(tmp_path / "one", {"cat": 40}, seed=5)
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / "s" / name).mkdir(parents=True)
    for i, path in enumerate(sorted((folder / "cat").glob("*.jpg"))):
        side = "a" if rng.permutation(40)[i] % 2 else "b"
        path.replace(tmp_path / "s" / side / path.name)
    result = pipeline.validate(
        tmp_path / "s",
        tmp_path / "out",
        RunConfig(
            budget_seconds=60,
            device="cpu",
            strategies=("linear_probe",),
            compare_backbones=(),
            report_formats=("html",),
        ),
    ).to_json_dict()
    metrics = result["validation"]["experiments"][0]["metrics"]
    assert not metrics["better_than_chance"]
    assert metrics["balanced_accuracy"]["ci_low"] <= 0.5


def test_same_seed_same_numbers(two_class_folder, tmp_path):
    runs = [
        pipeline.validate(
            two_class_folder,
            tmp_path / f"out{i}",
            RunConfig(
                budget_seconds=60,
                device="cpu",
                strategies=("linear_probe",),
                compare_backbones=(),
                report_formats=("html",),
                seed=7,
            ),
        ).to_json_dict()["validation"]
        for i in range(2)
    ]
    first, second = (v["experiments"][0]["metrics"] for v in runs)
    assert first == second
    assert runs[0]["learning_curve"] == runs[1]["learning_curve"]
