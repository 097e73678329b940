"""Permutation-null calibration of importances: compare a real model's importances with K nulls.

A *null replicate* ``k`` is the real configuration retrained on every outer fold with the
training patients' labels permuted (``null_permutation=k``, see
:func:`radiogenomics.data.splits.null_labels`): same pretraining, architecture, inner-validation
early stopping and held-out patients, interpreted the same way. For every item (a gene or a set)
and importance the real model gives one statistic over all folds (``observed``) and each null
replicate one (``null[k]``).

* ``empirical_p = (1 + #{k: null[k] >= observed}) / (K + 1)``: exact under exchangeability of the
  real labels with their permutations (no real importance), but never below ``1 / (K + 1)``;
* ``tail_p``: the observed value standardised by its item's K nulls,
  ``z = (observed - mean) / sd``, against the *pooled* standardised nulls of all items of the
  table (each null value standardised by the other K - 1 nulls of its item, so it is judged like
  the observed one; K x items values), with a generalized Pareto tail above their 90th percentile
  (:func:`radiogenomics.evaluation.tails.tail_p`, peaks over threshold). Pooling across items
  after standardisation is what GSEA does with its phenotype permutations (Subramanian et al.
  2005): it lets a few dozen permutations resolve p-values far below ``1 / (K + 1)``. It assumes
  the items' standardised nulls share one shape; :func:`null_checks` tests that, the tail fit,
  and the whole procedure on the nulls themselves (each null replicate in turn scored as if it
  were the real model against the others: its discoveries are false ones);
* ``q`` (of ``tail_p``) and ``empirical_q``: Benjamini-Hochberg within one importance, class and
  collection.

Why one statistic over all folds rather than pooling per-fold exceedances: the real folds' models
share ~90% of their training patients and labels, so their per-fold importances are strongly
correlated; a null replicate permutes the labels once for the cohort, so its folds share their
training labels the same way, and the pooled statistic of the real model and of each null
replicate are exchangeable under the null. Pooling per-fold exceedance counts, or fold-wise
independent permutations, would treat ten correlated folds as ten independent draws and be
anti-conservative.

``two_sided=True`` (signed mean attributions, signed NES) compares sizes: the observed ``|value|``
against the nulls' ``|value|`` (``observed``, ``null_mean`` and ``null_sd`` are then of the
absolute values). A null network's orientation is arbitrary (which way its logit points relative
to the permuted labels), so its signed values of a strong program are large with either sign.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom, ks_2samp

from radiogenomics.evaluation.multitest import FDR, bh_qvalues
from radiogenomics.evaluation.tails import empirical_p, fit_tail, tail_p

MIN_NULLS = 3  # fewer complete null replicates give no tail estimate (a leave-one-out sd needs 2)
MAX_CHECK_ITEMS = 2000  # items (a random subset, seeded) behind the shape and calibration checks
CHECK_ALPHA = 0.01  # a table whose tail checks fail at this level is called by empirical_q instead


def permutation_p(observed: np.ndarray, null: np.ndarray, two_sided: bool = False) -> pd.DataFrame:
    """Per item: observed, null mean/sd, z, empirical p and pooled-tail p (``null``: K x items)."""
    observed = np.asarray(observed, dtype=float)
    null = np.asarray(null, dtype=float).reshape(-1, len(observed))
    if two_sided:  # signed importance: a null network's orientation is arbitrary, compare sizes
        observed, null = np.abs(observed), np.abs(null)
    k = len(null)
    with np.errstate(all="ignore"):
        mean = null.mean(axis=0) if k else np.full(len(observed), np.nan)
        sd = null.std(axis=0, ddof=1) if k > 1 else np.full(len(observed), np.nan)
        z = np.where(sd > 0, (observed - mean) / sd, np.nan)
    return pd.DataFrame(
        {
            "observed": observed,
            "null_mean": mean,
            "null_sd": sd,
            "z": z,
            "n_null": k,
            "empirical_p": empirical_p(observed, null),
            "tail_p": pooled_tail_p(z, standardized_nulls(null)),
        }
    )


def standardized_nulls(null: np.ndarray) -> np.ndarray:
    """Each null value standardised by the other K - 1 nulls of its item (K x items; NaN if K < 3)."""
    null = np.asarray(null, dtype=float)
    k = len(null)
    out = np.full(null.shape, np.nan)
    if k < MIN_NULLS:
        return out
    with np.errstate(all="ignore"):
        for i in range(k):
            others = np.delete(null, i, axis=0)
            sd = others.std(axis=0, ddof=1)
            out[i] = np.where(sd > 0, (null[i] - others.mean(axis=0)) / sd, np.nan)
    return out


def pooled_tail_p(z: np.ndarray, pooled: np.ndarray) -> np.ndarray:
    """P(pooled standardised null >= z): empirical, and a GPD tail above the pool's 90th percentile."""
    z = np.asarray(z, dtype=float)
    draws = np.asarray(pooled, dtype=float).ravel()
    draws = np.sort(draws[np.isfinite(draws)])
    if len(draws) < MIN_NULLS:
        return np.full(len(z), np.nan)
    return tail_p(np.where(np.isfinite(z), z, np.nan), draws)


