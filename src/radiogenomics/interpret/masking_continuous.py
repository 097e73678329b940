"""Gene masking of a continuous trait: each gene set scored by Spearman's rho between the
model's masked prediction (only the set's genes kept) and the true values, for networks and
comparators alike (an ordinal trait is scored by the mean cumulative AUROC in
:func:`radiogenomics.interpret.masking_tables.score_sets`).

rho is ``sum_i a_i b_i`` with ``a`` the item's centred, scaled output ranks and ``b`` the
target's ranks: a product statistic linear in the (permuted) labels, whose permutation mean and
variance within each stratum are ``n mean(a) mean(b)`` and
``sum (a - mean a)^2 sum (b - mean b)^2 / (n - 1)``. So the same two closed-form label-permutation
tests as for a categorical trait apply: self-contained (does the set's masked prediction rank
the patients at all?) and competitive (better than the random controls of its size, by their
mean coefficients, or for single genes the average gene); the empirical and generalized-Pareto
tail p against the controls' scores are kept too. Column ``spearman`` where a classifier's
tables have ``auroc``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata

from radiogenomics.evaluation.multitest import FDR
from radiogenomics.evaluation.regression import spearman_rows
from radiogenomics.interpret.masking import Scoring, call_columns
from radiogenomics.results import layout

SCORE = "spearman"  # the masking tables' score column of a continuous trait


def coefficients(outputs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Label-permutation coefficients (items, patients): score ``= sum_i a[item, i] rank(y)_i``."""
    a = rankdata(np.asarray(outputs, dtype=np.float64), axis=1)
    a = a - a.mean(axis=1, keepdims=True)
    b = rankdata(np.asarray(y, dtype=np.float64))
    b = b - b.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.sqrt((a**2).sum(axis=1, keepdims=True) * (b @ b))
        return np.where(scale > 0, a / np.where(scale > 0, scale, 1.0), 0.0)


def permutation_tests(
    outputs: np.ndarray,
    y: np.ndarray,
    reference: np.ndarray | None = None,
    strata: Sequence | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided (greater) ``(self_contained_p, competitive_p)`` of every item's Spearman."""
    coef = coefficients(outputs, y)
    self_p = _upper(_z(coef, y, strata))
    if reference is None:
        return self_p, np.full(len(coef), np.nan)
    return self_p, _upper(_z(coef - reference, y, strata))


def _z(coef: np.ndarray, y: np.ndarray, strata: Sequence | None) -> np.ndarray:
    b = rankdata(np.asarray(y, dtype=np.float64))
    groups = np.zeros(len(b), int) if strata is None else pd.factorize(pd.Series(list(strata)))[0]
    observed = coef @ b
    mean, var = np.zeros(len(coef)), np.zeros(len(coef))
    for g in np.unique(groups):  # independent permutations within each stratum
        members = np.flatnonzero(groups == g)
        a, bm = coef[:, members], b[members]
        mean += a.sum(axis=1) * bm.mean()
        if len(members) > 1:
            spread_a = ((a - a.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
            var += spread_a * ((bm - bm.mean()) ** 2).sum() / (len(members) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (observed - mean) / np.sqrt(var)
    z[var <= 1e-24] = np.nan
    return z


def _upper(z: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(z), 1.0, norm.sf(z))


@dataclass(frozen=True)
class ContinuousNull:
    """The random controls of one part by set size: their Spearmans and mean coefficients."""

    scores: Mapping[int, np.ndarray]
    coefficients: Mapping[int, np.ndarray]


def control_null(
    outputs: np.ndarray, y: np.ndarray, names: Sequence[str]
) -> tuple[pd.DataFrame, ContinuousNull]:
    """Random control sets' scores (set, n_genes, spearman) and their null by set size."""
    scores = pd.DataFrame({SCORE: spearman_rows(outputs, y)})
    n_genes = np.array([layout.control_size(name) for name in names])
    scores.insert(0, "n_genes", n_genes)
    scores.insert(0, "set", list(names))
    sizes = np.unique(n_genes)
    null = ContinuousNull(
        scores={int(s): scores[SCORE].to_numpy()[n_genes == s] for s in sizes},
        coefficients={int(s): coefficients(outputs[n_genes == s], y).mean(axis=0) for s in sizes},
    )
    return scores, null


def score_continuous(
    outputs: np.ndarray,
    y: np.ndarray,
    sizes: np.ndarray | None = None,
    null: ContinuousNull | None = None,
    strata: Sequence | None = None,
    compare_to_items: bool = False,
    fdr: float = FDR,
) -> pd.DataFrame:
    """Every item's Spearman, its tests and q values (module docstring).

    Columns: ``spearman``, q, significant, competitive and self-contained p/q (and, with
    ``null``, the empirical and tail p/q), as :func:`~radiogenomics.interpret.masking_tables
    .score_sets` gives a categorical trait's.
    """
    scores = pd.DataFrame({SCORE: spearman_rows(outputs, y) if len(outputs) else np.zeros(0)})
    if not len(scores):
        return scores
    reference = None
    if null is not None:
        reference = np.stack([null.coefficients[int(s)] for s in sizes])
    elif compare_to_items:
        reference = coefficients(outputs, y).mean(axis=0)
    self_p, comp_p = permutation_tests(outputs, y, reference, strata)
    null_scores = null.scores if null is not None else None
    columns = call_columns(
        self_p, comp_p, reference is not None, scores[SCORE], sizes, null_scores, fdr
    )
    for position, (name, values) in enumerate(columns.items(), start=1):
        scores.insert(position, name, values)
    return scores


def continuous_scoring(y: np.ndarray) -> Scoring:
    """Spearman of the masked prediction with ``y`` and its tests (:func:`score_continuous`)."""

    def controls(outputs: np.ndarray, names: list[str]) -> tuple[pd.DataFrame, ContinuousNull]:
        return control_null(outputs, y, names)

    def items(outputs: np.ndarray, sizes: np.ndarray | None, null) -> pd.DataFrame:
        if sizes is None:
            return score_continuous(outputs, y, compare_to_items=True)
        return score_continuous(outputs, y, sizes, null)

    return Scoring(controls, items, SCORE)
