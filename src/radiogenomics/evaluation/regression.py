"""Metrics of a continuous trait: R², Spearman, MAE, RMSE, their bootstrap CIs, row-wise Spearman.

Predictions are in the target's original units. R² is ``1 - SSE / SST`` around the mean of the
scored patients (scikit-learn's ``r2_score``): negative when the model does worse than
predicting that mean. The bootstrap resamples patients (a plain percentile bootstrap: a
continuous target has no classes to stratify on) and evaluates every resample at once from a
matrix of per-patient counts, like :func:`radiogenomics.evaluation.metrics.bootstrap_auroc_ci`.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from radiogenomics.evaluation.metrics import by_resample_chunks

REGRESSION_METRICS = ("r2", "spearman", "mae", "rmse")  # test_<name> in metrics.json
PREDICTED = "y_pred"  # a continuous model's one output, where a classifier's names its class


def _pair(y: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, pred = np.asarray(y, dtype=np.float64).ravel(), np.asarray(pred, dtype=np.float64)
    pred = pred.ravel()
    if y.shape != pred.shape:
        raise ValueError(f"{len(pred)} predictions for {len(y)} targets")
    return y, pred


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination (NaN for a constant target or fewer than two patients)."""
    y, pred = _pair(y, pred)
    sst = float(((y - y.mean()) ** 2).sum()) if len(y) else 0.0
    if len(y) < 2 or sst == 0:
        return float("nan")
    return 1.0 - float(((y - pred) ** 2).sum()) / sst


def spearman(y: np.ndarray, pred: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties; NaN when either side is constant)."""
    y, pred = _pair(y, pred)
    return float(spearman_rows(pred[None, :], y)[0])


def regression_score(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """``r2``, ``spearman``, ``mae``, ``rmse`` of predictions in the target's units."""
    y, pred = _pair(y, pred)
    error = pred - y
    return {
        "r2": r2(y, pred),
        "spearman": spearman(y, pred),
        "mae": float(np.abs(error).mean()) if len(y) else float("nan"),
        "rmse": float(np.sqrt((error**2).mean())) if len(y) else float("nan"),
    }


def spearman_rows(rows: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of ``rows`` (items x patients) with ``y``; NaN if constant."""
    rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
    ranks = rankdata(rows, axis=1)
    target = rankdata(np.asarray(y, dtype=np.float64))
    return _pearson_rows(ranks, target)


def _pearson_rows(rows: np.ndarray, target: np.ndarray) -> np.ndarray:
    rows = rows - rows.mean(axis=1, keepdims=True)
    target = target - target.mean()
    denom = np.sqrt((rows**2).sum(axis=1) * (target**2).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, rows @ target / np.where(denom > 0, denom, 1.0), np.nan)


def bootstrap_counts(n: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """(n_boot, n) patient counts of a plain bootstrap (n patients drawn with replacement)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1 / n), size=n_boot).astype(np.float64)


def _resampled(counts: np.ndarray, y: np.ndarray, pred: np.ndarray, ry, rp) -> np.ndarray:
    """(n_boot, 3) R², Spearman, MAE of every resample (row of patient ``counts``).

    Spearman of a resample is the weighted Pearson of the full sample's ranks: the mid-ranks of
    a resample are a monotone map of the original ranks, so this is the usual approximation
    (exact without ties across resampled duplicates' order)."""
    w = counts / counts.sum(axis=1, keepdims=True)
    mean_y = w @ y
    sst = w @ y**2 - mean_y**2
    sse = w @ (y - pred) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        r2s = np.where(sst > 0, 1 - sse / np.where(sst > 0, sst, 1.0), np.nan)
        mry, mrp = w @ ry, w @ rp
        cov = w @ (ry * rp) - mry * mrp
        var = (w @ ry**2 - mry**2) * (w @ rp**2 - mrp**2)
        rho = np.where(var > 0, cov / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)
    mae = w @ np.abs(y - pred)
    return np.column_stack([r2s, rho, mae])


def bootstrap_regression_ci(
    y: np.ndarray, pred: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """Percentile CIs of R², Spearman and MAE, resampling patients: ``{"r2": (lo, hi), ...}``."""
    y, pred = _pair(y, pred)
    if len(y) < 2:
        return {name: (float("nan"), float("nan")) for name in ("r2", "spearman", "mae")}
    counts = bootstrap_counts(len(y), n_boot, seed)
    ry, rp = rankdata(y), rankdata(pred)

    def statistic(chunk: np.ndarray) -> np.ndarray:
        return _resampled(chunk, y, pred, ry, rp)

    stats = by_resample_chunks(counts, statistic, "bootstrap regression CI")
    qs = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    out = {}
    for j, name in enumerate(("r2", "spearman", "mae")):
        column = stats[:, j][np.isfinite(stats[:, j])]
        lo, hi = np.percentile(column, qs) if len(column) else (np.nan, np.nan)
        out[name] = (float(lo), float(hi))
    return out


def external_regression_scores(y: np.ndarray, pred: np.ndarray, n_boot: int = 2000) -> dict:
    """External validation of a continuous trait: n, R², Spearman, MAE, RMSE (None if undefined)
    and ``<metric>_ci`` percentile-bootstrap 95% CIs, as JSON-ready numbers."""
    y, pred = _pair(y, pred)

    def defined(value: float) -> float | None:
        return float(value) if np.isfinite(value) else None

    scores = regression_score(y, pred) if len(y) else dict.fromkeys(REGRESSION_METRICS, np.nan)
    out: dict = {"n": len(y), **{k: defined(v) for k, v in scores.items()}}
    cis = bootstrap_regression_ci(y, pred, n_boot=n_boot) if len(y) >= 2 else {}
    for name in ("r2", "spearman", "mae"):
        out[f"{name}_ci"] = [defined(v) for v in cis.get(name, (np.nan, np.nan))]
    return out
