"""The sweep's AnnData outputs: held-out attributions (.h5ad) and predictions as an obs table."""

from __future__ import annotations

import anndata
import numpy as np
import pandas as pd
import pytest

from radiogenomics.pipelines.sweep_summary import summarize
from radiogenomics.tasks import run

SALIENCY = [
    "+interpret=saliency",
    "interpret.saliency.gsea=false",
    "save_model=false",
    "model.transfer_layers=0",
    "model.freeze_layers=0",
]


def _sweep(make_cfg, sweep, *overrides: str, n_folds: int = 2):
    for fold in range(n_folds):
        run(make_cfg(*overrides, f"n_folds={n_folds}", f"fold={fold}", out=sweep / f"fold={fold}"))
    summarize(sweep, n_boot=50)
    return sweep / "summary"


def test_binary_attributions_h5ad_and_predictions_obs(make_cfg, tmp_path):
    summary = _sweep(make_cfg, tmp_path / "sweep", "trait=enhancement", *SALIENCY)
    pooled = pd.read_csv(summary / "predictions.csv")
    obs = pd.read_csv(summary / "predictions_obs.csv", index_col=0)
    assert list(obs.columns) == ["label", "y_true", "fold", "prob", "predicted"]
    assert sorted(obs.index) == sorted(pooled["patient_id"])
    assert set(obs["label"]) == {"low", "high"}
    adata = anndata.read_h5ad(summary / "attributions.h5ad")
    assert adata.n_obs == len(pooled) and adata.n_vars == 1500
    assert set(adata.obs_names) == set(obs.index)
    np.testing.assert_allclose(adata.obs["prob"], obs.loc[adata.obs_names, "prob"])
    assert adata.uns["radiogenomics"]["X"] == "attribution of class high"
    assert sorted(adata.var["rank"]) == list(range(1, 1501))
    top = adata.var["mean_abs_attribution"].idxmax()
    assert adata.var.loc[top, "rank"] == 1
    job = pd.read_parquet(tmp_path / "sweep" / "fold=0" / "saliency" / "attributions.parquet")
    patient = str(job.columns[2])  # a held-out patient of fold 0
    expected = job.set_index("gene")[patient].reindex(adata.var_names).to_numpy(np.float32)
    np.testing.assert_array_equal(adata[patient].X.ravel(), expected)


@pytest.mark.slow
def test_multiclass_x_is_the_true_class_attribution(make_cfg, tmp_path):
    summary = _sweep(make_cfg, tmp_path / "sweep", "trait=subtype", *SALIENCY)
    adata = anndata.read_h5ad(summary / "attributions.h5ad")
    classes = list(adata.uns["radiogenomics"]["classes"])
    assert sorted(adata.layers.keys()) == sorted(classes)
    for i in range(adata.n_obs):
        label = adata.obs["label"].iloc[i]
        np.testing.assert_array_equal(adata.X[i], adata.layers[label][i])
    assert {f"rank_{c}" for c in classes} <= set(adata.var.columns)
    assert {f"prob_{c}" for c in classes} <= set(adata.obs.columns)
