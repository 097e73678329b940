"""One definition per statistic: AUROC, Brier score and Benjamini-Hochberg against the library
calls they replace or agree with, and the permutation p and tail fit of evaluation/tails.py."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import genpareto
from sklearn.metrics import roc_auc_score

from radiogenomics.evaluation.metrics import (
    auroc,
    auroc_rows,
    binary_auroc,
    brier_score,
    resampled_aurocs,
    score,
)
from radiogenomics.evaluation.multitest import bh_qvalues
from radiogenomics.evaluation.ordinal import cut_aurocs
from radiogenomics.evaluation.tails import empirical_p, fit_tail, per_size, tail_p


def _labels_and_probs(rng: np.random.Generator, n_classes: int, ties: bool):
    n = int(rng.integers(6, 120))
    y = rng.integers(0, n_classes, n)
    y[:n_classes] = np.arange(n_classes)  # every class present
    probs = rng.dirichlet(np.ones(n_classes), n).astype(np.float32).astype(float)
    if ties:
        probs = np.round(probs, 1)
    return y, probs


@pytest.mark.parametrize("seed", range(20))
def test_one_auroc_agrees_with_sklearn(seed):
    rng = np.random.default_rng(seed)
    y, probs = _labels_and_probs(rng, 2, ties=seed % 2 == 0)
    assert binary_auroc(y, probs[:, 1]) == pytest.approx(roc_auc_score(y, probs[:, 1]), abs=1e-12)
    assert auroc(y, probs[:, 1]) == binary_auroc(y, probs[:, 1])
    counts = np.ones((1, len(y)))  # the bootstrap kernel at the original sample
    assert resampled_aurocs(y == 1, probs[:, 1], counts)[0] == pytest.approx(
        binary_auroc(y, probs[:, 1]), abs=1e-12
    )
    y3, probs3 = _labels_and_probs(rng, 3, ties=seed % 2 == 0)
    probs3 = probs3 / probs3.sum(axis=1, keepdims=True)
    expected = roc_auc_score(y3, probs3, multi_class="ovr")
    assert auroc(y3, probs3) == pytest.approx(expected, abs=1e-12)
    per_class = score(y3, probs3, ["a", "b", "c"])
    rows = auroc_rows(probs3.T, y3 == 1)  # the vectorised form, row by row
    assert per_class["auroc_b"] == rows[1]
    cuts = cut_aurocs(y3, probs3)
    cumulative = probs3[:, 2]
    assert cuts[1] == pytest.approx(roc_auc_score(y3 >= 2, cumulative), abs=1e-12)


def test_auroc_of_one_class_is_nan_and_nan_scores_are_refused():
    assert np.isnan(binary_auroc(np.zeros(5), np.linspace(0, 1, 5)))
    with pytest.raises(ValueError, match="finite"):
        binary_auroc(np.array([0, 1, 1]), np.array([0.1, np.nan, 0.3]))


def _old_brier(y: np.ndarray, probs: np.ndarray) -> float:
    """The hand-written Brier score that scikit-learn's brier_score_loss replaced."""
    P = np.asarray(probs, dtype=float)
    P = np.column_stack([1 - P, P]) if P.ndim == 1 else P
    squared = ((P - np.eye(P.shape[1])[np.asarray(y, dtype=int)]) ** 2).sum(axis=1)
    return float(squared.mean() / 2 if P.shape[1] == 2 else squared.mean())


@pytest.mark.parametrize("seed", range(40))
def test_brier_is_the_old_formula_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    n_classes = (2, 2, 3, 4)[seed % 4]
    y, probs = _labels_and_probs(rng, n_classes, ties=seed % 3 == 0)
    if seed % 5 == 0:
        y[:] = 0  # one class only
    given = probs[:, 1] if n_classes == 2 else probs
    assert brier_score(y, given) == _old_brier(y, given)
    given = np.array(given)
    given[0] = np.nan
    assert np.isnan(brier_score(y, given)) and np.isnan(_old_brier(y, given))
    assert np.isnan(brier_score(np.array([], dtype=int), np.zeros((0, n_classes))))


def _old_bh(p: np.ndarray) -> np.ndarray:
    """The hand-written Benjamini-Hochberg that scipy's false_discovery_control replaced."""
    p = np.asarray(p, dtype=float)
    q = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if len(ok):
        order = ok[np.argsort(p[ok])]
        ranked = p[order] * len(ok) / np.arange(1, len(ok) + 1)
        q[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    return q


@pytest.mark.parametrize("seed", range(40))
def test_bh_is_the_old_formula(seed):
    """Equal up to rounding: scipy multiplies p by m / i, the old code p * m by 1 / i."""
    rng = np.random.default_rng(seed)
    p = rng.random(int(rng.integers(1, 300))) ** 3
    if seed % 2:
        p = np.round(p, 2)  # ties
    p[rng.random(len(p)) < 0.1] = np.nan
    new, old = bh_qvalues(p), _old_bh(p)
    assert np.array_equal(np.isnan(new), np.isnan(p))
    np.testing.assert_allclose(new, old, rtol=1e-15, atol=0)
    assert np.array_equal(new < 0.05, old < 0.05)
    assert np.isnan(bh_qvalues(np.array([np.nan, np.nan]))).all()


def test_empirical_p_shared_and_per_value_samples():
    null = np.array([0.1, 0.5, 0.5, 0.9, np.nan])  # NaN draws are not draws
    observed = np.array([0.5, 0.95, 0.0, np.nan])
    expected = [(1 + 3) / 5, 1 / 5, 5 / 5, np.nan]
    assert empirical_p(observed, null).tolist() == pytest.approx(expected, nan_ok=True)
    per_value = np.column_stack([null] * 4)  # the same sample as one column per value
    assert empirical_p(observed, per_value).tolist() == pytest.approx(expected, nan_ok=True)
    assert np.isnan(empirical_p(np.array([0.5]), np.array([np.nan]))).all()  # no draw
    sizes = np.array([5, 7, 5])
    by_size = per_size(empirical_p, np.array([0.5, 0.5, 0.95]), sizes, {5: null})
    assert by_size[0] == pytest.approx(4 / 5) and np.isnan(by_size[1])  # no size-7 sample


def test_tail_p_follows_the_fitted_gpd_above_the_threshold():
    rng = np.random.default_rng(0)
    draws = rng.normal(size=5000)
    fit = fit_tail(draws)
    assert fit is not None and fit.share == pytest.approx(0.1, abs=1e-3)
    assert fit.ks_p(draws) > 0.01  # a normal's exceedances are GPD-like
    p = tail_p(np.array([0.0, 3.0, 50.0, np.nan]), draws)
    assert p[0] == empirical_p(np.array([0.0]), draws)[0]  # below u: the empirical p
    expected = fit.share * genpareto.sf(3.0 - fit.threshold, fit.shape, 0.0, fit.scale)
    assert p[1] == pytest.approx(expected) and p[1] < 0.01
    assert 0 < p[2] < 1 / 5001 and np.isnan(p[3])
    assert fit_tail(np.full(50, 0.5)) is None  # no spread: no fit, the empirical p stays
