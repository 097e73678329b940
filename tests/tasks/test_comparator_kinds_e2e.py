"""An ordinal comparator job through the real entry point (`python train.py` in a subprocess)."""

import json
import os
import subprocess
import sys

import pandas as pd

from ..conftest import ROOT, TINY

LEVELS = ["Minimal", "Less than 1/3", "Between 1/3 and 2/3", "More than 2/3"]


def train(cache_dir, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    cmd = [sys.executable, "train.py", *TINY, "n_folds=2", "fold=0", *overrides]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_ordinal_frank_hall_job_writes_level_probabilities(cache_dir, tmp_path):
    job = tmp_path / "job"
    proc = train(
        cache_dir,
        "trait=enhancement",
        "trait.kind=ordinal",
        "model=logit_l2",
        "+interpret=[masking,attribution]",
        "interpret.masking.collections=[hallmark]",
        "interpret.masking.n_random=20",
        "interpret.masking.single_genes=false",
        f"hydra.run.dir={job}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((job / "metrics.json").read_text())
    assert metrics["model"] == "logit_l2" and 0.5 < metrics["val_auroc"] <= 1
    predictions = pd.read_csv(job / "predictions.csv")
    assert list(predictions.columns) == [
        "patient_id",
        "fold",
        "y_true",
        *[f"prob_{level}" for level in LEVELS],
    ]
    probs = predictions[[f"prob_{level}" for level in LEVELS]].to_numpy()
    assert len(predictions) == metrics["n_test"] and (probs >= 0).all()
    assert abs(probs.sum(axis=1) - 1).max() < 1e-9
    assert set(predictions["y_true"]) == {0, 1, 2, 3}  # level indices in the declared order
    truth = json.loads(next(cache_dir.glob("synthetic-*/truth.json")).read_text())
    driver = truth["traits"]["enhancement"]["driver_set"]
    scores = pd.read_csv(job / "masking" / "hallmark_scores.csv")
    assert scores.sort_values("auroc", ascending=False)["set"].iloc[0] == driver
    attribution = pd.read_csv(job / "attribution" / "genes.csv")
    assert attribution["method"].iloc[0] == "frank_hall_coefficients"
    assert (job / "model").is_dir()


def test_native_ordinal_model_refuses_a_categorical_trait(cache_dir, tmp_path):
    proc = train(cache_dir, "trait=enhancement", "model=ordinal_logit", f"hydra.run.dir={tmp_path}")
    assert proc.returncode != 0
    assert "model=ordinal_logit fits ordinal traits only" in proc.stderr + proc.stdout
