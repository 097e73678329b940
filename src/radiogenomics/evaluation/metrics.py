"""Classification metrics shared by training, jobs and sweep summaries (binary and multiclass)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def as_prob_matrix(probs: np.ndarray) -> np.ndarray:
    """(n,) positive-class probabilities or (n, K) matrix -> (n, K) matrix."""
    probs = np.asarray(probs, dtype=np.float64)
    return np.column_stack([1 - probs, probs]) if probs.ndim == 1 else probs


def prediction_arrays(predictions, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(y, probabilities) from a predictions.csv frame: (n,) ``y_prob`` or (n, K) ``prob_<class>``."""
    cols = ["y_prob"] if len(classes) == 2 else [f"prob_{c}" for c in classes]
    probs = predictions[cols].to_numpy(dtype=float)
    return predictions["y_true"].to_numpy(), probs[:, 0] if len(classes) == 2 else probs


def auroc(y: np.ndarray, probs: np.ndarray) -> float:
    """Binary AUROC, or macro one-vs-rest AUROC for (n, K>2) probabilities; NaN if undefined."""
    y = np.asarray(y)
    P = as_prob_matrix(probs)
    per_class = [_ovr(roc_auc_score, y, P, k) for k in range(P.shape[1])]
    return per_class[1] if P.shape[1] == 2 else float(np.nanmean(per_class))


def score(y: np.ndarray, probs: np.ndarray, class_names: Sequence[str]) -> dict[str, float]:
    """AUROC and AP (macro over classes for multiclass) plus per-class values for multiclass."""
    y = np.asarray(y)
    P = as_prob_matrix(probs)
    aurocs = [_ovr(roc_auc_score, y, P, k) for k in range(P.shape[1])]
    aps = [_ovr(average_precision_score, y, P, k) for k in range(P.shape[1])]
    if P.shape[1] == 2:
        return {"auroc": aurocs[1], "ap": aps[1]}
    out = {"auroc": float(np.nanmean(aurocs)), "ap": float(np.nanmean(aps))}
    for name, a, p in zip(class_names, aurocs, aps, strict=True):
        out[f"auroc_{name}"] = a
        out[f"ap_{name}"] = p
    return out


def _ovr(metric, y: np.ndarray, P: np.ndarray, k: int) -> float:
    target = (y == k).astype(int)
    if target.min() == target.max():
        return float("nan")
    return float(metric(target, P[:, k]))


def bootstrap_auroc_ci(
    y: np.ndarray, probs: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile CI of (macro) AUROC, resampling patients within each class (stratified bootstrap).

    Vectorised: a resample is a vector of per-patient counts ``c``, and the one-vs-rest AUROC of
    class k is ``c_pos @ M_k @ c_neg / (n_pos * n_neg)`` with ``M_k`` the pairwise comparison matrix.
    """
    y = np.asarray(y)
    P = as_prob_matrix(probs)
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_boot, len(y)))
    for k in np.unique(y):
        members = np.flatnonzero(y == k)
        counts[:, members] = rng.multinomial(
            len(members), np.full(len(members), 1 / len(members)), size=n_boot
        )
    targets = (
        [1] if P.shape[1] == 2 else [k for k in range(P.shape[1]) if 0 < (y == k).sum() < len(y)]
    )
    per_class = []
    for k in targets:
        pos, neg = np.flatnonzero(y == k), np.flatnonzero(y != k)
        diff = P[pos, k][:, None] - P[neg, k][None, :]
        M = (diff > 0) + 0.5 * (diff == 0)
        per_class.append(
            ((counts[:, pos] @ M) * counts[:, neg]).sum(axis=1) / (len(pos) * len(neg))
        )
    stats = np.mean(per_class, axis=0)
    lo, hi = np.percentile(stats, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)
