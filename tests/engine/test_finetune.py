"""Fine-tuning strategies on small real images, with a tiny model and the bundled one."""

import numpy as np
import pytest
import torch

from engines.backbones import create_backbone, data_config
from engines.deployment import count_flops, deployment_figures
from engines.finetune import FinetuneConfig, finetune
from engines.progress import Cancelled, CancelToken
from tests.conftest import make_class_folders


def labeled_paths(folder, classes):
    paths, labels = [], []
    for i, name in enumerate(classes):
        files = sorted((folder / name).glob("*.jpg"))
        paths += files
        labels += [i] * len(files)
    return paths, labels


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = make_class_folders(tmp_path_factory.mktemp("ft"), {"cat": 16, "coffee": 16}, size=72)
    paths, labels = labeled_paths(folder, ["cat", "coffee"])
    rng = np.random.default_rng(0)
    order = rng.permutation(len(paths))
    val = set(order[:8].tolist())
    tr = [i for i in range(len(paths)) if i not in val]
    va = sorted(val)
    return (
        [paths[i] for i in tr],
        [labels[i] for i in tr],
        [paths[i] for i in va],
        [labels[i] for i in va],
    )


@pytest.fixture(scope="module")
def lite0():
    return create_backbone("efficientnet_lite0")


def run(model, sample, **kw):
    tp, tl, vp, vl = sample
    cfg = FinetuneConfig(**{"max_epochs": 3, "batch_size": 16, **kw})
    return finetune(
        model,
        data_config(model),
        tp,
        tl,
        vp,
        vl,
        ["cat", "coffee"],
        cfg,
        device=torch.device("cpu"),
        budget_seconds=120,
    )


def test_partial_finetune_learns_a_planted_signal_with_the_frozen_part_cached(lite0, sample):
    result = run(lite0, sample, strategy="partial_finetune", freeze_stages=5, image_size=128)
    assert result["cached_frozen_part"] is True
    assert result["frozen_stages"] == 5
    assert result["metrics"]["accuracy"]["value"] >= 0.75
    assert 1 <= result["epochs"] <= 3
    assert result["trainable_parameters"] < sum(p.numel() for p in lite0.parameters())


def test_full_finetune_uses_layer_decay_and_reports_history(sample):
    model = create_backbone("test_efficientnet")
    result = run(model, sample, strategy="full_finetune", max_epochs=2, image_size=64)
    assert result["strategy"] == "full_finetune"
    assert result["config"]["layer_decay"] == 0.7
    assert len(result["history"]) == result["epochs"] >= 1
    assert result["trainable_parameters"] > 0
    acc = result["metrics"]["accuracy"]
    assert 0 <= acc["ci_low"] <= acc["value"] <= acc["ci_high"] <= 1


def test_finetune_is_reproducible_with_a_seed(sample):
    model = create_backbone("test_efficientnet")
    a = run(model, sample, strategy="partial_finetune", freeze_stages=2, image_size=64, seed=3)
    b = run(model, sample, strategy="partial_finetune", freeze_stages=2, image_size=64, seed=3)
    assert a["metrics"]["accuracy"] == b["metrics"]["accuracy"]
    assert [h["train_loss"] for h in a["history"]] == [h["train_loss"] for h in b["history"]]


def test_finetune_can_be_cancelled(sample):
    model = create_backbone("test_efficientnet")
    token = CancelToken()
    token.cancel()
    tp, tl, vp, vl = sample
    with pytest.raises(Cancelled):
        finetune(
            model,
            data_config(model),
            tp,
            tl,
            vp,
            vl,
            ["cat", "coffee"],
            FinetuneConfig(strategy="full_finetune", image_size=64),
            device=torch.device("cpu"),
            budget_seconds=60,
            cancel=token,
        )


def test_bad_strategy_is_refused():
    with pytest.raises(ValueError, match="Unknown fine-tuning strategy"):
        FinetuneConfig(strategy="magic")


def test_deployment_figures_are_measured(lite0):
    figures = deployment_figures(
        create_backbone("test_efficientnet"), 64, torch.device("cpu"), repeats=2
    )
    assert figures["parameters"] > 0 and figures["size_bytes"] > 0
    assert figures["latency_cpu"]["median_ms"] > 0
    # EfficientNet-Lite0 is ~0.39 GMACs at 224 px, i.e. ~0.8 GFLOPs
    assert 0.6e9 < count_flops(lite0, 224) < 1.0e9


