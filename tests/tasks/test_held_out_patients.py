"""A finished job's held-out patients, rebuilt from its dir alone (task=interpret, scripts/trust.py)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pandas as pd
import torch

from radiogenomics.models.bundle import load_bundle
from radiogenomics.results import layout
from radiogenomics.tasks.interpret import held_out_patients

from ..conftest import ROOT, TINY


def test_trust_rebuilds_the_jobs_held_out_patients_from_its_dir(cache_dir, tmp_path):
    job = tmp_path / "job"
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache_dir)}
    cmd = [sys.executable, "train.py", *TINY, "n_folds=2", f"hydra.run.dir={job}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    bundle = load_bundle(job / layout.MODEL_DIR)
    dm = held_out_patients(job, bundle, cache_dir)
    predicted = pd.read_csv(job / layout.PREDICTIONS, dtype={"patient_id": str})
    assert dm.patient_ids["test"] == predicted["patient_id"].tolist()

    spec = importlib.util.spec_from_file_location("trust", ROOT / "scripts" / "trust.py")
    trust = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(trust)
    name, model, x, y, genes = trust.fold_loader(str(cache_dir))(job)
    assert name == job.name and genes == list(dm.genes)
    assert torch.equal(x, dm.x["test"]) and (y == dm.y["test"].numpy()).all()
