"""Permutation-null calibration of importances: compare a real model's importances with K nulls.

A *null replicate* ``k`` is the real configuration retrained on every outer fold with the
training patients' labels permuted (``null_permutation=k``, see
:func:`radiogenomics.data.splits.null_labels`): same pretraining, architecture, inner-validation
early stopping and held-out patients, interpreted the same way. For every item (a gene or a set)
and importance (mean attribution, NES of the mean attribution, masking AUROC) the real model
gives one statistic over all folds (``observed``) and each null replicate one (``null[k]``).

* ``empirical_p = (1 + #{k: null[k] >= observed}) / (K + 1)``: exact under exchangeability of the
  real labels with their permutations (no real importance), but never below ``1 / (K + 1)``;
* ``tail_p``: the observed value against a normal fitted to the K null values, as a prediction
  interval, ``t = (observed - mean) / (sd * sqrt(1 + 1 / K))`` on ``K - 1`` degrees of freedom
  (exact when the null statistic is normal). The statistics are means over ~175 patients and
  10 folds, so near-normal nulls are expected; :func:`null_normality` checks it (Shapiro-Wilk per
  item: under normality about 5% of the items fall below 0.05). This is what lets q < 0.05 be
  reached with K = 20 and 50 sets;
* ``q`` (of ``tail_p``) and ``empirical_q``: Benjamini-Hochberg within one importance and
  collection.

Why one statistic over all folds rather than pooling per-fold exceedances: the real folds' models
share ~90% of their training patients and labels, so their per-fold importances are strongly
correlated; a null replicate permutes the labels once for the cohort, so its folds share their
training labels the same way, and the pooled statistic of the real model and of each null
replicate are exchangeable under the null. Pooling per-fold exceedance counts, or fold-wise
independent permutations, would treat ten correlated folds as ten independent draws and be
anti-conservative.

``two_sided=True`` (signed mean attributions, NES) compares sizes: the observed ``|value|``
against the nulls' ``|value|`` (empirical p and tail fit alike; ``observed``, ``null_mean`` and
``null_sd`` are then of the absolute values). A null network's orientation is arbitrary (which way
its logit points relative to the permuted labels), so its signed values of a strong program are
bimodal (large with either sign); a normal fitted to them has a spread set by the sign flips and
says nothing about the tail of the sizes, while the folded values are unimodal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import shapiro
from scipy.stats import t as student_t

from radiogenomics.evaluation.multitest import FDR, bh_qvalues

MIN_NULLS = 3  # fewer complete null replicates give no tail estimate


def permutation_p(observed: np.ndarray, null: np.ndarray, two_sided: bool = False) -> pd.DataFrame:
    """Per item: observed, null mean/sd, z, empirical p and normal-tail p (``null``: K x items)."""
    observed = np.asarray(observed, dtype=float)
    null = np.asarray(null, dtype=float).reshape(-1, len(observed))
    if two_sided:  # signed importance: a null network's orientation is arbitrary, compare sizes
        observed, null = np.abs(observed), np.abs(null)
    k = len(null)
    with np.errstate(all="ignore"):
        mean = null.mean(axis=0) if k else np.full(len(observed), np.nan)
        sd = null.std(axis=0, ddof=1) if k > 1 else np.full(len(observed), np.nan)
        z = (observed - mean) / sd
        exceed = (null >= observed).sum(axis=0)
        empirical = (1 + exceed) / (1 + k) if k else np.full(len(observed), np.nan)
        if k >= MIN_NULLS:
            tail = student_t.sf(z / np.sqrt(1 + 1 / k), df=k - 1)
            tail = np.where(sd > 0, tail, np.where(observed > mean, 0.0, 1.0))
        else:
            tail = np.full(len(observed), np.nan)
    empirical = np.where(np.isnan(observed), np.nan, empirical)
    return pd.DataFrame(
        {
            "observed": observed,
            "null_mean": mean,
            "null_sd": sd,
            "z": z,
            "n_null": k,
            "empirical_p": empirical,
            "tail_p": tail,
        }
    )


def add_qvalues(table: pd.DataFrame, fdr: float = FDR) -> pd.DataFrame:
    """BH q of ``tail_p`` (``q``) and of ``empirical_p`` (``empirical_q``); ``significant``."""
    table = table.copy()
    table["q"] = bh_qvalues(table["tail_p"].to_numpy())
    table["empirical_q"] = bh_qvalues(table["empirical_p"].to_numpy())
    table["significant"] = table["q"] < fdr
    return table


def null_normality(null: np.ndarray, max_items: int = 2000, seed: int = 0) -> dict:
    """Shapiro-Wilk of each item's K null values: share below 0.05 (about 0.05 if normal)."""
    null = np.asarray(null, dtype=float)
    if null.ndim != 2 or len(null) < MIN_NULLS:
        return {"n_items": 0, "share_shapiro_below_0.05": None}
    columns = np.flatnonzero(np.isfinite(null).all(axis=0) & (null.std(axis=0) > 0))
    if len(columns) > max_items:
        columns = np.sort(np.random.default_rng(seed).choice(columns, max_items, replace=False))
    p = np.array([shapiro(null[:, j]).pvalue for j in columns])
    return {
        "n_items": len(columns),
        "share_shapiro_below_0.05": float(np.mean(p < 0.05)) if len(p) else None,
    }


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int = 100) -> float:
    """Share of the top ``k`` items of ``a`` (largest values) that are in the top ``k`` of ``b``."""
    k = min(k, len(a))
    if k == 0:
        return float("nan")
    top_a = set(np.argsort(-np.asarray(a), kind="stable")[:k].tolist())
    top_b = set(np.argsort(-np.asarray(b), kind="stable")[:k].tolist())
    return len(top_a & top_b) / k