def test_the_probe_folded_into_a_linear_head_gives_the_probe_probabilities():
    from engines.finetune import probe_to_head
    from engines.linear_probe import fit_linear_probe

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)) * rng.uniform(0.1, 5, size=6) + rng.normal(size=6)
    y = (x[:, 0] + rng.normal(size=40) > 0).astype(int) + (x[:, 1] > 1)
    probe = fit_linear_probe(x, y, classes=np.arange(4))  # class 3 never seen
    head = torch.nn.Linear(6, 4)
    probe_to_head(probe, head)
    with torch.no_grad():
        proba = head(torch.from_numpy(x).float()).softmax(-1).numpy()
    np.testing.assert_allclose(proba, probe.predict_proba(x), atol=1e-4)


def test_a_destructive_fine_tune_keeps_the_probe_checkpoint(sample):
    # LP-FT: the probe-initialised model is "epoch 0"; a learning rate that wrecks the
    # network makes every later epoch worse on the early-stopping slice, so epoch 0 is kept.
    model = create_backbone("test_efficientnet")
    kept = run(
        model,
        sample,
        strategy="full_finetune",
        max_epochs=2,
        image_size=64,
        lr=5.0,
        warmup_fraction=0.0,
        early_stop_fraction=0.25,
        patience=5,
    )
    assert kept["head_init"] == "probe" and kept["n_early_stop"] >= 4
    start = kept["initial_early_stop"]["early_stop_accuracy"]
    assert all(h["early_stop_accuracy"] < start for h in kept["history"])
    assert kept["best_epoch"] == 0
    untrained = run(
        model,
        sample,
        strategy="full_finetune",
        max_epochs=1,
        image_size=64,
        lr=1e-12,
        warmup_fraction=0.0,
        early_stop_fraction=0.25,
    )
    assert kept["metrics"]["accuracy"] == pytest.approx(untrained["metrics"]["accuracy"])


