"""Comparator masking and native attribution: shortcuts equal naive masking, planted drivers, SHAP."""

from __future__ import annotations

import numpy as np
import pytest

from radiogenomics.data.splits import FoldSplit
from radiogenomics.evaluation.metrics import auroc_rows
from radiogenomics.interpret.comparators import (
    check_masker,
    comparator_masker,
    native_attribution,
    standardize,
)
from radiogenomics.interpret.masking import random_permutations
from radiogenomics.models.baselines import fit_comparator

GRIDS = {
    "logit_l2": {"C": [0.1]},
    "logit_l1": {"C": [1.0]},
    "svm": {"kernel": ["rbf"], "C": [1.0]},
    "svm_linear": {"kernel": ["linear"], "C": [1.0]},
    "rf": {"n_estimators": [30], "min_samples_leaf": [2]},
    "xgboost": {"n_estimators": [20], "max_depth": [2], "learning_rate": [0.3]},
}


def planted(n_classes=2, n_patients=80, n_genes=40, seed=0):
    """Raw expression (not centred) with a planted driver set of genes 0..5."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_patients, n_genes)) * 2.0 + 5.0
    score = X[:, :6].sum(axis=1)
    edges = np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1])
    y = np.searchsorted(edges, score)
    order = rng.permutation(n_patients)
    split = FoldSplit(fit=np.sort(order[:55]), val=np.zeros(0, int), test=np.sort(order[55:]))
    return X, y, split


def fit(name, X, y, split, n_classes=2, select_k=None):
    family = "svm" if name.startswith("svm") else name
    cfg = {
        "name": family,
        "inner_folds": 2,
        "search": {"method": "grid", "grid": GRIDS[name], "select_k": select_k},
    }
    return fit_comparator(cfg, X, y, split, n_classes).model


def naive(pipeline, X_raw, sets, n_classes):
    """Masked raw matrices (other genes at the scaler's mean) through predict_proba."""
    mean = pipeline.steps[0][1].mean_
    out = []
    for s in sets:
        masked = np.tile(mean, (len(X_raw), 1))
        masked[:, s] = X_raw[:, s]
        p = pipeline.predict_proba(masked)
        out.append(p[:, 1] if n_classes == 2 else p)
    return np.stack(out)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("name", list(GRIDS))
def test_masker_equals_naive_masking(name, n_classes):
    if name == "logit_l1" and n_classes == 3:
        pytest.skip("saga multinomial: slow to converge on the toy data, same code path as l2")
    X, y, split = planted(n_classes)
    pipeline = fit(name, X, y, split, n_classes, select_k=25 if name == "xgboost" else None)
    X_test = X[split.test]
    z = standardize(pipeline, X_test)
    masker = comparator_masker(pipeline)
    check_masker(masker, z)
    sets = [np.array([0, 1, 2]), np.array([3, 10, 20, 30]), np.arange(40)]
    np.testing.assert_allclose(
        masker.gene_sets(z, sets, 64), naive(pipeline, X_test, sets, n_classes), atol=1e-7
    )
    singles = [np.array([g]) for g in range(40)]
    np.testing.assert_allclose(
        masker.single_genes(z, 100), naive(pipeline, X_test, singles, n_classes), atol=1e-7
    )
    perms, sizes = random_permutations(40, 6, seed=1), [2, 5]
    controls = [np.sort(perms[r, :s]) for s in sizes for r in range(6)]
    np.testing.assert_allclose(
        masker.nested_controls(z, perms, sizes, 50),
        naive(pipeline, X_test, controls, n_classes),
        atol=1e-7,
    )


@pytest.mark.parametrize("name", ["logit_l2", "rf", "xgboost"])
def test_planted_set_ranks_top(name):
    X, y, split = planted(n_patients=160, n_genes=60, seed=3)
    split = FoldSplit(fit=split.fit, val=split.val, test=split.test)
    pipeline = fit(name, X, y, split)
    z = standardize(pipeline, X[split.test])
    rng = np.random.default_rng(0)
    sets = [np.arange(6)] + [
        np.sort(rng.choice(np.arange(6, 60), 6, replace=False)) for _ in range(20)
    ]
    auroc = auroc_rows(comparator_masker(pipeline).gene_sets(z, sets, 4096), y[split.test] == 1)
    assert auroc.argmax() == 0 and auroc[0] > 0.75, auroc


def test_tree_shap_sums_to_margin():
    from xgboost import DMatrix

    X, y, split = planted()
    pipeline = fit("xgboost", X, y, split, select_k=25)
    z = standardize(pipeline, X[split.test])
    attribution = native_attribution(
        pipeline, z, y[split.test], [f"g{i}" for i in range(40)], ["a", "b"]
    )
    clf, select = pipeline.steps[-1][1], pipeline.steps[1][1]
    margin = clf.get_booster().predict(
        DMatrix(select.transform(z).astype(np.float32)), output_margin=True
    )
    total = attribution.per_patient[0].sum(axis=1) + attribution.bias[0]
    np.testing.assert_allclose(total, margin, rtol=1e-5, atol=1e-5)
    unselected = np.setdiff1d(np.arange(40), np.flatnonzero(select.get_support()))
    assert (attribution.per_patient[0][:, unselected] == 0).all()


@pytest.mark.parametrize("n_classes", [2, 3])
def test_linear_attribution_is_coef_times_standardised_value(n_classes):
    X, y, split = planted(n_classes)
    pipeline = fit("logit_l2", X, y, split, n_classes)
    z = standardize(pipeline, X[split.test])
    names = ["a", "b", "c"][:n_classes]
    attribution = native_attribution(
        pipeline, z, y[split.test], [f"g{i}" for i in range(40)], names
    )
    coef = pipeline.steps[-1][1].coef_
    np.testing.assert_allclose(attribution.per_patient, coef[:, None, :] * z[None], rtol=1e-12)
    decision = pipeline.decision_function(X[split.test])
    intercept = pipeline.steps[-1][1].intercept_
    expected = decision if n_classes == 2 else decision.T
    np.testing.assert_allclose(
        attribution.per_patient.sum(axis=2) + intercept[:, None], np.atleast_2d(expected), atol=1e-9
    )


def test_forest_permutation_importance_finds_the_driver():
    X, y, split = planted(n_patients=160, n_genes=30, seed=2)
    pipeline = fit("rf", X, y, split)
    z = standardize(pipeline, X[split.test])
    attribution = native_attribution(
        pipeline, z, y[split.test], [f"g{i}" for i in range(30)], ["a", "b"], n_repeats=3
    )
    top = attribution.genes.sort_values("importance", ascending=False)["gene"].head(6)
    assert len(set(top) & {f"g{i}" for i in range(6)}) >= 4, attribution.genes.head(10)
    assert attribution.genes["impurity"].sum() == pytest.approx(1.0)


@pytest.fixture(scope="module")
def tiny_fold(cache_dir):
    """Fold 0 of 2 of the debug cohort's enhancement trait, and its planted driver set."""
    import json
    from pathlib import Path

    from hydra import compose, initialize_config_dir

    from radiogenomics.data.cohort import load_cohort, trait_cohort
    from radiogenomics.data.splits import make_fold_split
    from radiogenomics.data.traits import TraitSpec

    from ..conftest import CONFIGS, TINY

    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=[*TINY, "trait=enhancement", "n_folds=2"])
    cohort = load_cohort(cfg.data, cache_dir)
    tc = trait_cohort(cohort, TraitSpec.from_config(cfg.trait), n_folds=2)
    split = make_fold_split(tc.y, 2, 0, cfg.split_seed, cfg.val_fraction, None)
    truth = json.loads((Path(cohort.expression_file).parent / "truth.json").read_text())
    return cfg, tc, split, truth["traits"]["enhancement"]["driver_set"]


