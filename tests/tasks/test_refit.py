"""task=refit: one model per configuration of a tiny sweep, trained on every labelled patient."""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict
from sklearn.metrics import roc_auc_score

from radiogenomics.data.cohort import load_cohort, trait_cohort
from radiogenomics.data.traits import TraitSpec
from radiogenomics.models.bundle import load_bundle
from radiogenomics.results import layout
from radiogenomics.results.sweep import job_config, load_jobs, model_dirs
from radiogenomics.tasks import run

from ..conftest import CONFIGS, ROOT, TINY


def refit_cfg(cache_dir: Path, sweep: Path | None, out: Path):
    """The composed ``task=refit`` config of ``sweep`` (None: refit.sweep unset)."""
    overrides = [*TINY, "task=refit"] + ([f"refit.sweep={sweep}"] if sweep else [])
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    with open_dict(cfg):
        cfg.paths.cache_dir = str(cache_dir)
        cfg.paths.output_dir = str(out)
    return cfg


@pytest.fixture(scope="module")
def sweep(cache_dir, tmp_path_factory) -> Path:
    """A 3-fold sweep of the network and L2 logistic regression through train.py -m."""
    sweep = tmp_path_factory.mktemp("refit") / "sweep"
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "n_folds=3",
        "model=nn,logit_l2",
        *TINY,
        f"hydra.sweep.dir={sweep}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return sweep


@pytest.fixture(scope="module")
def refit(sweep, cache_dir) -> Path:
    """The refit run dir of ``sweep``."""
    out = sweep.parent / "refit"
    run(refit_cfg(cache_dir, sweep, out))
    return out


def _report(refit_dir: Path) -> dict:
    report = json.loads((refit_dir / layout.REFIT_REPORT).read_text())
    return {r["model"]: r for r in report["configurations"]} | {"_report": report}


def _trait_cohort(sweep: Path, cache_dir: Path):
    cfg = job_config(next(p.parent for p in sweep.glob(f"*/{layout.METRICS}")))
    with open_dict(cfg):
        cfg.paths.cache_dir = str(cache_dir)
    return trait_cohort(
        load_cohort(cfg.data, cfg.paths.cache_dir), TraitSpec.from_config(cfg.trait)
    )


def test_one_loadable_bundle_per_configuration(sweep, refit):
    jobs = load_jobs(sweep)
    dirs = model_dirs(refit)
    expected = {
        layout.config_stem(
            dict(zip(["trait", "model", "config_hash", "bootstrap"], k, strict=True))
        )
        for k in jobs.groupby(["trait", "model", "config_hash", "bootstrap"]).groups
    }
    assert {d.parent.name for d in dirs} == expected and len(dirs) == 2
    for d in dirs:
        assert d.name == layout.MODEL_DIR
        bundle = load_bundle(d)
        assert bundle.manifest["metrics"]["refit"] is True
        assert bundle.manifest["refit"]["n_patients"] == len(bundle.training_digests)


def test_network_trains_the_folds_median_epoch_count(sweep, refit):
    jobs = load_jobs(sweep)
    best = jobs[jobs["model"] == "nn"].sort_values("fold")["best_epoch"].astype(int).tolist()
    expected = math.ceil(statistics.median(b + 1 for b in best))
    record = _report(refit)["nn"]
    assert record["fold_best_epochs"] == best
    assert record["epochs"] == record["epochs_run"] == expected
    manifest = load_bundle(refit / layout.config_stem(record) / layout.MODEL_DIR).manifest
    assert manifest["refit"]["epochs"] == expected


def test_bundles_are_fitted_on_every_labelled_patient(sweep, refit, cache_dir):
    tc = _trait_cohort(sweep, cache_dir)
    pooled = pd.read_csv(layout.summary_dir(sweep) / layout.PREDICTIONS)
    assert set(pooled["patient_id"]) == set(tc.patient_ids)  # the CV scored the same patients
    for record in _report(refit).values():
        if "model" not in record:
            continue
        bundle = load_bundle(refit / layout.config_stem(record) / layout.MODEL_DIR)
        assert record["n_patients"] == len(tc.y) == bundle.manifest["training"]["n_fit_patients"]
        assert bundle.seen_in_training(tc.patient_ids).all()
        np.testing.assert_allclose(bundle.mean, tc.X.mean(axis=0, dtype=np.float64), rtol=1e-5)
        sd = tc.X.std(axis=0, dtype=np.float64)
        np.testing.assert_allclose(bundle.std, np.where(sd > 0, sd, 1.0), rtol=1e-5)
        probs = bundle.predict_proba(bundle.align(pd.DataFrame(tc.X, columns=tc.genes))[0])
        assert roc_auc_score(tc.y, probs) > 0.6, record["model"]  # sanity: it learned something


