"""A continuous trait end to end: a planted numeric column, a regression head, its outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiogenomics.data.genesets import load_collection
from radiogenomics.data.synthetic import SyntheticConfig, ensure_synthetic

from ..conftest import ROOT, TINY

DRIVER = "HALLMARK_HYPOXIA"  # the planted program: the column is its mean expression + noise
COLUMN = "tumour_volume"


def write_planted(cache: Path, out: Path, noise: float = 0.3, text: str | None = None) -> Path:
    """A label table whose numeric column is the driver program's mean z-score + noise."""
    sizes = {"seed": 0, "n_genes": 1500, "n_pretrain": 60, "n_annotated": 90}
    files = ensure_synthetic(SyntheticConfig.from_config(sizes), cache)
    expression = pd.read_csv(files.expression, sep="\t", index_col=0)
    expression.index = expression.index.str[:12]  # TCGA barcodes join on 12 characters
    patients = pd.read_csv(files.vasari, index_col=0).index
    genes = [g for g in load_collection("hallmark")[DRIVER] if g in expression.columns]
    X = expression.loc[patients, genes]
    program = ((X - X.mean()) / X.std()).mean(axis=1)
    rng = np.random.default_rng(7)
    volume = 30 + 10 * (program / program.std() + noise * rng.standard_normal(len(program)))
    table = pd.DataFrame({COLUMN: volume.round(4).astype(object)}, index=patients)
    if text is not None:
        table.iloc[3, 0] = text
    path = out / "volumes.csv"
    table.to_csv(path)
    return path


def overrides(cache: Path, labels: Path) -> list[str]:
    sizes = SyntheticConfig.from_config(
        {"seed": 0, "n_genes": 1500, "n_pretrain": 60, "n_annotated": 90}
    )
    expression = ensure_synthetic(sizes, cache).expression
    return [
        "data=files",
        f"data.expression_file={expression}",
        f"data.label_files=[{labels}]",
        "trait=column",
        f"trait.column={COLUMN}",
        "trait.kind=continuous",
    ]