@pytest.mark.parametrize("name", ["logit_l2", "rf", "xgboost"])
def test_planted_driver_ranks_top_on_the_debug_cohort(name, tiny_fold, tmp_path):
    """Masking a comparator on the debug cohort: the planted hallmark driver is the top set."""
    import pandas as pd
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from radiogenomics.interpret.comparator_tables import comparator_patients
    from radiogenomics.results import layout
    from radiogenomics.tasks.comparator_interpret import interpret_comparator

    from ..conftest import CONFIGS, TINY
    from ..helpers.interpreters import settings_of

    cfg, tc, split, driver = tiny_fold
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        model = compose("train", overrides=[*TINY, f"model={name}"]).model
    result = fit_comparator(OmegaConf.to_container(model, resolve=True), tc.X, tc.y, split, 2)
    patients = comparator_patients(
        result.model,
        tc.X,
        tc.y,
        {"test": split.test},
        tc.patient_ids,
        tc.genes,
        tc.spec.class_names,
    )
    settings = settings_of(
        "masking", collections=["hallmark"], min_size=1, n_random=20, single_genes=False
    )
    interpret_comparator(result.model, patients, {"masking": settings}, 0, tmp_path)
    scores = pd.read_csv(tmp_path / layout.MASKING_DIR / layout.masking_scores("hallmark"))
    top = scores.sort_values("auroc", ascending=False)["set"].tolist()
    assert top[0] == driver, scores.sort_values("auroc", ascending=False).head()
    patients_table = pd.read_csv(tmp_path / layout.MASKING_DIR / layout.PATIENTS)
    # the pipeline predicts float32 expression in float32; masking computes in float64
    np.testing.assert_allclose(patients_table["model_prob"], result.test_probs, atol=1e-6)
