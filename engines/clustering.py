"""Natural groups in an unlabelled sample, and what labelling them would cost.

For input-only data: standardise the features, reduce them with PCA (at most 50
dimensions, 95 % of the variance), run k-means (Lloyd 1982; k-means++ seeding,
Arthur & Vassilvitskii 2007) for k = 2..max_k and pick k by the mean silhouette
(Rousseeuw 1987, "Silhouettes: a graphical aid to the interpretation and validation of
cluster analysis", J. Comput. Appl. Math. 20:53–65).

Silhouettes also reward splitting off a handful of near-duplicates, so a k whose
smallest cluster is under :data:`MIN_CLUSTER_SHARE` of the sample is not chosen (such
tight small groups are listed instead: check them for duplicates).

k-means always returns clusters, so the silhouette is compared with a null reference:
the same pipeline on Gaussian data with the sample's PCA variances and no groups (in
the spirit of the gap statistic, Tibshirani, Walther & Hastie 2001). ``has_structure``
requires the observed silhouette to beat the null by :data:`STRUCTURE_MARGIN` and to be
at least "weak" on Kaufman & Rousseeuw's (1990) scale (0.26–0.50 weak, 0.51–0.70
reasonable, > 0.70 strong). The cut points are in :data:`SILHOUETTE_LEVELS`.

Labelling cost, a planning aid (numbers, not a promise): verify each cluster by
labelling its most typical images — those nearest the centroid, as in TypiClust
(Hacohen, Dekel & Weinshall 2022, "Active Learning on a Budget", ICML) — ``labels per
cluster`` = min(cluster size, :data:`LABELS_PER_CLUSTER`); seconds per label is a
parameter (default 5 s for a class label).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engines.results.base import message

SILHOUETTE_LEVELS: tuple[dict[str, Any], ...] = (
    {"above": 0.70, "level": "strong"},
    {"above": 0.50, "level": "reasonable"},
    {"above": 0.25, "level": "weak"},
)
"""Kaufman & Rousseeuw (1990), Finding Groups in Data: the first level the value exceeds."""
STRUCTURE_MARGIN = 0.05
MIN_CLUSTER_SHARE = 0.02
"""A k whose smallest cluster holds fewer than 2 % of the images (or 3) is not chosen:
silhouettes reward splitting off a few near-duplicates, which are not classes."""
LABELS_PER_CLUSTER = 20
MAX_PCA_DIMS = 50
REPRESENTATIVES = 5

CITATIONS = [
    "Rousseeuw (1987), Silhouettes, J. Comput. Appl. Math. 20:53-65.",
    "Kaufman & Rousseeuw (1990), Finding Groups in Data, Wiley.",
    "Arthur & Vassilvitskii (2007), k-means++, SODA.",
    "Hacohen, Dekel & Weinshall (2022), Active Learning on a Budget, ICML.",
]


def _level(sil: float) -> str:
    for entry in SILHOUETTE_LEVELS:
        if sil > entry["above"]:
            return str(entry["level"])
    return "none"


def _kmeans_silhouettes(z: np.ndarray, ks: list[int], seed: int):
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    fits = {}
    for k in ks:
        km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(z)
        labels = km.labels_
        sil = float(silhouette_score(z, labels)) if np.unique(labels).size > 1 else -1.0
        fits[k] = (sil, km)
    return fits


def cluster_report(
    features: np.ndarray,
    max_k: int = 10,
    seed: int = 0,
    seconds_per_label: float = 5.0,
) -> dict[str, Any]:
    """How many natural groups the sample has, how separable, and the labelling cost.

    Args:
        features: (n, d) pooled features of an unlabelled sample, n >= 4.
        max_k: Largest k tried (capped at n - 1).
        seed: Seed of k-means, PCA and the null reference.
        seconds_per_label: Time to label one image, for the cost estimate.

    Returns:
        JSON-ready dict: ``{"n_images", "k", "silhouette", "silhouette_null",
        "separability" ("none"|"weak"|"reasonable"|"strong"), "has_structure",
        "by_k": [{k, silhouette, silhouette_null}], "clusters": [{cluster, size,
        representatives}], "labeling": {images, clusters, labels_per_cluster,
        labels_total, seconds_per_label, minutes_verify, minutes_label_all},
        "pca_dims", "method", "citations"}``.

    Raises:
        ValueError: On bad shapes, non-finite values, fewer than four images, or
            max_k < 2.

    """
    from sklearn.decomposition import PCA

    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be 2-D (n, d), got shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError("features hold NaN or infinite values.")
    n = x.shape[0]
    if n < 4:
        raise ValueError("Clustering needs at least four images.")
    if max_k < 2:
        raise ValueError("max_k must be at least 2.")
    if seconds_per_label <= 0:
        raise ValueError("seconds_per_label must be positive.")
    sd = x.std(axis=0)
    xs = (x - x.mean(axis=0)) / np.where(sd > 1e-12, sd, 1.0)
    dims = int(min(MAX_PCA_DIMS, n - 1, x.shape[1]))
    pca = PCA(n_components=dims, svd_solver="full", random_state=seed).fit(xs)
    cum = np.cumsum(pca.explained_variance_ratio_)
    keep = int(min(dims, int(np.searchsorted(cum, 0.95)) + 1))
    z = pca.transform(xs)[:, :keep]
    ks = list(range(2, min(max_k, n - 1) + 1))
    from threadpoolctl import threadpool_limits

    # One thread: k-means on a few hundred points is faster so on a shared machine.
    with threadpool_limits(limits=1):
        fits = _kmeans_silhouettes(z, ks, seed)
        # Null reference: no groups, same variance per PCA axis.
        rng = np.random.default_rng(seed)
        null = rng.normal(size=z.shape) * z.std(axis=0)
        null_fits = _kmeans_silhouettes(null, ks, seed)
    min_size = max(3, math.ceil(MIN_CLUSTER_SHARE * n))
    smallest = {k: int(np.bincount(fits[k][1].labels_, minlength=k).min()) for k in ks}
    by_k = [
        {
            "k": k,
            "silhouette": fits[k][0],
            "silhouette_null": null_fits[k][0],
            "smallest_cluster": smallest[k],
        }
        for k in ks
    ]
    eligible = [k for k in ks if smallest[k] >= min_size]
    best_k = max(eligible or ks, key=lambda k: (fits[k][0], -k))
    sil, km = fits[best_k]
    sil_null = null_fits[best_k][0]
    level = _level(sil)
    has_structure = bool(eligible and sil - sil_null >= STRUCTURE_MARGIN and level != "none")
    tiny = (
        []
        if eligible
        else [int(c) for c in np.flatnonzero(np.bincount(km.labels_, minlength=best_k) < min_size)]
    )

    clusters: list[dict[str, Any]] = []
    dist = np.linalg.norm(z - km.cluster_centers_[km.labels_], axis=1)
    for c in range(best_k):
        members = np.flatnonzero(km.labels_ == c)
        order = members[np.argsort(dist[members], kind="stable")]
        clusters.append(
            {
                "cluster": c,
                "size": int(members.size),
                "representatives": [int(i) for i in order[:REPRESENTATIVES]],
            }
        )
    clusters.sort(key=lambda c: -c["size"])
    k_used = best_k if has_structure else 1
    sizes = [c["size"] for c in clusters] if has_structure else [n]
    per_cluster = [min(s, LABELS_PER_CLUSTER) for s in sizes]
    labels_total = int(sum(per_cluster))
    return {
        "n_images": int(n),
        "k": int(best_k),
        "silhouette": float(sil),
        "silhouette_null": float(sil_null),
        "separability": level,
        "has_structure": has_structure,
        "by_k": by_k,
        "clusters": clusters,
        "labeling": {
            "images": int(n),
            "clusters": int(k_used),
            "labels_per_cluster": int(LABELS_PER_CLUSTER),
            "labels_total": labels_total,
            "seconds_per_label": float(seconds_per_label),
            "minutes_verify": float(math.ceil(labels_total * seconds_per_label / 6) / 10),
            "minutes_label_all": float(math.ceil(n * seconds_per_label / 6) / 10),
            "note": (
                "Label the listed representatives of each cluster first to check that the "
                "clusters mean something to the client."
                if has_structure
                else "No natural groups beyond what random data shows: labels must come "
                "from the client's definition of the classes, not from the clusters."
            ),
            "note_code": message(
                "clusters_label_representatives" if has_structure else "clusters_no_structure"
            ),
        },
        "tight_small_groups": [{"cluster": c, "size": int(np.sum(km.labels_ == c))} for c in tiny],
        "pca_dims": keep,
        "method": "standardise, PCA (95% variance, <= 50 dims), k-means++ for k = 2..max_k, "
        "best mean silhouette; null: Gaussian data with the same PCA variances",
        "citations": list(CITATIONS),
    }
