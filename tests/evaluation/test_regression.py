"""Continuous-trait metrics on hand-made cases: R², Spearman, MAE, RMSE, CIs, row-wise scores."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import r2_score

from radiogenomics.data.traits import TraitSpec
from radiogenomics.evaluation.regression import (
    bootstrap_regression_ci,
    regression_score,
    spearman_rows,
)
from radiogenomics.evaluation.trait_metrics import trait_score

CONTINUOUS = TraitSpec(name="volume", column="volume", classes=(), kind="continuous")


def test_hand_made_values():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    perfect = regression_score(y, y)
    assert perfect == {"r2": 1.0, "spearman": 1.0, "mae": 0.0, "rmse": 0.0}
    mean = regression_score(y, np.full(4, 2.5))  # predicting the mean: R² 0, Spearman undefined
    assert mean["r2"] == 0.0 and np.isnan(mean["spearman"]) and mean["mae"] == 1.0
    off = regression_score(y, y + 2.0)  # right order, wrong level: R² punishes, Spearman not
    assert off["spearman"] == 1.0 and off["mae"] == 2.0 and off["rmse"] == 2.0
    assert off["r2"] == pytest.approx(1 - 16 / 5)
    reversed_ = regression_score(y, y[::-1])
    assert reversed_["spearman"] == -1.0 and reversed_["r2"] == pytest.approx(-3.0)


def test_agrees_with_scipy_and_sklearn_with_ties():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 5, 50).astype(float)
    pred = y + rng.normal(size=50)
    got = regression_score(y, pred)
    assert got["r2"] == pytest.approx(r2_score(y, pred))
    assert got["spearman"] == pytest.approx(spearmanr(y, pred)[0])
    rows = np.vstack([pred, -pred, rng.normal(size=50)])
    want = [spearmanr(y, r)[0] for r in rows]
    np.testing.assert_allclose(spearman_rows(rows, y), want)


def test_trait_score_dispatches_a_continuous_trait():
    y = np.array([0.5, 1.5, 2.0, 4.0])
    assert set(trait_score(y, y * 2, CONTINUOUS)) == {"r2", "spearman", "mae", "rmse"}


def test_bootstrap_ci_brackets_the_estimate_and_narrows_with_n():
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    pred = y + 0.7 * rng.normal(size=400)
    point = regression_score(y, pred)
    wide = bootstrap_regression_ci(y[:40], pred[:40], n_boot=500)
    ci = bootstrap_regression_ci(y, pred, n_boot=500)
    for name in ("r2", "spearman", "mae"):
        lo, hi = ci[name]
        assert lo < point[name] < hi
        assert hi - lo < wide[name][1] - wide[name][0]
    assert ci == bootstrap_regression_ci(y, pred, n_boot=500)  # seeded
