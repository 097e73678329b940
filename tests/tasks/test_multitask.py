"""multitask=vasari end to end: one network per fold, read back as six single-trait jobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from radiogenomics.errors import ConfigError, DataError
from radiogenomics.evaluation.metrics import auroc
from radiogenomics.models.bundle import load_bundle
from radiogenomics.results import layout
from radiogenomics.results.sweep import collect, job_dirs
from radiogenomics.tasks import run
from radiogenomics.tasks.validation import validate_config

from ..conftest import CONFIGS, ROOT, TINY

TRAITS = ["enhancement", "ncet", "necrosis", "edema", "multifocal", "infiltration"]
# the tiny networks learn at this rate without an autoencoder (as tests/tasks/test_predict.py)
FAST = ["model.transfer_layers=0", "model.freeze_layers=0", "model.optimizer.lr=0.01"]
MASKING = [
    "+interpret=masking",
    "interpret.masking.collections=[hallmark]",
    "interpret.masking.n_random=20",
    "interpret.masking.single_genes=false",
]


def compose_cfg(cache_dir: Path, out: Path, *overrides: str):
    """The tiny config plus ``overrides``, writing to ``out``."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=[*TINY, *overrides])
    with open_dict(cfg):
        cfg.paths.cache_dir = str(cache_dir)
        cfg.paths.output_dir = str(out)
    return cfg


@pytest.fixture(scope="module")
def sweep(cache_dir, tmp_path_factory) -> Path:
    """``python train.py -m multitask=vasari n_folds=3 +interpret=masking`` (tiny)."""
    sweep = tmp_path_factory.mktemp("multitask") / "sweep"
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "multitask=vasari",
        "n_folds=3",
        *TINY,
        *FAST,
        *MASKING,
        f"hydra.sweep.dir={sweep}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return sweep


def test_every_trait_is_a_single_trait_job_of_the_sweep(sweep):
    containers = sorted(p.parent for p in sweep.glob(f"*/{layout.MULTITASK_RECORD}"))
    assert len(containers) == 3
    jobs = job_dirs(sweep)
    assert len(jobs) == 18 and all(j.parent in containers for j in jobs)
    metrics, predictions, missing = collect(sweep)
    assert missing == [] and len(metrics) == 18
    assert set(metrics["trait"]) == set(TRAITS) and set(metrics["model"]) == {"nn_multitask"}
    for job in jobs:
        m = json.loads((job / layout.METRICS).read_text())
        assert job.name == f"trait={m['trait']}"
        preds = pd.read_csv(job / layout.PREDICTIONS)
        assert list(preds.columns) == ["patient_id", "fold", "y_true", "y_prob"]
        assert len(preds) == m["n_test"] and (preds["fold"] == m["fold"]).all()
        assert (job / layout.MODEL_DIR / layout.BUNDLE_MANIFEST).is_file()
        assert (job / layout.MASKING_DIR / layout.masking_scores("hallmark")).is_file()
        assert (job / layout.HYDRA_CONFIG).is_file()
    # one configuration per trait, every labelled patient held out exactly once
    table = pd.read_csv(sweep / layout.SUMMARY_DIR / layout.CV_SUMMARY)
    assert sorted(table["trait"]) == sorted(TRAITS) and (table["n_jobs"] == 3).all()
    cohort = json.loads((containers[0] / layout.COHORT).read_text())
    for trait, rows in predictions.groupby("trait"):
        assert rows["patient_id"].is_unique
        assert len(rows) == cohort["traits"][trait]["n_patients"]
    assert (sweep / layout.SUMMARY_DIR / layout.REPORT_HTML).is_file()
    assert (sweep / layout.SUMMARY_DIR / layout.masking_table("hallmark")).is_file()


def test_patients_missing_labels_are_in_the_network_but_not_in_their_traits_jobs(sweep):
    container = sorted(p.parent for p in sweep.glob(f"*/{layout.MULTITASK_RECORD}"))[0]
    cohort = json.loads((container / layout.COHORT).read_text())
    n_all = cohort["n_patients"]
    assert any(v["n_patients"] < n_all for v in cohort["traits"].values())  # labels are missing
    record = json.loads((container / layout.MULTITASK_RECORD).read_text())
    for trait, entry in record["traits"].items():
        m = json.loads((container / entry["dir"] / layout.METRICS).read_text())
        assert m["n_train"] + m["n_val"] + m["n_test"] == cohort["traits"][trait]["n_patients"]
    assert record["n_train"] + record["n_val"] + record["n_test"] == n_all


