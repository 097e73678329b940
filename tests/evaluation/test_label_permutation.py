"""Closed-form label-permutation tests of AUROCs: exact moments, calibration, power."""

from __future__ import annotations

import numpy as np
import pytest

from radiogenomics.evaluation.label_permutation import (
    auroc_coefficients,
    auroc_permutation_tests,
    permutation_z,
)
from radiogenomics.interpret.masking import score_masked


def _observed(coef: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.take_along_axis(coef, y[None, :, None], axis=2)[..., 0].sum(axis=1)


def _permuted(coef: np.ndarray, y: np.ndarray, strata: np.ndarray, n: int, rng) -> np.ndarray:
    draws = []
    for _ in range(n):
        yp = y.copy()
        for s in np.unique(strata):
            members = strata == s
            yp[members] = rng.permutation(y[members])
        draws.append(_observed(coef, yp))
    return np.array(draws)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_statistic_is_the_reported_auroc_and_moments_are_exact(n_classes):
    """T differs from score_masked's AUROC by a constant; z matches Monte-Carlo permutations."""
    rng = np.random.default_rng(0)
    n = 48
    y = rng.integers(0, n_classes, n)
    strata = np.repeat(np.arange(4), n // 4)
    if n_classes == 2:
        probs = rng.normal(size=(4, n))
        probs[1] += 0.8 * y
        probs[2] = np.round(probs[2])  # ties
    else:
        probs = rng.dirichlet(np.ones(n_classes), size=(4, n))
        probs[1, :, 0] += 0.4 * (y == 0)
    coef = auroc_coefficients(probs, y, n_classes)
    names = [f"c{k}" for k in range(n_classes)]
    offset = score_masked(probs, y, names)["auroc"].to_numpy() - _observed(coef, y)
    np.testing.assert_allclose(offset, offset[0], atol=1e-12)

    draws = _permuted(coef, y, strata, 20000, rng)
    mc_z = (_observed(coef, y) - draws.mean(axis=0)) / draws.std(axis=0)
    np.testing.assert_allclose(permutation_z(coef, y, strata), mc_z, atol=0.05)


def test_self_contained_p_is_uniform_under_the_null_and_finds_signal():
    """Random scores: p roughly uniform (5% below 0.05); a planted score: tiny p."""
    rng = np.random.default_rng(1)
    n, items = 120, 4000
    y = rng.permutation(np.r_[np.zeros(60, int), np.ones(60, int)])
    strata = np.arange(n) % 10
    probs = rng.normal(size=(items, n))
    self_p, comp_p = auroc_permutation_tests(probs, y, 2, strata=strata)
    assert np.isnan(comp_p).all()
    assert 0.035 < np.mean(self_p < 0.05) < 0.065
    assert 0.45 < np.median(self_p) < 0.55
    planted = rng.normal(size=(1, n)) + 1.5 * y
    assert auroc_permutation_tests(planted, y, 2, strata=strata)[0][0] < 1e-6


def test_competitive_p_judges_the_set_against_its_reference():
    """An item no better than its reference is not called competitively, however strong."""
    rng = np.random.default_rng(2)
    n = 100
    y = rng.permutation(np.r_[np.zeros(50, int), np.ones(50, int)])
    signal = rng.normal(size=n) + 1.5 * y
    controls = signal + 0.3 * rng.normal(size=(200, n))  # every control carries the signal
    reference = auroc_coefficients(controls, y, 2).mean(axis=0)
    items = np.stack([signal + 0.3 * rng.normal(size=n), 3 * y + rng.normal(size=n)])
    self_p, comp_p = auroc_permutation_tests(items, y, 2, np.stack([reference] * 2))
    assert self_p[0] < 1e-6 and comp_p[0] > 0.05  # strong, but like its random controls
    assert comp_p[1] < 0.05  # stronger than the controls (permutation variance: conservative)


def test_constant_scores_get_p_one():
    y = np.array([0, 1] * 10)
    self_p, _ = auroc_permutation_tests(np.ones((2, 20)), y, 2)
    np.testing.assert_array_equal(self_p, [1.0, 1.0])
