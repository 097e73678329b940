"""External-validation metrics: weighted AP and its CI, Brier, calibration bins, cohort shift."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from radiogenomics.evaluation.metrics import (
    bootstrap_ap_ci,
    bootstrap_auroc_ci,
    brier_score,
    calibration_error,
    calibration_table,
    distribution_shift,
    stratified_counts,
    validation_scores,
    weighted_average_precision,
)


@pytest.mark.parametrize("seed", range(5))
def test_weighted_ap_is_sklearns_with_sample_weights(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 50)
    y[:2] = [0, 1]
    scores = np.round(rng.random(50), 1)  # many ties
    weights = rng.integers(0, 3, (4, 50)).astype(float)
    weights[:, 1] += 1  # a positive in every resample
    ours = weighted_average_precision(y, scores, weights)
    for row, value in zip(weights, ours, strict=True):
        assert value == pytest.approx(average_precision_score(y, scores, sample_weight=row))
    assert weighted_average_precision(y, scores, np.ones(50))[0] == pytest.approx(
        average_precision_score(y, scores)
    )


def test_stratified_counts_keep_class_sizes_and_match_the_auroc_resamples():
    y = np.array([0] * 7 + [1] * 5)
    counts = stratified_counts(y, 300, np.random.default_rng(3))
    assert (counts[:, y == 0].sum(axis=1) == 7).all() and (counts[:, y == 1].sum(axis=1) == 5).all()
    again = stratified_counts(y, 300, np.random.default_rng(3))
    assert (counts == again).all()


def test_ap_ci_brackets_ap_and_narrows_with_more_patients():
    rng = np.random.default_rng(0)

    def width(n):
        y = rng.integers(0, 2, n)
        p = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
        lo, hi = bootstrap_ap_ci(y, p, n_boot=500)
        assert lo <= average_precision_score(y, p) <= hi
        return hi - lo

    assert width(400) < width(40)


def test_ap_ci_multiclass_is_macro_over_present_classes():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 90)
    P = rng.dirichlet([1, 1, 1], 90)
    P[np.arange(90), y] += 1.0
    P /= P.sum(axis=1, keepdims=True)
    lo, hi = bootstrap_ap_ci(y, P, n_boot=300)
    macro = np.mean([average_precision_score(y == k, P[:, k]) for k in range(3)])
    assert lo <= macro <= hi
    assert bootstrap_auroc_ci(y, P, n_boot=300)[0] > 0.6


def test_brier_score():
    y = np.array([0, 1, 1, 0])
    assert brier_score(y, y.astype(float)) == 0.0
    assert brier_score(y, np.full(4, 0.5)) == pytest.approx(0.25)
    assert brier_score(y, 1.0 - y) == pytest.approx(1.0)
    three = np.eye(3)[[0, 2, 1]]
    assert brier_score(np.array([0, 2, 1]), three) == 0.0
    assert brier_score(np.array([0, 2, 1]), np.full((3, 3), 1 / 3)) == pytest.approx(2 / 3)


def test_calibration_table_bins_and_error():
    target = np.array([0, 0, 1, 1, 1, 0])
    prob = np.array([0.05, 0.15, 0.15, 0.95, 1.0, 0.95])
    bins = calibration_table(target, prob, n_bins=10)
    assert len(bins) == 10 and sum(b["n"] for b in bins) == 6
    assert bins[0] == {
        "lower": 0.0,
        "upper": 0.1,
        "n": 1,
        "mean_predicted": 0.05,
        "observed_rate": 0.0,
    }
    assert bins[1]["n"] == 2 and bins[1]["observed_rate"] == 0.5
    assert bins[9]["n"] == 3 and bins[9]["mean_predicted"] == pytest.approx(2.9 / 3)  # 1.0 inside
    assert bins[5]["n"] == 0 and bins[5]["observed_rate"] is None
    expected = (1 * 0.05 + 2 * abs(0.5 - 0.15) + 3 * abs(2 / 3 - 2.9 / 3)) / 6
    assert calibration_error(bins) == pytest.approx(expected)
    assert calibration_error(calibration_table([], [], 5)) is None


def test_validation_scores_undefined_parts_are_none():
    none = validation_scores(np.array([], dtype=int), np.array([]), ["lo", "hi"], n_boot=50)
    assert none["n"] == 0 and none["auroc"] is None and none["brier"] is None
    one_class = validation_scores(np.ones(6, dtype=int), np.full(6, 0.7), ["lo", "hi"], n_boot=50)
    assert one_class["auroc"] is None and one_class["ap_ci"] is None
    assert one_class["brier"] == pytest.approx(0.09)
    assert one_class["class_counts"] == {"lo": 0, "hi": 6}


def test_validation_scores_multiclass_per_class():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 60)
    P = rng.dirichlet([1, 1, 1], 60)
    scores = validation_scores(y, P, ["a", "b", "c"], n_boot=100, n_bins=5)
    assert set(scores["per_class"]) == {"a", "b", "c"}
    assert scores["per_class"]["b"]["n_positive"] == int((y == 1).sum())
    assert len(scores["per_class"]["c"]["calibration"]) == 5
    assert scores["auroc_ci"][0] <= scores["auroc"] <= scores["auroc_ci"][1]


def test_distribution_shift_same_vs_linear_scale():
    rng = np.random.default_rng(0)
    mean, sd = rng.normal(7, 1.5, 500), rng.uniform(0.3, 1.0, 500)
    train = rng.normal(mean, sd, (200, 500))
    new = rng.normal(mean, sd, (80, 500))
    same = distribution_shift(new, train.mean(axis=0), train.std(axis=0))
    assert same["median_abs_standardized_mean"] < 0.3
    assert 0.9 < same["median_sd_ratio"] < 1.1
    linear = distribution_shift(2.0**new, train.mean(axis=0), train.std(axis=0))
    assert linear["median_abs_standardized_mean"] > 10 and linear["median_sd_ratio"] > 10
    log_of_linear = distribution_shift(new, (2.0**train).mean(axis=0), (2.0**train).std(axis=0))
    assert (
        log_of_linear["median_abs_standardized_mean"] > 1 and log_of_linear["median_sd_ratio"] < 0.1
    )
    assert distribution_shift(new[:1], mean, sd)["median_sd_ratio"] is None
