"""Label-permutation tests of AUROCs of fixed scores, in closed form.

A masked set's (or a gene's) held-out probabilities are fixed numbers once the model is trained.
Permuting the held-out labels against them (within each fold, where the labels were drawn) asks
whether the set's output separates the classes better than chance. The AUROC of fixed scores is
linear in the labels: with within-item midranks ``r``,
``AUROC = (sum_{i: y_i = 1} r_i - n1 (n1 + 1) / 2) / (n1 n0)``, and a macro one-vs-rest AUROC is
the mean of one such sum per class. So every statistic here is a linear permutation statistic
``T = sum_i A[i, L_pi(i)]`` of a coefficient matrix ``A`` (patients x classes), whose exact mean
and variance over all permutations are known (Hoeffding 1951, the combinatorial central limit
theorem); the p-value is the normal tail of the standardised observed ``T``. This is the exact
permutation distribution's first two moments, not a Monte-Carlo estimate, so p-values are not
floored at ``1 / (1 + B)``; for a binary trait with one stratum it is the Mann-Whitney test with
the tie-corrected variance.

Two tests use it (:func:`auroc_permutation_tests`):

* **self-contained**: the item's AUROC against permutations of the labels (H0: the item's masked
  output carries no information about the class);
* **competitive**: the item's AUROC *minus the mean AUROC of reference items* (random gene sets of
  the same size, or the average gene) against the same permutations (H0: the item separates the
  classes no better than a random set of its size). The variance comes from resampling
  patients, not genes, so a coherent program (correlated genes whose masked output swings
  together) is judged by how much its AUROC varies with the patients, as CAMERA (Wu & Smyth
  2012) judges a set's statistic by its inter-gene correlation instead of by other genes'.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata


def auroc_coefficients(
    probs: np.ndarray, y: np.ndarray, n_classes: int, ordinal: bool = False
) -> np.ndarray:
    """Coefficients ``A`` (items, patients, classes) with ``AUROC_item = sum_i A[item, i, y_i] + c``.

    ``probs`` is (items, patients) for a binary trait (the positive-class probability) or
    (items, patients, K); the AUROC is the one :func:`radiogenomics.interpret.masking.score_masked`
    reports (macro over the classes present for multiclass; ``ordinal``: the mean over the
    defined cumulative cuts k of the AUROC of ``P(y >= k)`` for ``y >= k``, where a patient of
    level c adds its midrank at every cut k <= c). ``c`` depends on the class counts only, which
    a permutation keeps.
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y)
    n = len(y)
    if ordinal and probs.ndim == 3:
        return _cumulative_coefficients(probs, y)
    if probs.ndim == 2:  # binary: the positive class
        coef = np.zeros((*probs.shape, 2))
        n1 = int((y == 1).sum())
        if 0 < n1 < n:
            coef[..., 1] = rankdata(probs, axis=1) / (n1 * (n - n1))
        return coef
    present = [k for k in range(n_classes) if 0 < (y == k).sum() < n]
    coef = np.zeros((*probs.shape[:2], n_classes))
    for k in present:
        n1 = int((y == k).sum())
        coef[..., k] = rankdata(probs[..., k], axis=1) / (n1 * (n - n1) * len(present))
    return coef


def _cumulative_coefficients(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`auroc_coefficients` of the mean cumulative AUROC of (items, patients, K) levels."""
    n, n_levels = len(y), probs.shape[2]
    cumulative = np.cumsum(probs[..., ::-1], axis=2)[..., ::-1]  # P(y >= k), k = 0..K-1
    cuts = [k for k in range(1, n_levels) if 0 < (y >= k).sum() < n]
    coef = np.zeros((*probs.shape[:2], n_levels))
    for k in cuts:
        n1 = int((y >= k).sum())
        ranks = rankdata(cumulative[..., k], axis=1) / (n1 * (n - n1) * len(cuts))
        coef[..., k:] += ranks[..., None]  # every level >= k is a positive of cut k
    return coef


def permutation_z(coef: np.ndarray, y: np.ndarray, strata: Sequence | None = None) -> np.ndarray:
    """Standardised ``T = sum_i coef[:, i, y_i]`` under label permutations within ``strata``.

    Mean and variance are the exact moments of the permutation distribution (Hoeffding 1951),
    summed over strata (independent permutations); one z per item. An item whose statistic
    cannot vary (constant scores) gets z = NaN.
    """
    coef = np.asarray(coef, dtype=np.float64)
    y = np.asarray(y).astype(int)
    if strata is None:
        strata = np.zeros(len(y), dtype=int)
    else:  # any labels, a missing one (no fold) its own stratum
        strata = pd.factorize(pd.Series(list(strata), dtype=object), use_na_sentinel=False)[0]
    observed = np.take_along_axis(coef, y[None, :, None], axis=2)[..., 0].sum(axis=1)
    mean = np.zeros(len(coef))
    var = np.zeros(len(coef))
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        n = len(members)
        if n < 2:
            continue
        counts = np.bincount(y[members], minlength=coef.shape[2]).astype(float)
        a = coef[:, members, :]  # (items, n, K): c(i, j) = a[i, label_j]
        row = a @ counts / n  # (items, n): mean over j of c(i, j)
        col = a.mean(axis=1)  # (items, K): mean over i of a[i, k]
        grand = col @ counts / n  # (items,)
        mean += row.sum(axis=1)
        d = a - row[..., None] - col[:, None, :] + grand[:, None, None]
        var += (d**2 @ counts).sum(axis=1) / (n - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (observed - mean) / np.sqrt(var)
    z[var <= 1e-24 * np.maximum(1.0, mean**2)] = np.nan
    return z


def auroc_permutation_tests(
    probs: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    reference: np.ndarray | None = None,
    strata: Sequence | None = None,
    ordinal: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided (greater) ``(self_contained_p, competitive_p)`` of every item's AUROC.

    ``reference`` holds, per item, the mean coefficients (patients, classes) of its reference
    items (:func:`auroc_coefficients` averaged over the random sets of the item's size, or over
    every gene); without it the competitive p is NaN. ``strata`` (e.g. the fold of each pooled
    held-out patient) restricts the permutations to patients of one stratum. An item whose
    statistic cannot vary gets p = 1. ``ordinal``: the mean cumulative AUROC of level
    probabilities (:func:`auroc_coefficients`).
    """
    coef = auroc_coefficients(probs, y, n_classes, ordinal)
    self_p = _upper_p(permutation_z(coef, y, strata))
    if reference is None:
        return self_p, np.full(len(coef), np.nan)
    return self_p, _upper_p(permutation_z(coef - reference, y, strata))


def _upper_p(z: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(z), 1.0, norm.sf(z))
