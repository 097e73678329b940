"""Masking and native attribution of ordinal (Frank & Hall, ordinal logit) and continuous
(regressor) comparators: shortcuts equal naive masking, planted sets first, closed-form tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiogenomics.data.splits import FoldSplit
from radiogenomics.evaluation.regression import spearman_rows
from radiogenomics.interpret.comparator_tables import comparator_patients
from radiogenomics.interpret.comparators import (
    check_masker,
    comparator_masker,
    native_attribution,
    split_pipeline,
    standardize,
)
from radiogenomics.interpret.masking import random_permutations
from radiogenomics.interpret.masking_continuous import permutation_tests
from radiogenomics.models.baselines import fit_comparator
from radiogenomics.results import layout
from radiogenomics.tasks.comparator_interpret import interpret_comparator

from ..helpers.interpreters import settings_of

GRIDS = {
    "logit_l2": {"C": [0.1]},
    "ordinal_logit": {"C": [0.1]},
    "svm": {"kernel": ["rbf"], "C": [1.0]},
    "rf": {"n_estimators": [30], "min_samples_leaf": [2]},
    "xgboost": {"n_estimators": [20], "max_depth": [2], "learning_rate": [0.3]},
}
REGRESSION_GRIDS = {
    "logit_l2": {"alpha": [10.0]},
    "logit_l1": {"alpha": [0.05]},
    "svm": [{"kernel": ["rbf"], "C": [3.0]}],
    "rf": {"n_estimators": [30], "min_samples_leaf": [2]},
    "xgboost": {"n_estimators": [30], "max_depth": [2], "learning_rate": [0.3]},
}
LEVELS = ["none", "some", "half", "most"]


def planted(kind: str, n_patients=120, n_genes=40, seed=0):
    """Raw expression (not centred) with a planted driver set of genes 0..5."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_patients, n_genes)) * 2.0 + 5.0
    score = X[:, :6].sum(axis=1) + rng.normal(scale=1.0, size=n_patients)
    if kind == "continuous":
        y = 100 + 7 * (score - score.mean()) / score.std()
    else:
        y = np.digitize(score, np.quantile(score, [0.25, 0.5, 0.75]))
    order = rng.permutation(n_patients)
    cut = int(0.7 * n_patients)
    split = FoldSplit(fit=np.sort(order[:cut]), val=np.zeros(0, int), test=np.sort(order[cut:]))
    return X, y, split


def fit(name: str, kind: str, X, y, split, select_k=None):
    grid = REGRESSION_GRIDS[name] if kind == "continuous" else GRIDS[name]
    search = {"method": "grid", "grid": grid, "regression_grid": grid, "select_k": select_k}
    cfg = {"name": name, "inner_folds": 2, "search": search}
    n_classes = 0 if kind == "continuous" else len(LEVELS)
    return fit_comparator(cfg, X, y, split, n_classes, kind=kind).model


def naive(model, X_raw, sets, kind):
    """Masked raw matrices (other genes at the scaler's mean) through the fitted model."""
    mean = split_pipeline(model)[0].mean_
    out = []
    for s in sets:
        masked = np.tile(mean, (len(X_raw), 1))
        masked[:, s] = X_raw[:, s]
        out.append(model.predict(masked) if kind == "continuous" else model.predict_proba(masked))
    return np.stack(out)


CASES = [
    *[("ordinal", name) for name in GRIDS],
    *[("continuous", name) for name in REGRESSION_GRIDS],
]


@pytest.mark.parametrize(("kind", "name"), CASES)
def test_masker_equals_naive_masking(kind, name):
    X, y, split = planted(kind)
    model = fit(name, kind, X, y, split, select_k=25 if name == "xgboost" else None)
    X_test = X[split.test]
    z = standardize(model, X_test)
    masker = comparator_masker(model)
    check_masker(masker, z)
    # target units (sd 7); xgboost sums float32 leaves, which the cuts' prior correction scales
    atol = 1e-6 if kind == "continuous" or name == "xgboost" else 1e-7
    sets = [np.array([0, 1, 2]), np.array([3, 10, 20, 30]), np.arange(40)]
    np.testing.assert_allclose(
        masker.gene_sets(z, sets, 64), naive(model, X_test, sets, kind), atol=atol
    )
    singles = [np.array([g]) for g in range(40)]
    np.testing.assert_allclose(
        masker.single_genes(z, 100), naive(model, X_test, singles, kind), atol=atol
    )
    perms, sizes = random_permutations(40, 4, seed=1), [2, 5]
    controls = [np.sort(perms[r, :s]) for s in sizes for r in range(4)]
    np.testing.assert_allclose(
        masker.nested_controls(z, perms, sizes, 50), naive(model, X_test, controls, kind), atol=atol
    )


