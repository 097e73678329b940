"""trait.kind=ordinal end to end: jobs, summary, bundle round trip, ensembles, masking."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from radiogenomics.models.bundle import load_bundle
from radiogenomics.models.ordinal import OrdinalHead
from radiogenomics.pipelines.sweep_summary import summarize
from radiogenomics.results import layout
from radiogenomics.tasks import run

from ..conftest import CONFIGS, ROOT, TINY

ORDINAL = ["trait=enhancement", "trait.kind=ordinal"]
LEVELS = ["Minimal", "Less than 1/3", "Between 1/3 and 2/3", "More than 2/3"]


def compose_cfg(cache_dir: Path, out: Path, *overrides: str):
    """The tiny training config plus ``overrides``, writing to ``out``."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=[*TINY, *overrides])
    with open_dict(cfg):
        cfg.paths.cache_dir = str(cache_dir)
        cfg.paths.output_dir = str(out)
    return cfg


@pytest.fixture(scope="module")
def sweep(cache_dir, tmp_path_factory) -> Path:
    """``train.py -m``: two folds of the ordinal enhancement network, summarised."""
    sweep = tmp_path_factory.mktemp("ordinal") / "sweep"
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        *TINY,
        "n_folds=2",
        *ORDINAL,
        f"hydra.sweep.dir={sweep}",
    ]
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Ordinal traits (pooled out-of-fold" in proc.stdout
    return sweep


def job(sweep: Path, fold: int) -> Path:
    """The sweep's job dir of ``fold``."""
    for path in sweep.glob(f"*/{layout.METRICS}"):
        if json.loads(path.read_text())["fold"] == fold:
            return path.parent
    raise AssertionError(f"no job of fold {fold} in {sweep}")


def test_jobs_write_level_probabilities_and_ordinal_metrics(sweep):
    metrics = json.loads((job(sweep, 0) / layout.METRICS).read_text())
    assert metrics["trait_kind"] == "ordinal" and metrics["binary_cut"] == 2
    assert metrics["classes"] == LEVELS
    for key in (
        "test_auroc",
        "test_auroc_binary",
        "test_ap",
        "test_spearman",
        "test_qwk",
        "test_mae",
        "test_auroc_cut_1",
        "test_auroc_cut_3",
        "val_auroc",
    ):
        assert key in metrics, key
    assert 0 <= metrics["test_auroc_binary"] <= 1 and metrics["test_mae"] >= 0
    preds = pd.read_csv(job(sweep, 0) / layout.PREDICTIONS)
    assert list(preds.columns) == ["patient_id", "fold", "y_true", *[f"prob_{x}" for x in LEVELS]]
    assert (preds.filter(like="prob_").sum(axis=1) - 1).abs().max() < 1e-5


def test_summary_reports_the_pooled_ordinal_metrics(sweep):
    table = pd.read_csv(layout.summary_dir(sweep) / layout.CV_SUMMARY)
    row = table.iloc[0]
    for key in (
        "pooled_auroc_binary",
        "pooled_auroc_binary_ci_low",
        "pooled_qwk",
        "pooled_spearman",
        "pooled_mae",
        "pooled_auroc_cut_2",
    ):
        assert key in table, key
    assert row["pooled_auroc_ci_low"] <= row["pooled_auroc"] <= row["pooled_auroc_ci_high"]
    lo, hi = row["pooled_auroc_binary_ci_low"], row["pooled_auroc_binary_ci_high"]
    assert lo <= row["pooled_auroc_binary"] <= hi
    assert not (layout.summary_dir(sweep) / layout.PER_CLASS).exists()


def test_bundle_round_trip_and_predict(sweep, cache_dir, tmp_path):
    bundle = load_bundle(job(sweep, 0) / layout.MODEL_DIR)
    assert isinstance(bundle.model.head, OrdinalHead) and bundle.spec.is_ordinal
    out = tmp_path / "predict"
    run(
        compose_cfg(
            cache_dir, out, "task=predict", f"predict.sweep={sweep}", "predict.n_boot=50", *ORDINAL
        )
    )
    preds = pd.read_csv(out / layout.PREDICTIONS)
    assert {f"prob_{x}" for x in LEVELS} <= set(preds.columns)
    scored = json.loads((out / layout.EXTERNAL_METRICS).read_text())["configurations"][0]
    assert {"auroc", "auroc_binary", "qwk", "mae"} <= set(scored["all"]["ordinal"])


def test_task_interpret_masks_the_saved_ordinal_models(sweep, cache_dir, tmp_path):
    out = tmp_path / "interpret"
    run(
        compose_cfg(
            cache_dir,
            out,
            "task=interpret",
            f"interpret.sweep={sweep}",
            "+interpret=masking",
            "interpret.masking.collections=[verhaak]",
            "interpret.masking.n_random=10",
            "interpret.masking.single_genes=false",
            *ORDINAL,
        )
    )
    pooled = pd.read_csv(layout.summary_dir(out) / layout.masking_table("verhaak"))
    assert {"auroc", "auroc_cut_1", "auroc_cut_3", "q"} <= set(pooled.columns)
    assert pooled["auroc"].between(0, 1).all()
    assert list(layout.summary_dir(out).glob("masking_verhaak_*.png"))  # the one-panel heatmap


def test_ordinal_folds_are_the_binary_traits(sweep, cache_dir, tmp_path):
    run(compose_cfg(cache_dir, tmp_path / "binary", "n_folds=2", "fold=0", "trait=enhancement"))
    binary = pd.read_csv(tmp_path / "binary" / layout.PREDICTIONS)
    ordinal = pd.read_csv(job(sweep, 0) / layout.PREDICTIONS)
    assert sorted(binary["patient_id"]) == sorted(ordinal["patient_id"])
    assert ((ordinal["y_true"] >= 2).astype(int) == binary["y_true"]).all()


def test_kfold_ensemble_of_ordinal_members(cache_dir, tmp_path):
    out = tmp_path / "ensemble"
    run(
        compose_cfg(
            cache_dir, out, "n_folds=3", *ORDINAL, "model.ensemble=3", "model.member_split=kfold"
        )
    )
    metrics = json.loads((out / layout.METRICS).read_text())
    assert 0 <= metrics["test_auroc"] <= 1
    module = load_bundle(out / layout.MODEL_DIR).model
    assert module.ensemble == 3 and module.head.members == 3


def test_mixup_is_refused_in_one_line(cache_dir, tmp_path, caplog):
    cfg = compose_cfg(cache_dir, tmp_path / "job", *ORDINAL, "model.mixup=0.2")
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as info:
        run(cfg)
    assert info.value.code == 2
    assert "model.mixup=0.2" in caplog.text and "trait.kind=ordinal" in caplog.text


@pytest.mark.slow
def test_masking_finds_the_planted_driver(cache_dir, tmp_path):
    """Three folds on the tiny cohort: hypoxia (enhancement's planted driver) in the top 3 of
    the 50 hallmark sets by pooled mean cumulative AUROC (a random order: p = 0.06)."""
    sweep = tmp_path / "sweep"
    masking = [
        "+interpret=masking",
        "interpret.masking.collections=[hallmark]",
        "interpret.masking.n_random=50",
        "interpret.masking.single_genes=false",
    ]
    for fold in range(3):
        run(
            compose_cfg(
                cache_dir, sweep / f"fold={fold}", "n_folds=3", f"fold={fold}", *ORDINAL, *masking
            )
        )
    summarize(sweep, n_boot=50)
    pooled = pd.read_csv(layout.summary_dir(sweep) / layout.masking_table("hallmark"))
    pooled = pooled.set_index("set")
    assert "auroc_cut_2" in pooled
    assert pooled.loc["HALLMARK_HYPOXIA", "rank"] <= 3, pooled.head()
