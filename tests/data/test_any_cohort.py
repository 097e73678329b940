"""A non-TCGA cohort as a new user brings it: genes x samples text, sample ids like ALL_1, a label
table, no expression-only patients; orientation, pretraining, scale and symbol checks."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig

from radiogenomics.data.cohort import load_cohort
from radiogenomics.data.genesets import load_gene_universe
from radiogenomics.data.io import read_expression_data
from radiogenomics.errors import DataError
from radiogenomics.tasks import run
from radiogenomics.tasks.pretrain import command_line_keys, resolve_pretraining

from ..conftest import CONFIGS

N_GENES = 60


def _leukemia(n_per_class: int = 15, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Samples x genes log2 expression (real symbols) and an ALL/AML label per sample."""
    rng = np.random.default_rng(seed)
    genes = load_gene_universe()[:N_GENES]
    ids = [f"ALL_{i}" for i in range(n_per_class)] + [f"AML_{i}" for i in range(n_per_class)]
    label = pd.Series(["ALL"] * n_per_class + ["AML"] * n_per_class, index=ids, name="class")
    values = rng.normal(7, 1, size=(len(ids), N_GENES))
    values[:, :5] += 2.0 * (label == "AML").to_numpy()[:, None]  # five marker genes
    return pd.DataFrame(values, index=ids, columns=genes), label


def _write(folder: Path, expression: pd.DataFrame, label: pd.Series) -> list[str]:
    """GSEA-style genes x samples text (NAME, DESCRIPTION, samples) and a label CSV."""
    table = expression.T
    table.insert(0, "DESCRIPTION", "na")
    table.rename_axis("NAME").to_csv(folder / "expr.txt", sep="\t")
    blasts = np.linspace(20, 95, len(label)).round(1)  # a numeric column, for a threshold
    table = pd.DataFrame({"class": label, "blasts": blasts}, index=label.index)
    table.rename_axis("sample").to_csv(folder / "labels.csv")
    return [
        "data=files",
        f"data.expression_file={folder / 'expr.txt'}",
        f"data.label_files=[{folder / 'labels.csv'}]",
    ]


@pytest.fixture
def cohort_files(tmp_path) -> list[str]:
    return _write(tmp_path, *_leukemia())


def test_non_tcga_genes_x_samples_runs_without_overrides(make_cfg, cohort_files, tmp_path, caplog):
    cfg = make_cfg(
        *cohort_files,
        "trait=column",
        "trait.column=class",
        "trait.min_class_size=3",
        "n_folds=3",
        out=tmp_path / "job",
    )
    with caplog.at_level(logging.INFO):
        metrics = run(cfg)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert (
        "genes_x_patients (from ids in the label table(s): 0% of row ids, 100% of column" in logged
    )
    assert "training without autoencoder pretraining" in logged
    assert metrics["classes"] == ["ALL", "AML"] and metrics["n_test"] == 10
    bundle = (tmp_path / "job" / "model" / "model.json").read_text()
    assert '"transfer_layers": 0' in bundle  # the bundle records what was trained


@pytest.mark.slow
def test_numeric_column_at_the_median_end_to_end(make_cfg, cohort_files, tmp_path):
    cfg = make_cfg(
        *cohort_files,
        "trait=column",
        "trait.column=blasts",
        "trait.threshold=median",
        "trait.min_class_size=3",
        "n_folds=3",
        out=tmp_path / "job",
    )
    metrics = run(cfg)
    assert metrics["classes"] == ["low", "high"] and metrics["trait"] == "blasts"
    cohort = (tmp_path / "job" / "cohort.json").read_text()
    assert '"value": 57.5' in cohort  # the median of 30 evenly spaced values from 20 to 95


def test_explicit_pretraining_without_unlabelled_patients_is_an_error(make_cfg, cohort_files):
    cfg = make_cfg(*cohort_files, "trait=column", "trait.column=class")
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    assert cohort.pretrain_patients == []
    with pytest.raises(DataError, match=r"model.transfer_layers=2 asks for a pretrained"):
        resolve_pretraining(cfg, cohort, {"model.transfer_layers"})
    unfrozen = make_cfg(
        *cohort_files, "trait=column", "trait.column=class", "model.freeze_layers=0"
    )
    resolved = resolve_pretraining(unfrozen, cohort, {"model.freeze_layers"})  # asks for nothing
    assert resolved.model.transfer_layers == 0 and unfrozen.model.transfer_layers == 2


def test_command_line_keys_come_from_hydra_overrides():
    assert command_line_keys() == set()  # outside a Hydra job
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(
            "train", overrides=["model.transfer_layers=1", "+x=1"], return_hydra_config=True
        )
    HydraConfig.instance().set_config(cfg)
    try:
        assert {"model.transfer_layers", "x"} <= command_line_keys()
    finally:
        HydraConfig.instance().cfg = None


def test_orientation_from_gene_symbols_without_labels(tmp_path):
    expression, _ = _leukemia()
    expression.T.rename_axis("gene").to_csv(tmp_path / "x.tsv", sep="\t")
    data = read_expression_data(tmp_path / "x.tsv")
    assert data.report["orientation"] == "genes_x_patients"
    assert (
        "gene symbols or ids: 100% of row ids, 0% of column names"
        in data.report["orientation_from"]
    )
    assert data.expression.index[0] == "ALL_0"


def test_undecidable_orientation_lists_the_evidence(tmp_path):
    frame = pd.DataFrame(np.ones((3, 3)), index=["a", "b", "c"], columns=["d", "e", "f"])
    frame.to_csv(tmp_path / "x.tsv", sep="\t")
    with pytest.raises(DataError, match=r"cannot tell.*gene symbols or ids: 0%.*data.orientation="):
        read_expression_data(tmp_path / "x.tsv")


