"""Metrics of an ordinal trait from (n, K) level probabilities (levels 0..K-1, lowest first).

Every metric reads the level probabilities ``p`` only, so the ordinal network, a multiclass
network and any comparator that outputs level probabilities are scored alike. Names, as they
appear in metrics.json (prefixed ``test_``) and in the sweep summary (prefixed ``pooled_``):

* ``auroc_cut_<k>`` (k = 1..K-1): AUROC of the cumulative score ``P(y >= k) = sum_{j>=k} p_j``
  for the target ``y >= k``, i.e. levels k and above against the levels below (NaN when the
  patients are all on one side of the cut);
* ``auroc``: the mean of the defined cut AUROCs (the headline, read wherever ``test_auroc`` is);
* ``auroc_binary``: ``auroc_cut_<binary_cut>``, the AUROC at the paper's binarization (for the
  VASARI proportions cut 2: ``Minimal``/``Less than 1/3`` against the rest), directly
  comparable to the binary network's AUROC; absent when the trait records no binary cut;
* ``ap_cut_<k>`` and ``ap``: average precision per cut and their mean;
* ``spearman``: Spearman correlation of the expected level ``sum_k k p_k`` with the true level;
* ``qwk``: quadratic weighted kappa (Cohen) of the predicted level against the truth;
* ``mae``: mean absolute error of the predicted level, in levels.

The predicted level is the **median** of the predicted distribution (the number of cuts with
``P(y >= k) > 0.5``), not the argmax: the median minimises the expected absolute error, which
MAE and QWK reward, it uses the ordering (the argmax of a flat distribution over four levels
can jump from the lowest to the highest level on a small change), and for a rank-consistent
head it is the CORAL paper's own prediction rule.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, cohen_kappa_score

from radiogenomics.evaluation.metrics import (
    _resampled_auroc,
    as_prob_matrix,
    binary_auroc,
    by_resample_chunks,
    stratified_counts,
)


def cumulative_scores(probs: np.ndarray) -> np.ndarray:
    """P(y >= k) for k = 1..K-1, (n, K-1), from (n, K) level probabilities ((n,): two levels)."""
    P = as_prob_matrix(probs)
    return np.cumsum(P[:, ::-1], axis=1)[:, ::-1][:, 1:]


def predicted_level(probs: np.ndarray) -> np.ndarray:
    """The median level of each patient's predicted distribution (see the module docstring)."""
    return (cumulative_scores(probs) > 0.5).sum(axis=1)


def expected_level(probs: np.ndarray) -> np.ndarray:
    """sum_k k p_k per patient."""
    P = as_prob_matrix(probs)
    return P @ np.arange(P.shape[1])


def cut_aurocs(y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """AUROC at every cumulative cut k = 1..K-1 (NaN where the cut has one side only)."""
    y = np.asarray(y)
    S = cumulative_scores(probs)
    return np.array([_binary(binary_auroc, y >= k + 1, S[:, k]) for k in range(S.shape[1])])


def mean_cumulative_auroc(y: np.ndarray, probs: np.ndarray) -> float:
    """Mean of the defined cut AUROCs (NaN if none is defined): inner validation selects on it."""
    values = cut_aurocs(y, probs)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def ordinal_score(
    y: np.ndarray, probs: np.ndarray, binary_cut: int | None = None
) -> dict[str, float]:
    """Every ordinal metric of the module docstring, by name."""
    y = np.asarray(y).astype(int)
    S = cumulative_scores(probs)
    aurocs = cut_aurocs(y, probs)
    aps = np.array(
        [_binary(average_precision_score, y >= k + 1, S[:, k]) for k in range(S.shape[1])]
    )
    out = {
        "auroc": _nanmean(aurocs),
        "ap": _nanmean(aps),
        "spearman": _spearman(expected_level(probs), y),
        "qwk": _qwk(y, predicted_level(probs), S.shape[1] + 1),
        "mae": float(np.abs(predicted_level(probs) - y).mean()) if len(y) else float("nan"),
    }
    if binary_cut is not None:
        out["auroc_binary"] = float(aurocs[binary_cut - 1])
    for k, (a, p) in enumerate(zip(aurocs, aps, strict=True), start=1):
        out[f"auroc_cut_{k}"] = float(a)
        out[f"ap_cut_{k}"] = float(p)
    return out


def ordinal_record(
    y: np.ndarray, probs: np.ndarray, binary_cut: int | None = None
) -> dict[str, float | None]:
    """:func:`ordinal_score` for a JSON file: undefined values (and no patients) as None."""
    if not len(y):
        return {}
    return {
        k: (float(v) if np.isfinite(v) else None)
        for k, v in ordinal_score(y, probs, binary_cut).items()
    }


def bootstrap_cut_auroc_ci(
    y: np.ndarray,
    probs: np.ndarray,
    cuts: list[int] | None = None,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile CI of the mean AUROC over ``cuts`` (default: every defined cut).

    Patients are resampled within each level (the stratified resamples of
    :func:`radiogenomics.evaluation.metrics.bootstrap_auroc_ci`); ``cuts=[binary_cut]`` gives
    the CI of the AUROC at the paper's cut.
    """
    y = np.asarray(y).astype(int)
    S = cumulative_scores(probs)
    counts = stratified_counts(y, n_boot, np.random.default_rng(seed))
    cuts = list(range(1, S.shape[1] + 1)) if cuts is None else list(cuts)
    per_cut = []
    for k in cuts:
        pos, neg = np.flatnonzero(y >= k), np.flatnonzero(y < k)
        if not len(pos) or not len(neg):
            continue
        diff = S[pos, k - 1][:, None] - S[neg, k - 1][None, :]
        M = (diff > 0) + 0.5 * (diff == 0)
        statistic = partial(_resampled_auroc, pos=pos, neg=neg, M=M)
        per_cut.append(by_resample_chunks(counts, statistic, "bootstrap cut AUROC CI"))
    if not per_cut:
        return float("nan"), float("nan")
    stats = np.mean(per_cut, axis=0)
    lo, hi = np.percentile(stats, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)


def _binary(metric, target: np.ndarray, score: np.ndarray) -> float:
    target = np.asarray(target, dtype=int)
    if target.min(initial=0) == target.max(initial=0):
        return float("nan")
    return float(metric(target, score))


def _nanmean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def _qwk(y: np.ndarray, predicted: np.ndarray, n_levels: int) -> float:
    if not len(y):
        return float("nan")
    labels = list(range(n_levels))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = cohen_kappa_score(y, predicted, labels=labels, weights="quadratic")
    return float(value)