def probed_features(sample):
    """The tiny model, its preprocessing, and the probe's pooled features of the sample."""
    from engines.finetune import _center, _normalise, decode_for

    model = create_backbone("test_efficientnet").eval()
    cfg = data_config(model)
    size = cfg["input_size"]
    mean = torch.tensor(cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"]).view(1, 3, 1, 1)

    def pooled(paths):
        x = _normalise(_center(decode_for(paths, cfg, {}, size), size), mean, std)
        with torch.inference_mode():
            return model.forward_head(model.forward_features(x), pre_logits=True).numpy()

    tp, _, vp, _ = sample
    return model, cfg, pooled(tp), pooled(vp)


def test_given_the_probes_features_epoch_0_is_the_probe_itself(sample):
    # The head is fitted on the probe's own features and rows, so a fine-tune that keeps
    # epoch 0 scores exactly what the probe scores on the held-out images.
    from engines.linear_probe import fit_linear_probe

    model, cfg, train_features, val_features = probed_features(sample)
    size = cfg["input_size"]
    tp, tl, vp, vl = sample
    probe = fit_linear_probe(train_features, np.asarray(tl), classes=np.arange(2))
    probe_proba = probe.predict_proba(val_features)
    probe_accuracy = float((probe_proba.argmax(1) == np.asarray(vl)).mean())
    cfg_ft = FinetuneConfig(
        strategy="full_finetune",
        max_epochs=2,
        batch_size=16,
        image_size=size,
        lr=5.0,
        warmup_fraction=0.0,
        early_stop_fraction=0.25,
        patience=5,
    )
    kept = finetune(
        model,
        cfg,
        tp,
        tl,
        vp,
        vl,
        ["cat", "coffee"],
        cfg_ft,
        device=torch.device("cpu"),
        budget_seconds=120,
        probe_features=train_features,
        probe_val_proba=probe_proba,
    )
    assert kept["head_init"] == "probe" and kept["best_epoch"] == 0
    assert kept["final_model"] == "linear_probe"
    assert kept["metrics"]["accuracy"]["value"] == pytest.approx(probe_accuracy)
    np.testing.assert_allclose(kept["_proba"], probe_proba, atol=1e-3)

    # Epoch 0 was judged fairly: by a probe fitted on the rows the fine-tune trains on,
    # scored on the early-stopping slice it never saw (not the probe fitted on the slice).
    from engines.finetune import _inner_split

    y = np.asarray(tl)
    inner, stop = _inner_split(y, cfg_ft.early_stop_fraction, cfg_ft.seed)
    assert len(stop) and kept["n_early_stop"] == len(stop)
    fair = fit_linear_probe(train_features[inner], y[inner], classes=np.arange(2))
    fair_loss = -np.log(
        np.clip(fair.predict_proba(train_features[stop])[np.arange(len(stop)), y[stop]], 1e-7, 1)
    ).mean()
    assert kept["initial_early_stop"]["early_stop_loss"] == pytest.approx(fair_loss, abs=2e-3)
    flattering = -np.log(
        np.clip(probe.predict_proba(train_features[stop])[np.arange(len(stop)), y[stop]], 1e-7, 1)
    ).mean()
    assert abs(flattering - fair_loss) > 1e-2  # the two differ: the test can tell them apart


def test_a_fine_tune_at_a_smaller_input_size_cannot_end_below_its_probe(sample):
    # Under load the plan shrinks the input; the network's epoch 0 at that size is not
    # the probe. The probe, at its own size, stays a checkpoint: when no epoch beats it
    # on the slice, the fine-tune ends as the probe and scores exactly what it scores.
    from engines.linear_probe import fit_linear_probe

    model, cfg, train_features, val_features = probed_features(sample)
    size = cfg["input_size"]
    tp, tl, vp, vl = sample
    probe = fit_linear_probe(train_features, np.asarray(tl), classes=np.arange(2))
    probe_proba = probe.predict_proba(val_features)

    def tune(probe_val):
        return finetune(
            model,
            cfg,
            tp,
            tl,
            vp,
            vl,
            ["cat", "coffee"],
            FinetuneConfig(
                strategy="full_finetune",
                max_epochs=2,
                batch_size=16,
                image_size=size // 2,
                lr=5.0,  # wrecks the network: no epoch beats the start
                warmup_fraction=0.0,
                early_stop_fraction=0.25,
                patience=5,
            ),
            device=torch.device("cpu"),
            budget_seconds=120,
            probe_features=train_features,
            probe_val_proba=probe_val,
        )

    kept = tune(probe_proba)
    assert kept["image_size"] == size // 2 and kept["best_epoch"] == 0
    assert kept["final_model"] == "linear_probe"
    assert "linear_probe_early_stop_accuracy" in kept["initial_early_stop"]
    np.testing.assert_allclose(kept["_proba"], probe_proba, atol=1e-6)
    # without the probe's held-out probabilities there is no probe to end as: the network's
    # own epoch 0 at the smaller size is kept instead
    alone = tune(None)
    assert alone["final_model"] == "fine_tuned" and alone["best_epoch"] == 0
    assert not np.allclose(alone["_proba"], probe_proba, atol=1e-3)


def test_elongated_samples_are_resized_whole_and_square_ones_centre_cropped(tmp_path):
    from PIL import Image

    from engines.features import prepare_image, with_resize_mode
    from engines.finetune import decode_square
    from engines.images import choose_resize_mode

    long_paths, square_paths = [], []
    for i in range(5):
        strip = np.zeros((40, 160, 3), np.uint8)
        strip[:, :20] = 255  # a mark at the left end: a centre crop cuts it off
        long_paths.append(tmp_path / f"long{i}.png")
        Image.fromarray(strip).save(long_paths[-1])
        square_paths.append(tmp_path / f"sq{i}.png")
        Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(square_paths[-1])
    assert choose_resize_mode(long_paths) == "squash"
    assert choose_resize_mode(square_paths) == "crop"
    cfg = {
        "input_size": 32,
        "crop_pct": 1.0,
        "interpolation": "bilinear",
        "mean": (0.5,) * 3,
        "std": (0.5,) * 3,
    }
    squashed = with_resize_mode(cfg, "auto", long_paths)
    assert squashed["resize_mode"] == "squash"
    assert "resize_mode" not in with_resize_mode(cfg, "auto", square_paths)  # same cache key
    whole = prepare_image(long_paths[0], squashed)
    cropped = prepare_image(long_paths[0], cfg)
    assert whole.shape == cropped.shape == (32, 32, 3)
    assert whole[:, :2].mean() > 200 and cropped[:, :2].mean() < 50
    # the fine-tune decodes the same geometry as the features
    np.testing.assert_allclose(
        decode_square(long_paths[0], 32, "bilinear", "squash"), whole, atol=2
    )


def test_a_random_test_model_has_the_same_weights_on_every_build():
    # The feature cache is keyed by the backbone's name: a second build with other random
    # weights would read features its own network does not produce (the LP-FT head
    # would then start from another network's probe).
    a = create_backbone("test_efficientnet").state_dict()
    b = create_backbone("test_efficientnet").state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
