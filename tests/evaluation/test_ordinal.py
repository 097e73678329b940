"""Ordinal metrics on hand-made level probabilities, and the masking score that uses them."""

import numpy as np
import pytest
import yaml

from radiogenomics.data.traits import TraitSpec
from radiogenomics.evaluation.label_permutation import auroc_coefficients
from radiogenomics.evaluation.ordinal import (
    bootstrap_cut_auroc_ci,
    cumulative_scores,
    ordinal_score,
    predicted_level,
)
from radiogenomics.evaluation.trait_metrics import trait_score
from radiogenomics.interpret.masking import score_masked

from ..conftest import CONFIGS

Y = np.array([0, 0, 1, 1, 1, 2, 2, 3, 3, 3])


def confident(levels: np.ndarray, k: int = 4) -> np.ndarray:
    """Level probabilities peaked (0.7) on ``levels``."""
    return np.eye(k)[levels] * 0.6 + 0.1


def enhancement() -> TraitSpec:
    cfg = yaml.safe_load((CONFIGS / "trait" / "enhancement.yaml").read_text())
    cfg.update(kind="ordinal", permute_seed=0)
    return TraitSpec.from_config(cfg)


def test_perfect_ranking_scores_one():
    s = ordinal_score(Y, confident(Y), binary_cut=2)
    for k in (1, 2, 3):
        assert s[f"auroc_cut_{k}"] == 1.0 and s[f"ap_cut_{k}"] == 1.0
    assert s["auroc"] == s["auroc_binary"] == s["qwk"] == s["spearman"] == 1.0
    assert s["mae"] == 0.0


def test_reversed_ranking_scores_low():
    s = ordinal_score(Y, confident(3 - Y), binary_cut=2)
    assert s["auroc"] < 0.3 and s["auroc_binary"] == 0.0
    assert s["spearman"] == -1.0 and s["qwk"] < 0 and s["mae"] > 1.5


def test_binary_cut_is_its_cut_and_absent_without_one():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=len(Y))
    s = ordinal_score(Y, probs, binary_cut=2)
    assert s["auroc_binary"] == s["auroc_cut_2"]
    assert s["auroc"] == pytest.approx(np.mean([s[f"auroc_cut_{k}"] for k in (1, 2, 3)]))
    assert "auroc_binary" not in ordinal_score(Y, probs)


def test_cumulative_scores_and_median_level():
    p = np.array([[0.3, 0.25, 0.15, 0.3], [0.0, 0.0, 0.1, 0.9]])
    np.testing.assert_allclose(cumulative_scores(p), [[0.7, 0.45, 0.3], [1.0, 1.0, 0.9]])
    # the median, not the argmax (level 0 here): half the mass lies at level 1 or below
    assert predicted_level(p).tolist() == [1, 3]


def test_trait_score_dispatches_on_the_kind():
    spec = enhancement()
    assert spec.binary_cut == 2 and spec.class_names[0] == "Minimal"
    s = trait_score(Y, confident(Y), spec)
    assert {"auroc", "ap", "auroc_binary", "qwk", "spearman", "mae", "auroc_cut_3"} <= set(s)


def test_a_cut_with_one_side_is_skipped():
    y = np.array([1, 1, 2, 2, 3, 3])  # no level 0: cut 1 undefined
    s = ordinal_score(y, confident(y), binary_cut=2)
    assert np.isnan(s["auroc_cut_1"]) and s["auroc"] == 1.0


def test_bootstrap_cis_bracket_the_estimate():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 120)
    probs = 0.6 * confident(y) + 0.4 * rng.dirichlet(np.ones(4), size=120)
    s = ordinal_score(y, probs, 2)
    lo, hi = bootstrap_cut_auroc_ci(y, probs, n_boot=300)
    assert lo <= s["auroc"] <= hi and hi - lo < 0.2
    lo, hi = bootstrap_cut_auroc_ci(y, probs, [2], n_boot=300)
    assert lo <= s["auroc_binary"] <= hi


def test_masking_score_is_the_ordinal_metric_with_linear_permutation_coefficients():
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.ones(4), size=(6, len(Y)))  # (sets, patients, levels)
    scores = score_masked(probs, Y, ["a", "b", "c", "d"], ordinal=True)
    for i in range(len(probs)):
        s = ordinal_score(Y, probs[i])
        assert scores["auroc"].iloc[i] == pytest.approx(s["auroc"])
        assert scores["auroc_cut_2"].iloc[i] == pytest.approx(s["auroc_cut_2"])
        assert scores["ap"].iloc[i] == pytest.approx(s["ap"])
    offsets = []  # AUROC - sum_i A[i, y_i] depends on the level counts only
    for _ in range(3):
        y = rng.permutation(Y)
        coef = auroc_coefficients(probs, y, 4, ordinal=True)
        linear = np.take_along_axis(coef, y[None, :, None], axis=2)[..., 0].sum(axis=1)
        offsets.append(score_masked(probs, y, list("abcd"), ordinal=True)["auroc"] - linear)
    assert np.ptp(np.array(offsets), axis=0).max() < 1e-12
