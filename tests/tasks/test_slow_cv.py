"""Full-size checks on the default cohort (slow: run with `pytest -m slow`)."""

import os
import subprocess
import sys

import pandas as pd
import pytest

from ..conftest import ROOT

pytestmark = pytest.mark.slow


def _sweep(tmp_path, *overrides: str) -> pd.Series:
    sweep = tmp_path / "sweep"
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "trait=enhancement",
        "logger=none",
        *overrides,
        f"hydra.sweep.dir={sweep}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_csv(sweep / "summary" / "cv_summary.csv")
    assert len(table) == 1 and table["n_jobs"].iloc[0] == 10
    return table.iloc[0]


def test_planted_enhancement_signal_is_recovered(tmp_path):
    row = _sweep(tmp_path)
    assert row["pooled_auroc"] >= 0.75


def test_permuted_labels_give_chance_level(tmp_path):
    row = _sweep(tmp_path, "trait.permute_labels=true")
    assert abs(row["pooled_auroc"] - 0.5) <= 0.1