def train_py(args: list[str], cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache)}
    cmd = [sys.executable, "train.py", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


MASKING = [
    "+interpret=masking",
    "interpret.masking.collections=[hallmark]",
    "interpret.masking.n_random=100",
    "interpret.masking.single_genes=false",
]


@pytest.fixture(scope="module")
def sweep(cache_dir, tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """A 3-fold sweep of the planted continuous column with gene masking: (sweep, labels, run)."""
    tmp = tmp_path_factory.mktemp("continuous")
    labels = write_planted(cache_dir, tmp)
    sweep = tmp / "sweep"
    args = [
        "-m",
        "n_folds=3",
        *TINY,
        *overrides(cache_dir, labels),
        *MASKING,
        f"hydra.sweep.dir={sweep}",
    ]
    proc = train_py(args, cache_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return sweep, labels, proc


def test_continuous_sweep_writes_predictions_metrics_and_summary(sweep):
    sweep, _, proc = sweep
    jobs = sorted(p.parent for p in sweep.glob("*/metrics.json"))
    assert len(jobs) == 3
    for job in jobs:
        m = json.loads((job / "metrics.json").read_text())
        for key in ("test_r2", "test_spearman", "test_mae", "test_rmse", "val_r2"):
            assert np.isfinite(m[key]), key
        assert "test_auroc" not in m and "val_auroc" not in m and m["classes"] == []
        preds = pd.read_csv(job / "predictions.csv")
        assert list(preds.columns) == ["patient_id", "fold", "y_true", "y_pred"]
        assert preds["y_pred"].between(0, 60).all()  # original units, not standardised
        cohort = json.loads((job / "cohort.json").read_text())
        assert set(cohort["fold_targets"]) == {"fit", "val", "test"}
    summary = sweep / "summary"
    table = pd.read_csv(summary / "cv_summary.csv")
    assert len(table) == 1
    for name in ("r2", "spearman", "mae"):
        for key in (f"pooled_{name}", f"pooled_{name}_ci_low", f"pooled_{name}_ci_high"):
            assert np.isfinite(table[key].iloc[0]), key
        assert table[f"pooled_{name}_ci_low"].iloc[0] <= table[f"pooled_{name}_ci_high"].iloc[0]
    assert table["pooled_spearman"].iloc[0] > 0.3  # the planted program is learnable
    folds = pd.read_csv(summary / "folds.csv")
    assert len(folds) == 3 and folds["test_r2"].notna().all()
    pooled = pd.read_csv(summary / "predictions.csv")
    assert "y_pred" in pooled.columns and pooled["patient_id"].is_unique
    assert list(summary.glob("scatter_*.png"))
    report = (summary / "report.html").read_text()
    assert "pooled R² [95% CI]" in report and "could not be built" not in report
    assert "Cross-validation summary, continuous traits" in proc.stdout


def test_masking_ranks_the_planted_program_first(sweep):
    sweep, _, _ = sweep
    pooled = pd.read_csv(sweep / "summary" / "masking_hallmark.csv").set_index("set")
    driver = pooled.loc[DRIVER]
    # of 50 hallmark sets, the planted one ranks first (chance 1 in 50; a scorer that ignored the
    # truth or the sign would not), its masked prediction tracks the truth, and the permutation
    # test of the truth calls it
    assert driver["rank"] == 1, pooled.sort_values("rank").head()
    assert driver["spearman"] > 0.6 and driver["self_contained_q"] < 0.05
    job = next(sweep.glob("*/masking"))
    controls = pd.read_csv(job / "controls_scores.csv")
    assert driver["spearman"] > controls["spearman"].quantile(0.95)


def test_bundle_and_predict_report_regression_metrics(sweep, cache_dir, tmp_path):
    from radiogenomics.models.bundle import load_bundle

    sweep, labels, _ = sweep
    job = sorted(p.parent for p in sweep.glob("*/metrics.json"))[0]
    bundle = load_bundle(job / "model")
    manifest = json.loads((job / "model" / "model.json").read_text())
    assert manifest["kind"] == "continuous" and bundle.class_names == []
    assert 20 < manifest["target"]["mean"] < 40 and manifest["target"]["sd"] > 0
    sizes = SyntheticConfig.from_config(
        {"seed": 0, "n_genes": 1500, "n_pretrain": 60, "n_annotated": 90}
    )
    expression = pd.read_csv(ensure_synthetic(sizes, cache_dir).expression, sep="\t", index_col=0)
    expression.index = expression.index.str[:12]
    held_out = pd.read_csv(job / "predictions.csv")
    X, missing = bundle.align(expression.loc[held_out["patient_id"]])
    assert not missing
    np.testing.assert_allclose(bundle.predict_proba(X), held_out["y_pred"], rtol=1e-4)
    out = tmp_path / "predict"
    proc = train_py(
        [
            "task=predict",
            f"predict.sweep={sweep}",
            "predict.n_boot=100",
            *TINY,
            *overrides(cache_dir, labels),
            f"hydra.run.dir={out}",
        ],
        cache_dir,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    predictions = pd.read_csv(out / "predictions.csv")
    assert {"y_pred", "y_pred_fold0", "y_true"} <= set(predictions.columns)
    scored = json.loads((out / "external_metrics.json").read_text())["configurations"][0]["all"]
    assert scored["n"] == 90 and scored["r2"] > 0 and scored["spearman"] > 0.3
    assert scored["r2_ci"][0] <= scored["r2"] <= scored["r2_ci"][1]


def test_text_in_a_continuous_column_is_one_line_exit_2(cache_dir, tmp_path):
    labels = write_planted(cache_dir, tmp_path, text="large")
    proc = train_py(
        [*TINY, "n_folds=2", *overrides(cache_dir, labels), f"hydra.run.dir={tmp_path / 'run'}"],
        cache_dir,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    output = (proc.stdout + proc.stderr).splitlines()
    errors = [line for line in output if "'large'" in line]
    assert len(errors) == 1 and "non-numeric" in errors[0], output[-20:]
    assert "Traceback" not in proc.stderr
