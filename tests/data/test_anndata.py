"""AnnData (.h5ad) input: the same cohort as TSV + CSV, as dense .h5ad and as sparse .h5ad."""

from __future__ import annotations

import json
import logging

import anndata
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from radiogenomics.data.anndata_io import cohort_to_anndata, write_h5ad
from radiogenomics.data.cohort import data_files, load_cohort, trait_cohort
from radiogenomics.data.io import read_expression_data
from radiogenomics.data.synthetic import SyntheticConfig, ensure_synthetic, export_h5ad
from radiogenomics.data.traits import TraitSpec
from radiogenomics.errors import DataError
from radiogenomics.tasks import run

TRAIT = "trait=necrosis"


@pytest.fixture(scope="module")
def inputs(cache_dir, tmp_path_factory) -> dict[str, list[str]]:
    """data=files overrides of the tiny synthetic cohort: text files, dense and sparse .h5ad."""
    from hydra import compose, initialize_config_dir

    from ..conftest import CONFIGS, TINY

    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=TINY)
    files = ensure_synthetic(SyntheticConfig.from_config(cfg.data.synthetic), cache_dir)
    folder = tmp_path_factory.mktemp("h5ad")
    text = [
        "data=files",
        f"data.expression_file={files.expression}",
        f"data.label_files=[{files.vasari},{files.subtypes}]",
    ]
    found = {"text": text}
    for kind in ("dense", "sparse"):
        path = export_h5ad(files, folder / f"{kind}.h5ad", sparse=kind == "sparse")
        found[kind] = ["data=files", f"data.expression_file={path}"]
    return found


def _cohort(make_cfg, overrides: list[str]):
    cfg = make_cfg(*overrides, TRAIT)
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    return cohort, trait_cohort(cohort, TraitSpec.from_config(cfg.trait), n_folds=3)


def test_h5ad_cohorts_equal_the_text_cohort(make_cfg, inputs):
    cohort, tc = _cohort(make_cfg, inputs["text"])
    for kind in ("dense", "sparse"):
        other, otc = _cohort(make_cfg, inputs[kind])
        assert other.report["expression"]["matrix"] == f"X ({kind})"
        np.testing.assert_array_equal(otc.X, tc.X)
        np.testing.assert_array_equal(otc.y, tc.y)
        assert otc.patient_ids == tc.patient_ids and otc.genes == tc.genes
        assert other.pretrain_patients == cohort.pretrain_patients
        assert otc.report["class_counts"] == tc.report["class_counts"]


@pytest.mark.slow
def test_h5ad_dense_and_sparse_give_the_text_cv_metrics(make_cfg, inputs, tmp_path):
    """One fold trained from each input (autoencoder pretraining included): equal numbers."""
    results = {}
    for kind, overrides in inputs.items():
        out = tmp_path / kind
        results[kind] = run(make_cfg(*overrides, TRAIT, "n_folds=3", "fold=1", out=out))
        results[kind]["predictions"] = pd.read_csv(out / "predictions.csv")
    for kind in ("dense", "sparse"):
        for key in ("test_auroc", "test_ap", "val_auroc", "best_epoch", "n_train", "n_test"):
            assert results[kind][key] == results["text"][key], (kind, key)
        pd.testing.assert_frame_equal(results[kind]["predictions"], results["text"]["predictions"])


def _adata(n_obs: int = 24, n_vars: int = 30, seed: int = 0) -> anndata.AnnData:
    rng = np.random.default_rng(seed)
    expression = pd.DataFrame(
        rng.normal(8, 1, size=(n_obs, n_vars)),
        index=[f"S{i}" for i in range(n_obs)],
        columns=[f"G{j}" for j in range(n_vars)],
    )
    labels = pd.DataFrame({"group": ["a", "b"] * (n_obs // 2)}, index=expression.index)
    adata = cohort_to_anndata(expression, labels)
    adata.obs["score"] = np.arange(n_obs, dtype=float)  # numeric obs: integral floats as '3'
    adata.var["symbol"] = [f"SYM{j}" for j in range(n_vars)]
    adata.layers["counts"] = sparse.csr_matrix(np.round(2.0**adata.X))
    return adata


def test_layer_var_column_and_obs_labels(tmp_path):
    path = write_h5ad(tmp_path / "x.h5ad", _adata())
    data = read_expression_data(path, layer="counts", var_names_column="symbol")
    assert list(data.expression.columns[:2]) == ["SYM0", "SYM1"]
    assert data.report["matrix"] == "layers['counts'] (sparse)"
    assert data.labels["group"].tolist()[:2] == ["a", "b"]
    assert data.labels["score"].tolist()[:3] == ["0", "1", "2"]
    assert "look linear-scale" in " ".join(data.report["quality"]["warnings"])
    logged = read_expression_data(path, layer="counts", transform="log2p1").report["quality"]
    assert logged["warnings"] == []


@pytest.mark.parametrize(
    "options, message",
    [
        ({"layer": "log1p"}, r"data.layer='log1p' is not a layer.*layers: \['counts'\]"),
        ({"var_names_column": "gene"}, r"var_names_column='gene' is not a var column.*'symbol'"),
        ({"orientation": "genes_x_patients"}, "leave data.orientation=auto"),
    ],
)
def test_bad_h5ad_options_name_the_fix(tmp_path, options, message):
    path = write_h5ad(tmp_path / "x.h5ad", _adata())
    with pytest.raises(DataError, match=message):
        read_expression_data(path, **options)


def test_duplicated_var_names_are_an_error(tmp_path):
    adata = _adata()
    adata.var_names = ["G0", *adata.var_names[1:-1], "G0"]
    path = write_h5ad(tmp_path / "x.h5ad", adata)
    with pytest.raises(DataError, match=r"var_names repeats 1 gene name\(s\), e.g. \['G0'\]"):
        read_expression_data(path)


def test_duplicated_obs_names_are_an_error(tmp_path):
    adata = _adata()
    adata.obs_names = ["S0", *adata.obs_names[1:-1], "S0"]
    path = write_h5ad(tmp_path / "x.h5ad", adata)
    with pytest.raises(DataError, match=r"obs_names repeat 1 sample id\(s\), e.g. \['S0'\]"):
        read_expression_data(path)


def test_not_an_h5ad_file(tmp_path):
    path = tmp_path / "x.h5ad"
    path.write_text("not hdf5")
    with pytest.raises(DataError, match="cannot read as AnnData"):
        read_expression_data(path)


def test_missing_obs_column_lists_the_obs_columns(make_cfg, tmp_path):
    path = write_h5ad(tmp_path / "x.h5ad", _adata())
    cfg = make_cfg(
        "data=files", f"data.expression_file={path}", "trait=column", "trait.column=response"
    )
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    with pytest.raises(DataError, match=r"'response', which is missing.*\['group', 'score'\].*obs"):
        trait_cohort(cohort, TraitSpec.from_config(cfg.trait))


def test_data_files_accepts_h5ad_without_label_files(make_cfg, tmp_path, caplog):
    path = write_h5ad(tmp_path / "x.h5ad", _adata())
    cfg = make_cfg("data=files", f"data.expression_file={path}")
    assert data_files(cfg.data, cfg.paths.cache_dir) == (path, [])
    with caplog.at_level(logging.INFO):
        cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    assert cohort.label_files == [path] and cohort.pretrain_patients == []
    json.dumps(cohort.report)  # cohort.json stays writable
