"""Comparators: sensible AUROC on planted signal, nested tuning, identical splits across families."""

import json

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from radiogenomics.data.splits import make_fold_split
from radiogenomics.evaluation.metrics import auroc
from radiogenomics.models.baselines import COMPARATORS, KernelSVC, fit_comparator


def planted(n: int = 160, p: int = 200, n_classes: int = 2, seed: int = 0):
    """Gaussian genes; the class is a noisy linear function of the first 5 genes."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)).astype(np.float32) * rng.uniform(0.5, 3, size=p).astype(np.float32)
    signal = X[:, :5] / X[:, :5].std(axis=0) @ np.ones(5) + rng.normal(scale=0.5, size=n)
    cuts = np.quantile(signal, np.linspace(0, 1, n_classes + 1)[1:-1])
    return X, np.digitize(signal, cuts)


# fewer trees keep the tests fast; every other setting is the shipped default
FEWER_TREES = {
    "rf": ["model.default_search.grid.n_estimators=[40]"],
    "xgboost": ["model.default_search.grid.n_estimators=[40]"],
}


def model_cfg(make_cfg, name: str) -> dict:
    cfg = make_cfg(f"model={name}", *FEWER_TREES.get(name, []))
    return OmegaConf.to_container(cfg.model, resolve=True)


@pytest.mark.parametrize("name", COMPARATORS)
def test_default_comparators_find_planted_linear_signal(make_cfg, name):
    X, y = planted()
    split = make_fold_split(y, 4, 0, 425, 0.15)
    result = fit_comparator(model_cfg(make_cfg, name), X, y, split, n_classes=2)
    assert result.test_probs.shape == (len(split.test),)
    assert 0 <= result.test_probs.min() and result.test_probs.max() <= 1
    assert auroc(y[split.test], result.test_probs) > (0.8 if name.startswith("logit") else 0.7)
    assert result.val_auroc > 0.6 and result.best_params


@pytest.mark.parametrize("name", COMPARATORS)
def test_multiclass_comparators(make_cfg, name):
    X, y = planted(n=150, p=60, n_classes=3)
    split = make_fold_split(y, 5, 1, 425, 0.15, bootstrap=2)  # repeated patients too
    result = fit_comparator(model_cfg(make_cfg, name), X, y, split, n_classes=3)
    assert result.test_probs.shape == (len(split.test), 3)
    np.testing.assert_allclose(result.test_probs.sum(axis=1), 1, atol=1e-6)
    assert auroc(y[split.test], result.test_probs) > 0.6


def test_tuning_sees_training_folds_only(monkeypatch):
    """Corrupting the held-out patients' genes cannot change the chosen hyperparameters."""
    X, y = planted()
    split = make_fold_split(y, 4, 2, 425, 0.15)
    cfg = {"name": "logit_l2", "inner_folds": 3, "search": {"grid": {"C": [1e-4, 1e-2, 1.0]}}}
    a = fit_comparator(cfg, X, y, split, 2)
    X2 = X.copy()
    X2[split.test] = np.random.default_rng(9).normal(size=X2[split.test].shape) * 50
    b = fit_comparator(cfg, X2, y, split, 2)
    assert a.best_params == b.best_params and a.val_auroc == b.val_auroc


def test_kernel_svc_matches_libsvm():
    from sklearn.svm import SVC

    X, y = planted(n=80, p=40)
    for kernel in ("linear", "rbf", "poly", "sigmoid"):
        ours = KernelSVC(kernel=kernel, C=0.7).fit(X[:60], y[:60]).decision_function(X[60:])
        ref = SVC(kernel=kernel, C=0.7).fit(X[:60], y[:60]).decision_function(X[60:])
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6)


def test_paper_grids_are_selected_by_the_experiment(make_cfg):
    cfg = make_cfg("model=svm", "experiment=paper_grids")
    grid = OmegaConf.to_container(cfg.model.search, resolve=True)["grid"]
    assert set(grid["kernel"]) == {"linear", "poly", "rbf", "sigmoid"} and len(grid["C"]) == 13
    assert OmegaConf.to_container(make_cfg("model=svm").model.search, resolve=True)["grid"] != grid


def same_patients_across_families(make_cfg, tmp_path, bootstrap: str, fold: int) -> None:
    """predictions.csv of every model family lists identical patients (with multiplicity)."""
    from radiogenomics.tasks.finetune import run_finetune

    ids, metrics = {}, {}
    for name in ("nn", *COMPARATORS):
        out = tmp_path / f"b{bootstrap}-f{fold}-{name}"
        overrides = [f"model={name}", f"bootstrap={bootstrap}", f"fold={fold}", "n_folds=3"]
        run_finetune(make_cfg(*overrides, *FEWER_TREES.get(name, []), out=out))
        ids[name] = list(pd.read_csv(out / "predictions.csv")["patient_id"])
        metrics[name] = json.loads((out / "metrics.json").read_text())
    for name in COMPARATORS:
        assert ids[name] == ids["nn"], (name, bootstrap, fold)
        m, ref = metrics[name], metrics["nn"]
        assert m["n_train"] == ref["n_train"] + ref["n_val"] and m["n_val"] == 0
        assert m["n_test"] == ref["n_test"] and m["bootstrap"] == ref["bootstrap"]
        assert m["best_epoch"] is None and m["best_params"]
    if bootstrap != "null":
        assert len(set(ids["nn"])) < len(ids["nn"])  # resampled with replacement


def test_every_family_scores_the_same_patients(make_cfg, tmp_path):
    """Fails if any family reshuffled or resampled on its own (one bootstrap replicate)."""
    same_patients_across_families(make_cfg, tmp_path, "1", 2)


@pytest.mark.slow
@pytest.mark.parametrize(("bootstrap", "fold"), [("null", 0), ("null", 1), ("0", 0), ("4", 2)])
def test_every_family_scores_the_same_patients_more_splits(make_cfg, tmp_path, bootstrap, fold):
    same_patients_across_families(make_cfg, tmp_path, bootstrap, fold)