def test_the_estimate_is_the_sweeps_cv_estimate(sweep, refit):
    table = pd.read_csv(layout.summary_dir(sweep) / layout.CV_SUMMARY, dtype={"config_hash": str})
    report = _report(refit)
    assert "IS the sweep's cross-validated estimate" in report["_report"]["estimate"]
    for model in ("nn", "logit_l2"):
        record = report[model]
        row = table[(table["model"] == model) & (table["config_hash"] == record["config_hash"])]
        cv = record["cv_estimate"]
        for key in ("pooled_auroc", "pooled_auroc_ci_low", "pooled_auroc_ci_high"):
            assert cv[key] == pytest.approx(float(row[key].iloc[0]))
        manifest = load_bundle(refit / layout.config_stem(record) / layout.MODEL_DIR).manifest
        assert manifest["estimate"] == report["_report"]["estimate"]
        assert manifest["metrics"]["pooled_auroc"] == pytest.approx(cv["pooled_auroc"])
        assert manifest["config_hash"] == record["config_hash"]
    assert "best_params" in report["logit_l2"] and "fold_best_epochs" not in report["logit_l2"]


def test_refitting_twice_gives_identical_models(sweep, refit, cache_dir, tmp_path):
    again = tmp_path / "again"
    run(refit_cfg(cache_dir, sweep, again))
    for d in model_dirs(refit):
        twin = again / d.relative_to(refit)
        if (d / layout.BUNDLE_WEIGHTS).exists():
            a = torch.load(d / layout.BUNDLE_WEIGHTS, weights_only=True)
            b = torch.load(twin / layout.BUNDLE_WEIGHTS, weights_only=True)
            assert a.keys() == b.keys()
            assert all(torch.equal(a[k], b[k]) for k in a)
        X = np.random.default_rng(0).normal(size=(5, len(load_bundle(d).genes))).astype(np.float32)
        np.testing.assert_array_equal(
            load_bundle(d).predict_proba(X), load_bundle(twin).predict_proba(X)
        )


def _exit_code(cfg) -> int:
    with pytest.raises(SystemExit) as info:
        run(cfg)
    return info.value.code


def test_missing_sweep_dir_exits_2_through_train_py(cache_dir, tmp_path):
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    cmd = [
        sys.executable,
        "train.py",
        "task=refit",
        f"refit.sweep={tmp_path / 'nope'}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "no such sweep directory" in proc.stdout + proc.stderr


def test_unset_or_empty_sweep_exits_2(cache_dir, tmp_path, caplog):
    assert _exit_code(refit_cfg(cache_dir, None, tmp_path / "a")) == 2
    assert "refit.sweep is not set" in caplog.text
    (tmp_path / "empty").mkdir()
    assert _exit_code(refit_cfg(cache_dir, tmp_path / "empty", tmp_path / "b")) == 2
    assert "no completed finetune job" in caplog.text
    assert not (tmp_path / "b" / layout.REFIT_REPORT).exists()


def _edit_json(path: Path, **changes) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@pytest.mark.parametrize("changed", ["expression", "labels"])
def test_data_changed_since_training_exits_2(sweep, cache_dir, tmp_path, caplog, changed):
    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy)
    job = sorted(p.parent for p in copy.glob(f"*model=nn*/{layout.METRICS}"))[-1]
    if changed == "expression":
        _edit_json(job / layout.MODEL_DIR / layout.BUNDLE_MANIFEST, data_digest="0123456789abcdef")
    else:  # the first fold's record of the trait cohort
        job = sorted(p.parent for p in copy.glob(f"*model=nn*/{layout.METRICS}"))[0]
        _edit_json(job / layout.COHORT, class_counts={"low": 1, "high": 2})
    out = tmp_path / "refit"
    assert _exit_code(refit_cfg(cache_dir, copy, out)) == 2
    assert f"{'expression data' if changed == 'expression' else 'labels'} changed" in caplog.text
    assert not model_dirs(out)  # checked before anything was trained


def test_predict_accepts_refit_bundles_as_their_own_configurations(sweep, refit, cache_dir):
    """Refit models score new patients through task=predict, apart from the fold models."""
    out = refit.parent / "predict"
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=[*TINY, "task=predict", f"predict.sweep={refit}"])
    with open_dict(cfg):
        cfg.paths.cache_dir = str(cache_dir)
        cfg.paths.output_dir = str(out)
    run(cfg)
    predictions = pd.read_csv(out / layout.PREDICTIONS)
    assert set(predictions["model"]) == {"nn", "logit_l2"}
    assert predictions["config_hash"].str.endswith("-refit").all()
    labelled = predictions["y_true"].notna()  # the others only pretrained the autoencoder
    assert labelled.any() and (predictions["seen_in_training"] == labelled).all()
