"""End to end through the real entry point: `python train.py -m` in a subprocess."""

import json
import os
import subprocess
import sys

import pandas as pd

from radiogenomics.tasks import run

from ..conftest import ROOT, TINY


def test_two_fold_sweep_through_train_py(cache_dir, tmp_path):
    sweep = tmp_path / "sweep"
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    cmd = [sys.executable, "train.py", "-m", "n_folds=2", *TINY, f"hydra.sweep.dir={sweep}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = sorted(p.parent for p in sweep.glob("*/metrics.json"))
    assert len(jobs) == 2
    folds = set()
    for job in jobs:
        m = json.loads((job / "metrics.json").read_text())
        for key in (
            "trait",
            "model",
            "fold",
            "n_folds",
            "split_seed",
            "bootstrap",
            "n_train",
            "n_val",
            "n_test",
            "test_auroc",
            "test_ap",
            "best_epoch",
            "elapsed_s",
            "config_hash",
            "environment",
        ):
            assert key in m, key
        assert m["environment"]["cpu_capability"] and m["environment"]["packages"]["torch"]
        preds = pd.read_csv(job / "predictions.csv")
        assert list(preds.columns) == ["patient_id", "fold", "y_true", "y_prob"]
        assert len(preds) == m["n_test"] and (preds["fold"] == m["fold"]).all()
        assert (job / "model" / "model.json").exists()
        folds.add(m["fold"])
    assert folds == {0, 1}
    hashes = {json.loads((j / "metrics.json").read_text())["config_hash"] for j in jobs}
    assert len(hashes) == 1  # both folds belong to one configuration
    summary = sweep / "summary"
    table = pd.read_csv(summary / "cv_summary.csv")
    assert len(table) == 1 and table["n_jobs"].iloc[0] == 2
    pooled = pd.read_csv(summary / "predictions.csv")
    n_test = sum(json.loads((j / "metrics.json").read_text())["n_test"] for j in jobs)
    assert pooled["patient_id"].is_unique and len(pooled) == n_test
    assert list(summary.glob("roc_*.png"))
    assert "torch==" in (summary / "environment.txt").read_text()
    assert "environment" not in pd.read_csv(summary / "folds.csv").columns
    assert "Cross-validation summary" in proc.stdout


def test_same_seed_same_metrics(make_cfg, tmp_path):
    a = run(make_cfg("n_folds=3", "fold=1", out=tmp_path / "a"))
    b = run(make_cfg("n_folds=3", "fold=1", out=tmp_path / "b"))
    for key in ("test_auroc", "test_ap", "best_epoch", "val_auroc", "n_train", "n_test"):
        assert a[key] == b[key], key
    pa = pd.read_csv(tmp_path / "a" / "predictions.csv")
    pb = pd.read_csv(tmp_path / "b" / "predictions.csv")
    pd.testing.assert_frame_equal(pa, pb)


def test_completed_job_is_not_rerun(make_cfg, tmp_path):
    cfg = make_cfg("n_folds=3", out=tmp_path / "job")
    run(cfg)
    metrics = tmp_path / "job" / "metrics.json"
    stamp = metrics.stat().st_mtime_ns
    again = run(cfg)
    assert metrics.stat().st_mtime_ns == stamp and again["fold"] == 0