def write_gmt(path, n_genes: int, seed: int = 0) -> list[str]:
    """A collection: PLANTED = genes 0..5, and 15 random six-gene sets of the other genes."""
    rng = np.random.default_rng(seed)
    lines = ["PLANTED\tna\t" + "\t".join(f"G{g}" for g in range(6))]
    for i in range(15):
        genes = rng.choice(np.arange(6, n_genes), 6, replace=False)
        lines.append(f"RANDOM{i}\tna\t" + "\t".join(f"G{g}" for g in genes))
    path.write_text("\n".join(lines) + "\n")
    return [f"G{g}" for g in range(n_genes)]


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("ordinal", "logit_l2"),
        ("ordinal", "ordinal_logit"),
        ("ordinal", "xgboost"),
        ("continuous", "logit_l2"),
        ("continuous", "rf"),
        ("continuous", "xgboost"),
    ],
)
def test_masking_ranks_the_planted_set_first(kind, name, tmp_path):
    X, y, split = planted(kind, n_patients=200, seed=3)
    model = fit(name, kind, X, y, split)
    genes = write_gmt(tmp_path / "planted.gmt", X.shape[1])
    patients = comparator_patients(
        model,
        X,
        y,
        {"test": split.test},
        [f"P{i}" for i in range(len(y))],
        genes,
        [] if kind == "continuous" else LEVELS,
        kind=kind,
    )
    settings = settings_of(
        "masking", collections=[str(tmp_path / "planted.gmt")], n_random=30, min_size=5
    )
    sections = {
        "masking": settings,
        "attribution": settings_of("attribution", permutation_repeats=2),
    }
    interpret_comparator(model, patients, sections, 0, tmp_path)
    folder = tmp_path / layout.MASKING_DIR
    scores = pd.read_csv(folder / layout.masking_scores("planted"))
    column = "spearman" if kind == "continuous" else "auroc"
    ranked = scores.sort_values(column, ascending=False)
    assert ranked["set"].iloc[0] == "PLANTED", ranked.head()
    assert ranked[column].iloc[0] > (0.6 if kind == "continuous" else 0.75)
    assert ranked["significant"].iloc[0] and ranked["self_contained_p"].iloc[0] < 1e-3
    assert not ranked["significant"].iloc[1:].any()
    if kind == "ordinal":  # one AUROC per cut, the score their mean
        cuts = ranked[[f"auroc_cut_{k}" for k in range(1, len(LEVELS))]].to_numpy()
        np.testing.assert_allclose(cuts.mean(axis=1), ranked["auroc"], atol=1e-12)
    singles = pd.read_csv(folder / layout.masking_scores(layout.SINGLE_GENES))
    top = singles.sort_values(column, ascending=False)["gene"].head(6)
    assert len(set(top) & {f"G{g}" for g in range(6)}) >= 4, singles.head(10)
    probs = pd.read_parquet(folder / layout.masking_probs("planted"))
    expected_classes = ["y_pred"] if kind == "continuous" else LEVELS
    assert probs["class"].unique().tolist() == expected_classes
    attribution = pd.read_csv(tmp_path / layout.ATTRIBUTION_DIR / layout.ATTRIBUTION_GENES)
    top = attribution.sort_values("importance", ascending=False)["gene"].head(6)
    assert len(set(top) & {f"G{g}" for g in range(6)}) >= 4, attribution.head(10)


def test_spearman_permutation_p_matches_monte_carlo():
    rng = np.random.default_rng(1)
    n = 40
    y = rng.normal(size=n)
    outputs = np.stack([y + rng.normal(scale=s, size=n) for s in (0.5, 2.0, 50.0)])
    strata = np.arange(n) % 2
    self_p, _ = permutation_tests(outputs, y, strata=strata)
    observed = spearman_rows(outputs, y)
    draws = []
    for _ in range(4000):
        yp = y.copy()
        for s in (0, 1):
            members = np.flatnonzero(strata == s)
            yp[members] = y[rng.permutation(members)]
        draws.append(spearman_rows(outputs, yp))
    monte_carlo = (np.stack(draws) >= observed).mean(axis=0)
    assert self_p[0] < 1e-4 and monte_carlo[0] == 0
    np.testing.assert_allclose(self_p[1:], monte_carlo[1:], atol=0.03)


def test_regressor_attribution_in_target_units():
    X, y, split = planted("continuous")
    genes = [f"g{i}" for i in range(40)]
    ridge = fit("logit_l2", "continuous", X, y, split)
    z = standardize(ridge, X[split.test])
    found = native_attribution(ridge, z, y[split.test], genes, [])
    summed, predicted = found.per_patient[0].sum(axis=1), ridge.predict(X[split.test])
    np.testing.assert_allclose(summed - summed.mean(), predicted - predicted.mean(), atol=1e-6)
    assert set(found.genes.sort_values("rank")["gene"].head(6)) == set(genes[:6])
    booster = fit("xgboost", "continuous", X, y, split)
    z = standardize(booster, X[split.test])
    found = native_attribution(booster, z, y[split.test], genes, [])
    total = found.per_patient[0].sum(axis=1) + found.bias[0]
    np.testing.assert_allclose(total, booster.predict(X[split.test]), rtol=1e-5, atol=1e-4)
    forest = fit("rf", "continuous", X, y, split)
    z = standardize(forest, X[split.test])
    found = native_attribution(forest, z, y[split.test], genes, [], n_repeats=3)
    top = set(found.genes.sort_values("importance", ascending=False)["gene"].head(6))
    assert len(top & set(genes[:6])) >= 4, found.genes.head(10)


@pytest.mark.parametrize("name", ["logit_l2", "ordinal_logit", "xgboost"])
def test_ordinal_attribution_finds_the_planted_genes(name):
    X, y, split = planted("ordinal", n_patients=200, seed=3)
    model = fit(name, "ordinal", X, y, split)
    z = standardize(model, X[split.test])
    genes = [f"g{i}" for i in range(40)]
    found = native_attribution(model, z, y[split.test], genes, LEVELS)
    top = set(found.genes.sort_values("importance", ascending=False)["gene"].head(6))
    assert len(top & set(genes[:6])) >= 5, found.genes.head(10)
    if name == "ordinal_logit":
        assert found.outputs == ["latent"]
    else:  # Frank & Hall: each cut's attribution, the importance their mean
        assert found.outputs == [f"ge_{level}" for level in LEVELS[1:]]
        assert found.per_patient.shape == (3, len(split.test), 40)
        per_cut = found.genes[[f"importance_ge_{level}" for level in LEVELS[1:]]]
        np.testing.assert_allclose(per_cut.mean(axis=1), found.genes["importance"])
