"""Learning curve on cached features and its extrapolation by a saturating power law.

Method. Accuracy is measured after training the linear probe on growing, stratified
fractions of the training split (repeated with different subsets), always on the same
validation split. The points are fitted with the inverse power law

    acc(n) = a - b * n^(-c),   0 <= a <= a_max (1 by default), b >= 0, c in [0.05, 2],

where ``a`` is the accuracy this setup approaches with unlimited data of the same kind.
The model is the one of Figueroa et al. (2012), "Predicting sample size required for
classification performance", BMC Medical Informatics and Decision Making 12:8, and the
power-law region of Hestness et al. (2017), "Deep Learning Scaling is Predictable,
Empirically", arXiv:1712.00409. It is fitted by least squares, profiling ``c`` on a
grid (for fixed c the model is linear in a and b, solved exactly under the bounds).

Uncertainty. A residual bootstrap (residuals inflated by sqrt(m / (m - 3)) for the three
fitted parameters) gives intervals for a, b, c, predictions and the images needed.
Because every point is scored on the same validation split, each replicate also shifts
all points by one common offset drawn from the binomial error of that split
(``n_val``), so the asymptote's interval includes the validation set's own noise.

Limits. Extrapolation beyond about 10x the largest observed sample is a guess; a curve
from a linear probe says nothing about fine-tuning, which usually lies above it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engines.linear_probe import FitFn, fit_linear_probe
from engines.progress import Progress, ProgressCallback, ignore_progress
from engines.results.base import message

CITATIONS = [
    "Figueroa, Zeng-Treitler, Kandula & Ngo (2012), Predicting sample size required for "
    "classification performance, BMC Med. Inform. Decis. Mak. 12:8.",
    "Hestness et al. (2017), Deep Learning Scaling is Predictable, Empirically, arXiv:1712.00409.",
]
C_BOUNDS = (0.05, 2.0)
_GRID = 240


# ----------------------------------------------------------------------- the points


def _stratified_subset(
    y: np.ndarray, fraction: float, min_per_class: int, rng: np.random.Generator
) -> np.ndarray:
    idx = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        take = max(min(min_per_class, members.size), int(round(fraction * members.size)))
        idx.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(idx))


def learning_curve_points(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    fractions: Sequence[float] = (0.125, 0.25, 0.5, 1.0),
    repeats: int = 3,
    seed: int = 0,
    fit_fn: FitFn | None = None,
    min_per_class: int = 2,
    progress: ProgressCallback = ignore_progress,
) -> dict[str, Any]:
    """Train on growing stratified fractions of the training split; score on validation.

    At fraction 1.0 every repeat would train on the same images, so it runs once.

    Args:
        X_train: Training features, (n, d).
        y_train: Training labels, (n,).
        X_val: Validation features, (m, d).
        y_val: Validation labels, (m,).
        fractions: Shares of the training split, each in (0, 1].
        repeats: Random subsets per fraction.
        seed: Seed of the subsets; same seed, same numbers.
        fit_fn: ``fit_fn(X, y, seed=..., classes=...)`` returning a model with
            ``classes_`` and ``predict_proba``; defaults to the linear probe.
        min_per_class: Least images per class in a subset (fewer if the class has fewer).
        progress: Called after each fit.

    Returns:
        ``{"points": [{fraction, n, repeat, accuracy, balanced_accuracy}], "n_train",
        "n_val", "fractions", "repeats", "seed"}``.

    Raises:
        ValueError: On bad shapes, fewer than two classes, or bad fractions.

    """
    Xt, yt = np.asarray(X_train), np.asarray(y_train)
    Xv, yv = np.asarray(X_val), np.asarray(y_val)
    if Xt.ndim != 2 or Xv.ndim != 2 or Xt.shape[1] != Xv.shape[1]:
        raise ValueError("X_train and X_val must be 2-D with the same number of columns.")
    if yt.shape != (Xt.shape[0],) or yv.shape != (Xv.shape[0],):
        raise ValueError("Each label array must have one label per feature row.")
    if yv.size == 0:
        raise ValueError("The validation split is empty.")
    fr = sorted({float(f) for f in fractions})
    if not fr or fr[0] <= 0 or fr[-1] > 1:
        raise ValueError("fractions must be non-empty and within (0, 1].")
    if repeats < 1:
        raise ValueError("repeats must be at least 1.")
    classes = np.unique(np.concatenate([yt, yv]))
    if np.unique(yt).size < 2:
        raise ValueError("The training split holds a single class.")
    fit = fit_fn or fit_linear_probe
    rng = np.random.default_rng(seed)
    jobs = [(f, r) for f in fr for r in range(1 if f >= 1.0 else repeats)]
    points = []
    for done, (f, r) in enumerate(jobs, start=1):
        idx = _stratified_subset(yt, f, min_per_class, rng)
        model = fit(Xt[idx], yt[idx], seed=seed + r, classes=classes)
        pred = np.asarray(model.classes_)[model.predict_proba(Xv).argmax(axis=1)]
        recalls = [float(np.mean(pred[yv == c] == c)) for c in np.unique(yv)]
        acc = float(np.mean(pred == yv))
        points.append(
            {
                "fraction": f,
                "n": int(idx.size),
                "repeat": r,
                "accuracy": acc,
                "balanced_accuracy": float(np.mean(recalls)),
            }
        )
        progress(
            Progress(
                "learning_curve",
                done / len(jobs),
                f"Trained on {idx.size} images ({f:.0%}), accuracy {acc:.1%}",
                metric={"accuracy": acc},
            )
        )
    return {
        "points": points,
        "n_train": int(yt.size),
        "n_val": int(yv.size),
        "fractions": fr,
        "repeats": int(repeats),
        "seed": int(seed),
    }


# -------------------------------------------------------------------------- the fit


def _fit_ab(x: np.ndarray, acc: np.ndarray, a_max: float) -> tuple[np.ndarray, ...]:
    """Least-squares (a, b) of acc ≈ a - b·x for each row of x, under 0<=a<=a_max, b>=0.

    x has shape (G, m) (one row per candidate c), acc shape (m,) or (G, m). Returns
    a, b, sse, each of shape (G,). The bounded problem is a convex quadratic in two
    variables, so its optimum is the best feasible point among the unconstrained
    optimum and the optima on each active set.
    """
    acc = np.broadcast_to(acc, x.shape)
    xm = x.mean(axis=1)
    am = acc.mean(axis=1)
    sxx = ((x - xm[:, None]) ** 2).sum(axis=1)
    sxa = ((x - xm[:, None]) * (acc - am[:, None])).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        b_free = np.where(sxx > 0, -sxa / sxx, 0.0)
    cands = []
    # 1) free
    a1 = am + b_free * xm
    cands.append((a1, b_free))
    # 2) b = 0
    cands.append((am, np.zeros_like(am)))
    # 3) a = a_max
    with np.errstate(invalid="ignore", divide="ignore"):
        sx2 = (x * x).sum(axis=1)
        b3 = np.where(sx2 > 0, (x * (a_max - acc)).sum(axis=1) / sx2, 0.0)
    cands.append((np.full_like(am, a_max), np.maximum(b3, 0.0)))
    # 4) a = 0 (only matters for curves below zero, kept for completeness)
    with np.errstate(invalid="ignore", divide="ignore"):
        b4 = np.where(sx2 > 0, (x * (0.0 - acc)).sum(axis=1) / sx2, 0.0)
    cands.append((np.zeros_like(am), np.maximum(b4, 0.0)))
    best_a = np.zeros_like(am)
    best_b = np.zeros_like(am)
    best_sse = np.full_like(am, np.inf)
    for a, b in cands:
        feasible = (a >= -1e-12) & (a <= a_max + 1e-12) & (b >= 0)
        a_c = np.clip(a, 0.0, a_max)
        sse = ((acc - (a_c[:, None] - b[:, None] * x)) ** 2).sum(axis=1)
        better = feasible & (sse < best_sse)
        best_a = np.where(better, a_c, best_a)
        best_b = np.where(better, b, best_b)
        best_sse = np.where(better, sse, best_sse)
    return best_a, best_b, best_sse


def _fit_once(
    n: np.ndarray, acc: np.ndarray, a_max: float, grid: np.ndarray
) -> tuple[float, float, float, float]:
    x = n[None, :] ** (-grid[:, None])
    a, b, sse = _fit_ab(x, acc, a_max)
    i = int(np.argmin(sse))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    fine = np.linspace(lo, hi, 41)
    xf = n[None, :] ** (-fine[:, None])
    af, bf, ssef = _fit_ab(xf, acc, a_max)
    j = int(np.argmin(ssef))
    if ssef[j] <= sse[i]:
        return float(af[j]), float(bf[j]), float(fine[j]), float(ssef[j])
    return float(a[i]), float(b[i]), float(grid[i]), float(sse[i])


def _model(n: np.ndarray | float, a: Any, b: Any, c: Any) -> np.ndarray:
    return np.asarray(a) - np.asarray(b) * np.power(np.asarray(n, dtype=float), -np.asarray(c))


def _images_for(
    target: float, a: np.ndarray | float, b: np.ndarray | float, c: np.ndarray | float
) -> np.ndarray:
    """Solve a - b n^-c = target for n; inf where a <= target, at least 1."""
    a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, b, c)))
    out = np.full(a.shape, np.inf)
    ok = a > target
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        n = np.power(b[ok] / (a[ok] - target), 1.0 / c[ok])
    out[ok] = np.where(np.isfinite(n), np.maximum(n, 1.0), np.inf)
    return out


@dataclass
class PowerLawFit:
    """A fitted saturating power law with bootstrap replicates.

    Attributes:
        a: Asymptotic accuracy.
        b: Scale of the gap to the asymptote.
        c: Decay exponent.
        n: Training-set sizes of the fitted points.
        acc: Accuracies of the fitted points.
        rmse: Root-mean-square residual of the fit.
        a_boot: Bootstrap replicates of a (and b_boot, c_boot likewise).
        confidence: Level of every interval.
        n_val: Validation images behind each point (None when unknown).

    """

    a: float
    b: float
    c: float
    n: np.ndarray
    acc: np.ndarray
    rmse: float
    a_boot: np.ndarray
    b_boot: np.ndarray
    c_boot: np.ndarray
    confidence: float = 0.95
    n_val: int | None = None
    notes: list[str] = field(default_factory=list)
    note_codes: list[dict[str, Any]] = field(default_factory=list)

    def _q(self, values: np.ndarray) -> tuple[float, float]:
        alpha = 1.0 - self.confidence
        lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2])
        return float(lo), float(hi)

    def predict(self, n: float) -> dict[str, Any]:
        """Predicted accuracy at n training images, with its interval.

        Args:
            n: Training-set size (positive).

        Returns:
            ``{"n", "value", "ci_low", "ci_high", "extrapolation"}`` where
            ``extrapolation`` is n divided by the largest observed size.

        Raises:
            ValueError: If n is not positive.

        """
        if not n > 0:
            raise ValueError(f"n must be positive, got {n}.")
        boot = _model(n, self.a_boot, self.b_boot, self.c_boot)
        lo, hi = self._q(boot)
        return {
            "n": int(round(n)),
            "value": float(_model(n, self.a, self.b, self.c)),
            "ci_low": lo,
            "ci_high": hi,
            "extrapolation": float(n / float(self.n.max())),
        }

    def images_needed(self, target: float) -> dict[str, Any]:
        """Training images needed to reach a target accuracy, with its interval.

        Status is ``"not_reachable"`` when the target is at or above the upper bound of
        the asymptote's interval; ``"uncertain"`` when it is above the fitted asymptote
        but within its interval (only a lower bound on n is given);
        ``"already_reached"`` when the fitted curve reaches it within the observed
        sizes; else ``"reachable"`` (``ci_high`` is None when some replicates never
        reach it).

        Args:
            target: Accuracy to reach, in (0, 1).

        Returns:
            ``{"target", "status", "n", "ci_low", "ci_high", "p_reachable",
            "a_ci_high"}``; n values are training images (the validation set is extra).

        Raises:
            ValueError: If the target is not in (0, 1).

        """
        if not 0.0 < target < 1.0:
            raise ValueError(f"target must be in (0, 1), got {target}.")
        a_lo, a_hi = self._q(self.a_boot)
        boot = _images_for(target, self.a_boot, self.b_boot, self.c_boot)
        point = float(_images_for(target, self.a, self.b, self.c))
        alpha = 1.0 - self.confidence
        finite = np.isfinite(boot)
        p_reach = float(finite.mean())

        def _quant(q: float) -> int | None:
            # Quantile over all replicates, infinite ones included (sorted last).
            v = float(np.quantile(np.where(finite, boot, np.inf), q, method="higher"))
            return None if not math.isfinite(v) else int(math.ceil(v))

        out: dict[str, Any] = {
            "target": float(target),
            "status": "reachable",
            "n": None,
            "ci_low": _quant(alpha / 2),
            "ci_high": _quant(1 - alpha / 2),
            "p_reachable": p_reach,
            "a_ci_high": a_hi,
        }
        if target >= a_hi:
            out.update(status="not_reachable", ci_low=None, ci_high=None)
        elif not math.isfinite(point):
            out.update(status="uncertain", ci_high=None)
        else:
            out["n"] = int(math.ceil(point))
            if point <= float(self.n.max()):
                out["status"] = "already_reached"
        return out

    def to_dict(
        self, multiples: Sequence[float] = (2.0, 10.0), targets: Sequence[float] = ()
    ) -> dict[str, Any]:
        """Return the fit as JSON-ready data, with predictions at multiples of the sample.

        Args:
            multiples: Predict at these multiples of the largest observed size.
            targets: Accuracies for which to report the images needed.

        Returns:
            ``{"model", "a", "b", "c" (each {value, ci_low, ci_high}), "rmse",
            "n_points", "n_max", "confidence", "n_boot", "method", "citations",
            "predictions": [...], "images_needed": [...], "notes": [...]}``.

        """
        n_max = float(self.n.max())
        params = {}
        for name, value, boot in (
            ("a", self.a, self.a_boot),
            ("b", self.b, self.b_boot),
            ("c", self.c, self.c_boot),
        ):
            lo, hi = self._q(boot)
            params[name] = {"value": float(value), "ci_low": lo, "ci_high": hi}
        return {
            "model": "acc(n) = a - b * n^(-c)",
            **params,
            "rmse": float(self.rmse),
            "n_points": int(self.n.size),
            "n_max": int(n_max),
            "n_val": self.n_val,
            "confidence": float(self.confidence),
            "n_boot": int(self.a_boot.size),
            "method": "least squares with c profiled on a grid; residual bootstrap"
            + (" plus shared validation-set offset" if self.n_val else ""),
            "citations": list(CITATIONS),
            "predictions": [self.predict(m * n_max) for m in multiples],
            "images_needed": [self.images_needed(t) for t in targets],
            "notes": list(self.notes),
            "note_codes": list(self.note_codes),
        }


def fit_power_law(
    n: Sequence[float] | np.ndarray,
    acc: Sequence[float] | np.ndarray,
    n_boot: int = 500,
    seed: int = 0,
    n_val: int | None = None,
    a_max: float = 1.0,
    confidence: float = 0.95,
    c_bounds: tuple[float, float] = C_BOUNDS,
) -> PowerLawFit:
    """Fit acc(n) = a - b·n^(-c) with bootstrap uncertainty.

    Figueroa et al. (2012), BMC Med. Inform. Decis. Mak. 12:8; Hestness et al. (2017),
    arXiv:1712.00409. See the module docstring for the fitting and the bootstrap.

    Args:
        n: Training-set size of each point (repeats share an n).
        acc: Validation accuracy of each point, in [0, 1].
        n_boot: Bootstrap replicates.
        seed: Seed of the bootstrap.
        n_val: Validation images behind the accuracies; adds the shared-split offset.
        a_max: Upper bound of the asymptote (1 for accuracy).
        confidence: Level of the intervals.
        c_bounds: Range of the exponent c.

    Returns:
        :class:`PowerLawFit`.

    Raises:
        ValueError: On mismatched or non-finite inputs, fewer than three distinct n,
            accuracies outside [0, 1], or bad parameters.

    """
    nn = np.asarray(n, dtype=float)
    yy = np.asarray(acc, dtype=float)
    if nn.ndim != 1 or nn.shape != yy.shape:
        raise ValueError("n and acc must be 1-D of the same length.")
    if not (np.all(np.isfinite(nn)) and np.all(np.isfinite(yy))):
        raise ValueError("n and acc must be finite.")
    if np.any(nn <= 0):
        raise ValueError("Every n must be positive.")
    if np.any((yy < 0) | (yy > 1)):
        raise ValueError("Accuracies must lie in [0, 1].")
    if np.unique(nn).size < 3:
        raise ValueError(
            "The power law has three parameters: fit it on at least three distinct "
            "training-set sizes."
        )
    if n_boot < 10:
        raise ValueError("n_boot must be at least 10.")
    if not 0 < a_max <= 1:
        raise ValueError("a_max must be in (0, 1].")
    if not 0 < c_bounds[0] < c_bounds[1]:
        raise ValueError("c_bounds must be increasing and positive.")
    if n_val is not None and n_val < 1:
        raise ValueError("n_val must be positive.")

    grid = np.geomspace(c_bounds[0], c_bounds[1], _GRID)
    a, b, c, sse = _fit_once(nn, yy, a_max, grid)
    m = nn.size
    fitted = _model(nn, a, b, c)
    resid = yy - fitted
    rmse = math.sqrt(sse / m)
    inflate = math.sqrt(m / (m - 3)) if m > 3 else 1.0
    rng = np.random.default_rng(seed)
    # Vectorised bootstrap: (n_boot, m) pseudo-curves, fitted on the coarse grid.
    draws = fitted + inflate * resid[rng.integers(0, m, size=(n_boot, m))]
    if n_val:
        p_end = float(np.clip(_model(nn.max(), a, b, c), 0.0, 1.0))
        sd = math.sqrt(max(p_end * (1 - p_end), 0.25 / n_val) / n_val)
        draws = draws + rng.normal(0.0, sd, size=(n_boot, 1))
    draws = np.clip(draws, 0.0, 1.0)
    x = nn[None, :] ** (-grid[:, None])  # (G, m)
    a_boot = np.empty(n_boot)
    b_boot = np.empty(n_boot)
    c_boot = np.empty(n_boot)
    for r in range(n_boot):
        ab, bb, sb = _fit_ab(x, draws[r], a_max)
        i = int(np.argmin(sb))
        a_boot[r], b_boot[r], c_boot[r] = ab[i], bb[i], grid[i]

    notes = []
    note_codes = []
    if b <= 1e-9:
        notes.append(
            "The curve is flat over the observed sizes: more images of this kind are not "
            "predicted to help the linear probe."
        )
        note_codes.append(message("curve_flat"))
    if c in (grid[0], grid[-1]) or c <= c_bounds[0] * 1.001 or c >= c_bounds[1] * 0.999:
        notes.append("The exponent c sits at its bound: the shape is poorly determined.")
        note_codes.append(message("curve_exponent_at_bound"))
    if a >= a_max - 1e-9:
        notes.append("The asymptote reached its bound a_max: the curve has not yet bent.")
        note_codes.append(message("curve_asymptote_at_bound"))
    return PowerLawFit(
        a=a,
        b=b,
        c=c,
        n=nn,
        acc=yy,
        rmse=rmse,
        a_boot=a_boot,
        b_boot=b_boot,
        c_boot=c_boot,
        confidence=confidence,
        n_val=n_val,
        notes=notes,
        note_codes=note_codes,
    )


def fit_learning_curve(
    curve: dict[str, Any],
    targets: Sequence[float] = (),
    multiples: Sequence[float] = (2.0, 10.0),
    metric: str = "accuracy",
    n_boot: int = 500,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit the output of :func:`learning_curve_points` and report the extrapolation.

    Args:
        curve: The dict returned by :func:`learning_curve_points`.
        targets: Accuracies the consultant wants; each gets the images needed.
        multiples: Predict at these multiples of the full training split.
        metric: "accuracy" or "balanced_accuracy".
        n_boot: Bootstrap replicates.
        seed: Seed of the bootstrap.

    Returns:
        ``{"metric", "points": [{n, mean, std, count}], "fit": PowerLawFit.to_dict()}``;
        ``fit`` is None with a ``reason`` when there are fewer than three sizes.

    Raises:
        ValueError: If ``curve`` lacks points or the metric is unknown.

    """
    if metric not in ("accuracy", "balanced_accuracy"):
        raise ValueError(f"Unknown metric {metric!r}.")
    pts = curve.get("points") or []
    if not pts:
        raise ValueError("The learning curve has no points.")
    n = np.array([p["n"] for p in pts], dtype=float)
    y = np.array([p[metric] for p in pts], dtype=float)
    summary = []
    for size in np.unique(n):
        vals = y[n == size]
        summary.append(
            {
                "n": int(size),
                "mean": float(vals.mean()),
                "std": float(vals.std(ddof=1)) if vals.size > 1 else 0.0,
                "count": int(vals.size),
            }
        )
    out: dict[str, Any] = {"metric": metric, "points": summary, "fit": None, "reason": None}
    if np.unique(n).size < 3:
        out["reason"] = "Fewer than three training-set sizes: no extrapolation."
        out["reason_code"] = message("curve_too_few_sizes")
        return out
    fit = fit_power_law(n, y, n_boot=n_boot, seed=seed, n_val=curve.get("n_val"))
    out["fit"] = fit.to_dict(multiples=multiples, targets=targets)
    return out