def test_geo_series_matrix_lines_are_skipped(tmp_path):
    expression, _ = _leukemia()
    lines = [
        '!Series_title\t"a study"',
        '"ID_REF"\t' + "\t".join(f'"{s}"' for s in expression.index),
    ]
    lines += [f'"{g}"\t' + "\t".join(map(str, row)) for g, row in expression.T.iterrows()]
    lines.append("!series_matrix_table_end")
    (tmp_path / "GSE1_series_matrix.txt").write_text("\n".join(lines) + "\n")
    data = read_expression_data(tmp_path / "GSE1_series_matrix.txt")
    np.testing.assert_allclose(data.expression.to_numpy(), expression.to_numpy(), rtol=1e-6)


def _warnings_of(tmp_path, frame: pd.DataFrame, caplog, **options) -> str:
    frame.T.rename_axis("gene").to_csv(tmp_path / "x.tsv", sep="\t")
    with caplog.at_level(logging.WARNING, logger="radiogenomics.data.io"):
        read_expression_data(tmp_path / "x.tsv", **options)
    return " ".join(r.getMessage() for r in caplog.records)


def test_raw_intensities_with_negatives_warn_and_log2p1_fixes_them(tmp_path, caplog):
    expression, _ = _leukemia()
    raw = 2.0**expression
    raw.iloc[0, 0] = -40.0  # background-subtracted intensity
    logged = _warnings_of(tmp_path, raw, caplog)
    assert "look linear-scale" in logged and "1 negative value(s)" in logged
    assert "data.transform=log2p1" in logged
    caplog.clear()
    logged = _warnings_of(tmp_path, raw, caplog, transform="log2p1")
    assert "look linear-scale" not in logged and "1 negative value(s) (min -40;" in logged


def test_read_counts_are_named_and_log2p1_on_log_data_warns(tmp_path, caplog):
    expression, _ = _leukemia()
    logged = _warnings_of(tmp_path, np.round(2.0**expression), caplog)
    assert "whole numbers: RNA-seq counts?" in logged
    caplog.clear()
    logged = _warnings_of(tmp_path, expression, caplog, transform="log2p1")
    assert "already look log-scale" in logged


def test_a_few_huge_cells_warn(tmp_path, caplog):
    expression, _ = _leukemia()
    expression.iloc[2, 3] = 5000.0
    logged = _warnings_of(tmp_path, expression, caplog)
    assert "1 cell(s) are > 100 (max 5000 at patient 'ALL_2'" in logged


def test_mangled_symbols_in_a_genes_x_samples_file_warn(tmp_path, caplog):
    expression, _ = _leukemia()
    expression.columns = ["1-Mar", "9-Sep", *expression.columns[2:]]
    logged = _warnings_of(tmp_path, expression, caplog)
    assert "2 gene symbol(s) look turned into dates" in logged and "'1-Mar', '9-Sep'" in logged


RECIPE = [
    "++model.without_pretraining.ensemble=4",
    "++model.without_pretraining.member_split=kfold",
    "++model.without_pretraining.hidden_dims=[8,4]",
]


def test_labelled_cohort_recipe_replaces_what_the_user_did_not_set(make_cfg, cohort_files):
    cfg = make_cfg(*cohort_files, "trait=column", "trait.column=class", *RECIPE)
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    resolved = resolve_pretraining(cfg, cohort, set())
    assert resolved.model.ensemble == 4 and resolved.model.member_split == "kfold"
    assert list(resolved.model.hidden_dims) == [8, 4] and resolved.model.transfer_layers == 0
    assert cfg.model.ensemble == 1  # the caller's config is left alone
    kept = resolve_pretraining(cfg, cohort, {"model.dropout", "data.expression_file"})
    assert kept.model.ensemble == 1 and kept.model.hidden_dims == cfg.model.hidden_dims
    assert kept.model.member_split == "shared"  # a network option set by hand: no recipe
    assert kept.model.transfer_layers == 0


def test_labelled_cohort_recipe_that_does_not_fit_is_skipped(make_cfg, cohort_files, caplog):
    cfg = make_cfg(
        *cohort_files,
        "trait=column",
        "trait.column=class",
        *RECIPE,
        "model.input.kind=pca",
        "model.transfer_layers=0",
        "model.freeze_layers=0",
    )
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    with caplog.at_level(logging.WARNING):
        resolved = resolve_pretraining(cfg, cohort, set())  # from a YAML file, not the command line
    assert resolved.model.ensemble == 1 and resolved.model.input.kind == "pca"
    assert "model.without_pretraining does not fit this network" in caplog.text
    assert "model.input.kind=pca" in caplog.text


def test_labelled_cohort_recipe_leaves_a_cohort_with_unlabelled_patients(make_cfg):
    cfg = make_cfg("trait=multifocal", *RECIPE)
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    assert len(cohort.pretrain_patients) > 2
    resolved = resolve_pretraining(cfg, cohort, set())
    assert resolved.model.ensemble == 1 and resolved.model.transfer_layers == 2


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("++model.without_pretraining.ensembel=4", "did you mean 'ensemble'"),
    ],
)
def test_labelled_cohort_recipe_is_validated(make_cfg, override, message):
    from radiogenomics.errors import ConfigError
    from radiogenomics.tasks.validation import validate_config

    with pytest.raises(ConfigError, match=message):
        validate_config(make_cfg("trait=multifocal", override))
