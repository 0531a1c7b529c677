import numpy as np
import pytest

from engines.transferability import (
    h_score,
    logme_evidence_direct,
    logme_score,
    nleep_score,
    rank_backbones,
    transferability_scores,
)


@pytest.mark.parametrize(("n", "d"), [(30, 5), (20, 50)])
def test_logme_equals_direct_evidence_at_its_optimum(n, d):
    rng = np.random.default_rng(0)
    f = rng.normal(size=(n, d))
    y = np.arange(n) % 2
    f[:, 0] += 2 * y
    det = logme_score(f, y, return_details=True)
    for c in range(2):
        t = (y == c).astype(float)
        pc = det["per_class"][c]
        direct = logme_evidence_direct(f, t, pc["alpha"], pc["beta"])
        assert pc["evidence"] == pytest.approx(direct, abs=1e-8)
        # A fixed point of the evidence: nudging alpha or beta lowers it.
        for fa, fb in ((0.8, 1), (1.25, 1), (1, 0.8), (1, 1.25)):
            nudged = logme_evidence_direct(f, t, pc["alpha"] * fa, pc["beta"] * fb)
            assert nudged <= direct + 1e-7
    assert det["score"] == pytest.approx(np.mean([p["evidence"] for p in det["per_class"]]))


def test_planted_signal_scores_higher_than_shuffled(planted):
    x, y = planted
    shuffled = np.random.default_rng(0).permutation(y)
    assert logme_score(x, y) > logme_score(x, shuffled) + 0.05
    assert h_score(x, y) > 2 * h_score(x, shuffled)
    assert nleep_score(x, y) > nleep_score(x, shuffled) + 0.1


def test_stronger_signal_ranks_first(planted, weak_planted):
    strong, weak = planted, weak_planted
    scores = {
        "weak": transferability_scores(*weak, seed=0)["scores"],
        "strong": transferability_scores(*strong, seed=0)["scores"],
    }
    ranking = rank_backbones(scores)
    assert [r["backbone"] for r in ranking] == ["strong", "weak"]
    assert ranking[0]["rank"] == 1 and ranking[0]["agree_on_top"] is True


def test_scores_dict_and_shuffled_baseline(planted):
    out = transferability_scores(*planted, seed=0)
    assert set(out["scores"]) == {"logme", "h_score", "nleep"}
    assert out["logme_shuffled"] < out["scores"]["logme"]
    assert out["n"] == 240 and out["n_classes"] == 4
    assert out == transferability_scores(*planted, seed=0) | {"seconds": out["seconds"]}


def test_rank_ties_and_errors():
    r = rank_backbones({"a": {"m": 1.0}, "b": {"m": 1.0}, "c": {"m": 0.0}})
    assert [x["rank"] for x in r] == [1, 1, 3]
    with pytest.raises(ValueError):
        rank_backbones({})
    with pytest.raises(ValueError, match="finite"):
        rank_backbones({"a": {"m": float("nan")}})


def test_input_errors():
    with pytest.raises(ValueError, match="single class"):
        logme_score(np.ones((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="2-D"):
        h_score(np.ones(5), np.arange(5) % 2)
    with pytest.raises(ValueError, match="Unknown"):
        transferability_scores(np.ones((6, 3)), np.arange(6) % 2, metrics=("sfda",))


def test_features_that_do_not_vary_score_as_no_signal_instead_of_failing():
    # a collapsed backbone gives every image the same features
    f, y = np.full((40, 16), 0.3), np.arange(40) % 2
    result = transferability_scores(f, y)
    assert result["scores"]["h_score"] == 0.0
    assert result["scores"]["nleep"] == pytest.approx(np.log(0.5))
    assert np.isfinite(result["scores"]["logme"])
    assert result["scores"]["logme"] == pytest.approx(result["logme_shuffled"])