def test_planted_enhancement_driver_is_recovered(sweep):
    _, predictions, _ = collect(sweep)
    rows = predictions[predictions["trait"] == "enhancement"]
    value = auroc(rows["y_true"].to_numpy(), rows["y_prob"].to_numpy())
    assert value > 0.7, value  # 0.78 as shipped; a network that learned nothing: ~0.5


def test_trait_bundle_reproduces_its_predictions_and_task_predict_reads_it(
    sweep, cache_dir, tmp_path
):
    job = job_dirs(sweep)[0]
    m = json.loads((job / layout.METRICS).read_text())
    bundle = load_bundle(job / layout.MODEL_DIR)
    assert bundle.family == "nn" and bundle.manifest["trait"]["name"] == m["trait"]
    held_out = pd.read_csv(job / layout.PREDICTIONS, dtype={"patient_id": str})
    cfg = compose_cfg(cache_dir, tmp_path / "x", f"trait={m['trait']}")
    from radiogenomics.data.cohort import load_cohort

    expression = load_cohort(cfg.data, cfg.paths.cache_dir).expression
    X, _ = bundle.align(expression.loc[held_out["patient_id"]])
    np.testing.assert_allclose(bundle.predict_proba(X), held_out["y_prob"], atol=1e-6)
    out = tmp_path / "predict"
    run(
        compose_cfg(
            cache_dir,
            out,
            "task=predict",
            f"predict.sweep={sweep}",
            f"trait={m['trait']}",
            "predict.n_boot=200",
        )
    )
    preds = pd.read_csv(out / layout.PREDICTIONS)
    assert len(preds) and preds.filter(like="y_prob").notna().all().all()
    external = json.loads((out / layout.EXTERNAL_METRICS).read_text())
    assert external["configurations"][0]["model"] == "nn_multitask"


def test_task_interpret_rebuilds_each_traits_fold(sweep, cache_dir, tmp_path):
    out = tmp_path / "interpret"
    run(compose_cfg(cache_dir, out, "task=interpret", f"interpret.sweep={sweep}", *MASKING))
    report = json.loads((out / layout.INTERPRET_REPORT).read_text())
    assert len(report["jobs"]) == 18 and not report["skipped"]
    for job in job_dirs(sweep)[:6]:
        name = layout.masking_scores("hallmark")
        trained = pd.read_csv(job / layout.MASKING_DIR / name)
        again = pd.read_csv(out / job.relative_to(sweep) / layout.MASKING_DIR / name)
        pd.testing.assert_frame_equal(trained, again)  # same fold, weights and standardizer


def test_a_finished_fold_is_skipped(sweep, cache_dir):
    container = sorted(p.parent for p in sweep.glob(f"*/{layout.MULTITASK_RECORD}"))[0]
    record = container / layout.MULTITASK_RECORD
    stamp = record.stat().st_mtime_ns
    overrides = yaml.safe_load((container / layout.HYDRA_OVERRIDES).read_text())
    cfg = compose_cfg(cache_dir, container, *overrides)
    run(cfg)
    assert record.stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=logit_l2"], "comparators are single-trait"),
        (["multitask.stratify=edemma"], "did you mean 'edema'"),
        (["+multitask.loss_weights.edemma=2"], "not one of the traits"),
        (["multitask.loss_weights.edema=-1"], "loss_weights.edema"),
        (["model.ensemble=4"], "not available with multitask"),
        (["bootstrap=0"], "not available with multitask"),
    ],
)
def test_bad_multitask_options_are_one_line(cache_dir, tmp_path, overrides, message):
    cfg = compose_cfg(cache_dir, tmp_path, "multitask=vasari", *overrides)
    with pytest.raises(ConfigError, match=message) as err:
        validate_config(cfg)
    assert "\n" not in str(err.value)
    assert isinstance(err.value, DataError)


def test_an_unfinished_multitask_job_is_missing_and_a_finished_one_is_its_traits(tmp_path):
    job = tmp_path / "fold=0"
    (job / ".hydra").mkdir(parents=True)
    (job / layout.HYDRA_OVERRIDES).write_text("- fold=0\n")
    assert job_dirs(tmp_path) == [job]  # started, no record: one job, missing
    trait = job / layout.multitask_trait_dir("edema")
    (trait / ".hydra").mkdir(parents=True)
    (trait / layout.HYDRA_OVERRIDES).write_text("- fold=0\n")
    (job / layout.MULTITASK_RECORD).write_text("{}")
    assert job_dirs(tmp_path) == [trait]