def add_qvalues(table: pd.DataFrame, fdr: float = FDR) -> pd.DataFrame:
    """BH q of ``tail_p`` (``q``) and of ``empirical_p`` (``empirical_q``); ``significant``."""
    table = table.copy()
    table["q"] = bh_qvalues(table["tail_p"].to_numpy())
    table["empirical_q"] = bh_qvalues(table["empirical_p"].to_numpy())
    table["significant"] = table["q"] < fdr
    return table


def null_checks(null: np.ndarray, two_sided: bool, fdr: float = FDR, seed: int = 0) -> dict:
    """The assumptions behind ``tail_p``, checked on the K nulls of one table (items as columns).

    * ``gpd_ks_p``: KS of the pooled standardised nulls' exceedances against their GPD fit;
    * ``shape_ks_below_0.05``: share of items whose own standardised nulls differ from the pool
      (two-sample KS p < 0.05; about 0.05 when the items share one shape, higher when not);
    * ``calibration``: each null replicate scored in turn as if it were the real model against
      the other K - 1 (the same ``tail_p`` and BH): its discoveries at q < ``fdr`` are false, so
      ``mean_false_discoveries`` should stay near 0 and ``share_with_any`` near ``fdr`` or below
      (``binomial_p``: how surprising that share is if the procedure holds its FDR);
    * ``tail_ok``: neither the GPD fit nor the calibration rejected at ``CHECK_ALPHA``
      (``problems`` says which). Where not, the summary calls the table by ``empirical_q``.

    The shape and calibration checks use at most ``MAX_CHECK_ITEMS`` items (a seeded subset).
    """
    null = np.asarray(null, dtype=float)
    if two_sided:
        null = np.abs(null)
    k = len(null)
    if null.ndim != 2 or k < MIN_NULLS + 1:
        return {"n_null": k, "checked": False}
    columns = np.flatnonzero(np.isfinite(null).all(axis=0) & (null.std(axis=0) > 0))
    if len(columns) > MAX_CHECK_ITEMS:
        rng = np.random.default_rng(seed)
        columns = np.sort(rng.choice(columns, MAX_CHECK_ITEMS, replace=False))
    null = null[:, columns]
    pooled = standardized_nulls(null)
    draws = pooled[np.isfinite(pooled)]
    fit = fit_tail(draws)
    gpd_ks = fit.ks_p(draws) if fit is not None else None
    shape_p = [ks_2samp(pooled[:, j], draws).pvalue for j in range(null.shape[1])]
    false = []
    for i in range(k):
        others = np.delete(null, i, axis=0)
        table = permutation_p(null[i], others)
        false.append(int((bh_qvalues(table["tail_p"].to_numpy()) < fdr).sum()))
    n_any = int(np.sum(np.asarray(false) > 0))
    calibration_p = float(binom.sf(n_any - 1, k, fdr))  # P(>= n_any replicates with any | fdr)
    problems = []
    if gpd_ks is not None and gpd_ks < CHECK_ALPHA:
        problems.append(f"GPD tail fit rejected (KS p = {gpd_ks:.2g})")
    if calibration_p < CHECK_ALPHA:
        problems.append(f"{n_any} of {k} null replicates scored as real gave discoveries")
    return {
        "n_null": k,
        "checked": True,
        "n_items_checked": int(null.shape[1]),
        "gpd_ks_p": gpd_ks,
        "shape_ks_below_0.05": float(np.mean(np.asarray(shape_p) < 0.05)) if shape_p else None,
        "calibration": {
            "fdr": fdr,
            "false_discoveries": false,
            "mean_false_discoveries": float(np.mean(false)),
            "share_with_any": n_any / k,
            "binomial_p": calibration_p,
        },
        "tail_ok": not problems,
        "problems": problems,
    }


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int = 100) -> float:
    """Share of the top ``k`` items of ``a`` (largest values) that are in the top ``k`` of ``b``."""
    k = min(k, len(a))
    if k == 0:
        return float("nan")
    top_a = set(np.argsort(-np.asarray(a), kind="stable")[:k].tolist())
    top_b = set(np.argsort(-np.asarray(b), kind="stable")[:k].tolist())
    return len(top_a & top_b) / k
