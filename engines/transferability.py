"""Transferability scores: rank pretrained backbones for a task without fine-tuning.

Each score reads the frozen features of the client's labelled sample and says how well
a simple head on them can be expected to do. They are cheap (seconds for hundreds of
images) and are used to order the candidate backbones; the top one is then confirmed
by a real run.

* :func:`logme_score` — You, Liu, Wang & Long (2021), "LogME: Practical Assessment of
  Pre-trained Models for Transfer Learning", ICML. The maximum log evidence of a
  Bayesian linear model from features to each one-hot label column, found by the
  fixed-point iteration of MacKay's evidence framework, averaged over classes and
  divided by n. Higher is better; values are comparable across backbones for one task.
* :func:`h_score` — Bao, Li, Huang, Zheng & Zhang (2019), "An Information-Theoretic
  Approach to Transferability in Task Transfer Learning", ICIP:
  ``tr(cov(f)^-1 cov(E[f | y]))``. With ``shrinkage=True`` (default) cov(f) is the
  Ledoit–Wolf estimate, as recommended for n < d by Ibrahim, Ponomareva & Mazumder
  (2023), "Newer is not always better: Rethinking transferability metrics, their
  peculiarities, stability and performance", ICLR; the original pseudo-inverse is
  unstable when n < d.
* :func:`nleep_score` — Li et al. (2021), "Ranking Neural Checkpoints", CVPR (N-LEEP):
  LEEP (Nguyen et al. 2020, ICML) with the source classifier replaced by a Gaussian
  mixture fitted on PCA-reduced features (80 % of the variance). Diagonal covariances
  and at most n/5 components keep it stable on small samples.

:func:`rank_backbones` combines the scores by mean rank.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, Literal, overload

import numpy as np
from scipy import linalg, stats

CITATIONS = {
    "logme": "You, Liu, Wang & Long (2021), LogME: Practical Assessment of Pre-trained "
    "Models for Transfer Learning, ICML.",
    "h_score": "Bao et al. (2019), An Information-Theoretic Approach to Transferability in "
    "Task Transfer Learning, ICIP; shrinkage as in Ibrahim et al. (2023), ICLR.",
    "nleep": "Li et al. (2021), Ranking Neural Checkpoints, CVPR (N-LEEP); LEEP: Nguyen et "
    "al. (2020), ICML.",
}


def _check(features: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if f.ndim != 2:
        raise ValueError(f"features must be 2-D (n, d), got shape {f.shape}.")
    if y.ndim != 1 or y.shape[0] != f.shape[0]:
        raise ValueError(f"labels must be 1-D with {f.shape[0]} items.")
    if not np.all(np.isfinite(f)):
        raise ValueError("features hold NaN or infinite values.")
    classes, yi = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError("labels hold a single class; transferability needs two or more.")
    return f, yi, classes


def _no_variation(f: np.ndarray) -> bool:
    """Whether every feature is the same for every sample (to rounding)."""
    return bool(np.ptp(f, axis=0).max(initial=0.0) <= 1e-9 * max(1.0, float(np.abs(f).max())))


# ----------------------------------------------------------------------------- LogME


def _logme_from_svd(
    s2: np.ndarray, u: np.ndarray, n: int, d: int, targets: np.ndarray, max_iter: int, tol: float
) -> list[dict[str, float]]:
    """Evidence maximisation for each target column, given F = U diag(s) V^T, s2 = s²."""
    out = []
    k = s2.size
    for j in range(targets.shape[1]):
        t = targets[:, j]
        x = u.T @ t
        x2 = x * x
        res_out = max(float(t @ t - x2.sum()), 0.0)  # part of y outside span(F)
        alpha, beta = 1.0, 1.0
        for _ in range(max_iter):
            denom = alpha + beta * s2
            gamma = float((beta * s2 / denom).sum())
            m2 = float((beta * beta * s2 * x2 / (denom * denom)).sum())
            res2 = float((x2 * (alpha / denom) ** 2).sum()) + res_out
            # features with no variation give gamma = m2 = 0; the alpha terms of the
            # evidence then cancel, so any positive alpha gives the same (finite) score
            new_alpha = max(gamma / (m2 + 1e-12), 1e-12)
            new_beta = (n - gamma) / (res2 + 1e-12)
            converged = abs(new_alpha / new_beta - alpha / beta) <= tol * (alpha / beta)
            alpha, beta = new_alpha, new_beta
            if converged:
                break
        denom = alpha + beta * s2
        m2 = float((beta * beta * s2 * x2 / (denom * denom)).sum())
        res2 = float((x2 * (alpha / denom) ** 2).sum()) + res_out
        logdet = float(np.log(denom).sum()) + (d - k) * math.log(alpha)
        evidence = (
            d / 2 * math.log(alpha)
            + n / 2 * math.log(beta)
            - 0.5 * logdet
            - beta / 2 * res2
            - alpha / 2 * m2
            - n / 2 * math.log(2 * math.pi)
        )
        out.append({"evidence": evidence / n, "alpha": alpha, "beta": beta})
    return out


@overload
def logme_score(
    features: np.ndarray,
    labels: np.ndarray,
    max_iter: int = ...,
    tol: float = ...,
    return_details: Literal[False] = ...,
) -> float: ...


@overload
def logme_score(
    features: np.ndarray,
    labels: np.ndarray,
    max_iter: int = ...,
    tol: float = ...,
    *,
    return_details: Literal[True],
) -> dict[str, Any]: ...


def logme_score(
    features: np.ndarray,
    labels: np.ndarray,
    max_iter: int = 100,
    tol: float = 1e-6,
    return_details: bool = False,
) -> float | dict[str, Any]:
    """LogME: mean per-class maximum log evidence of a linear model on the features.

    You, Liu, Wang & Long (2021), "LogME: Practical Assessment of Pre-trained Models for
    Transfer Learning", ICML. For each class c the one-hot column y_c is modelled as
    y_c = F w + noise with w ~ N(0, α⁻¹ I), noise ~ N(0, β⁻¹ I); α and β maximise the
    evidence p(y_c | F, α, β) by the fixed-point iteration (γ = Σ βσᵢ/(α + βσᵢ),
    α ← γ / ‖m‖², β ← (n − γ) / ‖F m − y‖²), computed in the eigenbasis of FᵀF. The
    log-determinant counts all d eigenvalues of αI + βFᵀF, including the d − rank(F)
    that equal α (the paper's formula; the reference code's fast path drops them).

    Args:
        features: (n, d) frozen features, used as given (no centring), as in the paper.
        labels: (n,) class labels.
        max_iter: Iteration cap per class (the paper notes 2–3 usually suffice).
        tol: Relative change of α/β that ends the iteration.
        return_details: Also return per-class evidence, α and β.

    Returns:
        The score (float; higher is better), or with ``return_details`` a dict
        ``{"score", "per_class": [{evidence, alpha, beta}]}``.

    Raises:
        ValueError: On bad shapes, non-finite values or a single class.

    """
    f, yi, classes = _check(features, labels)
    n, d = f.shape
    # Eigen-decompose the smaller Gram matrix: F F^T = U diag(s²) U^T (or via F^T F).
    if n <= d:
        s2, u = linalg.eigh(f @ f.T)
    else:
        s2, v = linalg.eigh(f.T @ f)
        u = f @ v / np.sqrt(np.maximum(s2, 1e-300))
    keep = s2 > max(float(s2.max()), 1e-300) * 1e-12
    targets = np.zeros((n, classes.size))
    targets[np.arange(n), yi] = 1.0
    per_class = _logme_from_svd(s2[keep], u[:, keep], n, d, targets, max_iter, tol)
    score = float(np.mean([p["evidence"] for p in per_class]))
    if return_details:
        return {"score": score, "per_class": per_class}
    return score


def logme_evidence_direct(features: np.ndarray, target: np.ndarray, alpha: float, beta: float):
    """Log evidence log p(y | F, α, β) / n computed directly (for checks; O(n³)).

    y ~ N(0, β⁻¹ I + α⁻¹ F Fᵀ) — the marginal of the Bayesian linear model.

    Args:
        features: (n, d).
        target: (n,).
        alpha: Prior precision of the weights.
        beta: Noise precision.

    Returns:
        The log evidence divided by n.

    """
    f = np.asarray(features, dtype=np.float64)
    n = f.shape[0]
    cov = np.eye(n) / beta + f @ f.T / alpha
    return float(stats.multivariate_normal(np.zeros(n), cov).logpdf(target)) / n


# --------------------------------------------------------------------------- H-score


def h_score(features: np.ndarray, labels: np.ndarray, shrinkage: bool = True) -> float:
    """H-score: tr(cov(f)⁻¹ cov(E[f | y])), the discriminative power of the features.

    Bao, Li, Huang, Zheng & Zhang (2019), "An Information-Theoretic Approach to
    Transferability in Task Transfer Learning", ICIP. With ``shrinkage`` the feature
    covariance is the Ledoit–Wolf estimate (Ledoit & Wolf 2004), following Ibrahim,
    Ponomareva & Mazumder (2023, ICLR) for n < d; without it, the pseudo-inverse.

    Args:
        features: (n, d) features.
        labels: (n,) labels.
        shrinkage: Use the shrunk covariance (recommended when n is not ≫ d).

    Returns:
        The score (higher is better), at most the number of classes minus one for the
        plain estimate.

    Raises:
        ValueError: On bad shapes, non-finite values or a single class.

    """
    f, yi, classes = _check(features, labels)
    n = f.shape[0]
    if _no_variation(f):
        return 0.0  # features that do not vary cannot tell the classes apart
    f = f - f.mean(axis=0)
    counts = np.bincount(yi, minlength=classes.size).astype(float)
    means = np.zeros((classes.size, f.shape[1]))
    np.add.at(means, yi, f)
    means /= counts[:, None]
    weighted = means * np.sqrt(counts / n)[:, None]  # Σ_g = weightedᵀ weighted
    if shrinkage:
        from sklearn.covariance import ledoit_wolf

        cov, _ = ledoit_wolf(f, assume_centered=True)
        sol = linalg.solve(cov, weighted.T, assume_a="pos")
    else:
        cov = f.T @ f / n
        sol = np.linalg.pinv(cov, rcond=1e-10, hermitian=True) @ weighted.T
    return float(np.sum(weighted.T * sol))


# ---------------------------------------------------------------------------- N-LEEP


def nleep_score(
    features: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    variance_kept: float = 0.8,
    component_ratio: int = 5,
    max_dims: int = 64,
) -> float:
    """N-LEEP: LEEP with a Gaussian mixture on PCA features as the "source" classifier.

    Li et al. (2021), "Ranking Neural Checkpoints", CVPR; LEEP from Nguyen, Hassner,
    Seeger & Archambeau (2020), "LEEP: A New Measure to Evaluate Transferability of
    Learned Representations", ICML. Features are reduced by PCA to ``variance_kept`` of
    their variance (at most ``max_dims`` dimensions), a diagonal-covariance GMM with
    ``component_ratio × K`` components (at most n/5) gives p(z | x), and the score is
    the mean log of the empirical predictor Σ_z p(y | z) p(z | x) at the true labels.

    Args:
        features: (n, d) features.
        labels: (n,) labels.
        seed: Seed of the mixture's initialisation.
        variance_kept: Share of variance kept by PCA.
        component_ratio: Mixture components per class.
        max_dims: Cap on the PCA dimensions.

    Returns:
        The score (a mean log-probability, ≤ 0; higher is better).

    Raises:
        ValueError: On bad shapes, non-finite values, a single class, or fewer than
            four samples.

    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    f, yi, classes = _check(features, labels)
    n = f.shape[0]
    if n < 4:
        raise ValueError("N-LEEP needs at least four samples.")
    k = classes.size
    if _no_variation(f):
        # features that do not vary: every predictor is the class prior
        prior = np.bincount(yi, minlength=k) / n
        return float(np.mean(np.log(prior[yi])))
    from threadpoolctl import threadpool_limits

    n_comp = int(max(2, min(component_ratio * k, n // 5)))
    with threadpool_limits(limits=1):  # small matrices: one thread is faster when shared
        pca = PCA(n_components=variance_kept, svd_solver="full", random_state=seed).fit(f)
        z = pca.transform(f)[:, :max_dims]
        gmm = GaussianMixture(
            n_components=n_comp, covariance_type="diag", reg_covar=1e-4, random_state=seed
        ).fit(z)
        post = gmm.predict_proba(z)  # p(z | x), (n, V)
    joint = np.zeros((k, n_comp))
    np.add.at(joint, yi, post)
    joint /= n  # P̂(y, z)
    p_y_given_z = joint / np.maximum(joint.sum(axis=0, keepdims=True), 1e-300)
    p_y_x = post @ p_y_given_z.T  # (n, K)
    return float(np.mean(np.log(np.maximum(p_y_x[np.arange(n), yi], 1e-300))))


# --------------------------------------------------------------------------- ranking


def transferability_scores(
    features: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    metrics: Sequence[str] = ("logme", "h_score", "nleep"),
    shuffled_baseline: bool = True,
) -> dict[str, Any]:
    """All requested scores for one backbone, with the LogME of shuffled labels.

    The shuffled-label LogME is what the same features score when the labels carry no
    signal: a LogME close to it means the backbone does not see the classes.

    Args:
        features: (n, d) features of one backbone.
        labels: (n,) labels.
        seed: Seed for N-LEEP and the shuffle.
        metrics: Any of "logme", "h_score", "nleep".
        shuffled_baseline: Also compute LogME with permuted labels.

    Returns:
        ``{"scores": {metric: value}, "seconds": {metric: s}, "logme_shuffled",
        "n", "d", "n_classes", "citations"}``.

    Raises:
        ValueError: On bad inputs or an unknown metric.

    """
    f, yi, classes = _check(features, labels)
    funcs = {
        "logme": lambda: logme_score(f, yi),
        "h_score": lambda: h_score(f, yi),
        "nleep": lambda: nleep_score(f, yi, seed=seed),
    }
    unknown = set(metrics) - set(funcs)
    if unknown:
        raise ValueError(f"Unknown metrics: {sorted(unknown)}; choose from {sorted(funcs)}.")
    scores, seconds = {}, {}
    for name in metrics:
        t0 = time.perf_counter()
        scores[name] = float(funcs[name]())
        seconds[name] = round(time.perf_counter() - t0, 4)
    shuffled = None
    if shuffled_baseline:
        perm = np.random.default_rng(seed).permutation(yi)
        shuffled = float(logme_score(f, perm))
    return {
        "scores": scores,
        "seconds": seconds,
        "logme_shuffled": shuffled,
        "n": int(f.shape[0]),
        "d": int(f.shape[1]),
        "n_classes": int(classes.size),
        "citations": {m: CITATIONS[m] for m in metrics},
    }


def rank_backbones(scores: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Order backbones by their mean rank over the scores (all: higher is better).

    Args:
        scores: ``{backbone: {metric: value}}`` (e.g. the ``"scores"`` of
            :func:`transferability_scores` per backbone). A metric missing for some
            backbone is left out of every backbone's mean rank.

    Returns:
        List, best first, of ``{"backbone", "rank", "mean_rank", "ranks", "scores",
        "agree_on_top"}``; ``rank`` is 1-based, ties share the better rank, and
        ``agree_on_top`` (on the first entry only meaningful) says whether every metric
        puts that backbone first.

    Raises:
        ValueError: If ``scores`` is empty or holds non-finite values.

    """
    if not scores:
        raise ValueError("No backbones to rank.")
    names = list(scores)
    common = set.intersection(*(set(v) for v in scores.values()))
    metrics = sorted(common)
    if not metrics:
        raise ValueError("The backbones share no score to rank on.")
    table = np.array([[float(scores[b][m]) for m in metrics] for b in names])
    if not np.all(np.isfinite(table)):
        raise ValueError("Scores must be finite.")
    ranks = np.column_stack(
        [stats.rankdata(-table[:, j], method="min") for j in range(len(metrics))]
    )
    mean_rank = ranks.mean(axis=1)
    order = sorted(range(len(names)), key=lambda i: (mean_rank[i], names[i]))
    out: list[dict[str, Any]] = []
    for position, i in enumerate(order):
        tied_better = [j for j in order[:position] if mean_rank[j] == mean_rank[i]]
        rank = out[order.index(tied_better[0])]["rank"] if tied_better else position + 1
        out.append(
            {
                "backbone": names[i],
                "rank": int(rank),
                "mean_rank": float(mean_rank[i]),
                "ranks": {m: int(ranks[i, j]) for j, m in enumerate(metrics)},
                "scores": {m: float(table[i, j]) for j, m in enumerate(metrics)},
                "agree_on_top": bool(np.all(ranks[i] == 1)),
            }
        )
    return out
