"""The shipped real-data example: `python train.py data=verhaak840 trait=subtype -m`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict
from sklearn.metrics import roc_auc_score

from radiogenomics.data.cohort import load_cohort, trait_cohort
from radiogenomics.data.io import resolve_path
from radiogenomics.data.traits import TraitSpec
from radiogenomics.pipelines.sweep_summary import summarize
from radiogenomics.tasks import run

from ..conftest import CONFIGS

CLASSES = ["Classical", "Mesenchymal", "Neural", "Proneural"]
COUNTS = {"Classical": 38, "Mesenchymal": 56, "Neural": 26, "Proneural": 53}
SMALL = [
    "model.hidden_dims=[32,16]",
    "trainer.max_epochs=6",
    "callbacks.early_stopping.patience=3",
    "callbacks.model_checkpoint.save=false",
    "logger=none",
]


def compose_cfg(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("train", overrides=["data=verhaak840", *overrides])


def test_config_composes_without_pretraining():
    cfg = compose_cfg("trait=subtype")
    assert cfg.model.transfer_layers == 0 and cfg.model.freeze_layers == 0
    assert resolve_path(cfg.data.expression_file).is_file()
    assert compose_cfg("trait=subtype", "model.transfer_layers=1").model.transfer_layers == 1


@pytest.mark.parametrize("trait", ["subtype", *(c.lower() for c in CLASSES)])
def test_every_subtype_trait_builds_its_cohort(trait, tmp_path):
    cfg = compose_cfg(f"trait={trait}")
    cohort = load_cohort(cfg.data, tmp_path)
    assert cohort.pretrain_patients == []  # everyone is labelled: nothing to pretrain on
    tc = trait_cohort(cohort, TraitSpec.from_config(cfg.trait), n_folds=cfg.n_folds)
    assert tc.X.shape == (173, 840)
    if trait == "subtype":
        assert tc.report["class_counts"] == COUNTS
    else:
        name = trait.capitalize()
        assert tc.report["class_counts"] == {"other": 173 - COUNTS[name], name: COUNTS[name]}


def _run_fold(tmp_path, fold: int, *extra: str) -> dict:
    cfg = compose_cfg("trait=subtype", "n_folds=2", f"fold={fold}", *SMALL, *extra)
    with open_dict(cfg):
        cfg.paths.cache_dir = str(tmp_path / "cache")
        cfg.paths.output_dir = str(tmp_path / "sweep" / f"fold={fold}")
    return run(cfg)


def test_one_fold_trains_and_writes_multiclass_outputs(tmp_path):
    metrics = _run_fold(tmp_path, 0, "trainer.max_epochs=3")
    job = tmp_path / "sweep" / "fold=0"
    assert metrics["classes"] == CLASSES and metrics["n_test"] == 87
    assert {f"test_auroc_{c}" for c in CLASSES} | {f"test_ap_{c}" for c in CLASSES} <= set(metrics)
    preds = pd.read_csv(job / "predictions.csv")
    assert list(preds.columns) == ["patient_id", "fold", "y_true"] + [f"prob_{c}" for c in CLASSES]
    assert np.allclose(preds.filter(like="prob_").sum(axis=1), 1.0, atol=1e-5)
    report = json.loads((job / "cohort.json").read_text())
    assert report["patients"]["pretrain_cohort"] == 0 and report["class_counts"] == COUNTS


def test_per_class_pooled_summary(tmp_path):
    """summary/per_class.csv from two hand-made multiclass jobs (no training needed)."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), [8, 10, 6, 9])
    probs = rng.dirichlet(np.ones(4), size=len(y))
    probs[np.arange(len(y)), y] += 1.0
    probs /= probs.sum(axis=1, keepdims=True)
    for fold in (0, 1):
        job = tmp_path / f"fold={fold}"
        job.mkdir()
        part = np.arange(len(y)) % 2 == fold
        frame = pd.DataFrame({"patient_id": [f"p{i}" for i in np.flatnonzero(part)], "fold": fold})
        frame["y_true"] = y[part]
        for k, c in enumerate(CLASSES):
            frame[f"prob_{c}"] = probs[part, k]
        frame.to_csv(job / "predictions.csv", index=False)
        metrics = {
            "trait": "subtype",
            "model": "nn",
            "config_hash": "h",
            "bootstrap": None,
            "fold": fold,
            "n_folds": 2,
            "test_auroc": 0.9,
            "test_ap": 0.9,
            "val_auroc": 0.9,
            "classes": CLASSES,
            **{f"test_auroc_{c}": 0.8 + 0.05 * fold for c in CLASSES},
        }
        (job / "metrics.json").write_text(json.dumps(metrics))
    summarize(tmp_path, n_boot=100)
    per_class = pd.read_csv(tmp_path / "summary" / "per_class.csv")
    assert per_class["class"].tolist() == CLASSES
    assert per_class["n_patients"].tolist() == [8, 10, 6, 9]
    assert np.allclose(per_class["mean_auroc"], 0.825)
    for k in range(len(CLASSES)):
        row = per_class.iloc[k]
        assert row["pooled_auroc"] == pytest.approx(roc_auc_score(y == k, probs[:, k]))
        assert row["pooled_auroc_ci_low"] <= row["pooled_auroc"] <= row["pooled_auroc_ci_high"]


@pytest.mark.slow
def test_two_fold_cv_reaches_the_positive_control_level(tmp_path):
    for fold in (0, 1):
        _run_fold(tmp_path, fold)
    row = summarize(tmp_path / "sweep", n_boot=200).iloc[0]
    assert row["n_patients"] == 173 and row["pooled_auroc"] > 0.9
    per_class = pd.read_csv(tmp_path / "sweep" / "summary" / "per_class.csv")
    assert per_class["n_patients"].tolist() == [COUNTS[c] for c in CLASSES]
