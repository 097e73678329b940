"""The default masking call on permuted twins and on real labels (slow: `pytest -m slow`).

A small planted cohort: masking with the default options on the real labels calls the planted
driver of enhancement (hypoxia), and on ten permuted twins (``trait.permute_seed=0..9``, one
sweep) at most one twin has any hallmark set called at q < 0.05 (the call is calibrated: with
Benjamini-Hochberg and no true effect a twin has any call with probability <= 0.05).
"""

import os
import subprocess
import sys

import pandas as pd
import pytest

from radiogenomics.analysis.masking_calibration import calibration_summary, calibration_table

from ..conftest import TINY
from ..helpers.commands import run_ok

pytestmark = pytest.mark.slow

HYPOXIA = "HALLMARK_HYPOXIA"
N_TWINS = 10
SMALL = [
    *TINY,
    "data.synthetic.n_annotated=175",
    "n_folds=5",
    "trait=enhancement",
    "+interpret=masking",
    "interpret.masking.single_genes=false",
    "interpret.masking.collections=[hallmark]",
    "save_model=false",
]


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """(real sweep, sweep of N_TWINS permuted twins) on one cached cohort."""
    base = tmp_path_factory.mktemp("calibration")
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(base / "cache")}
    real, twins = base / "real", base / "twins"
    run_ok([sys.executable, "train.py", "-m", *SMALL, f"hydra.sweep.dir={real}"], env)
    permuted = ["trait.permute_labels=true", f"trait.permute_seed=range(0,{N_TWINS})"]
    run_ok([sys.executable, "train.py", "-m", *SMALL, *permuted, f"hydra.sweep.dir={twins}"], env)
    return real, twins


def test_driver_called_and_twins_calibrated(sweeps):
    real, twins = sweeps
    table = pd.read_csv(real / "summary" / "masking_hallmark.csv").set_index("set")
    assert table.loc[HYPOXIA, "q"] < 0.05 and bool(table.loc[HYPOXIA, "significant"])
    assert table["q"].idxmin() == HYPOXIA
    per_twin = calibration_table(twins)
    assert len(per_twin) == N_TWINS and set(per_twin["permute_seed"]) == {
        str(k) for k in range(N_TWINS)
    }
    summary = calibration_summary(per_twin, calibration_table(real)).set_index("test")
    assert summary.loc["q", "twins_with_any_call"] <= 1, per_twin.to_string()
    assert summary.loc["q", "real_calls"] >= 1


def test_script_writes_tables_and_figure(sweeps):
    real, twins = sweeps
    script = ["scripts/masking_calibration.py", str(twins), "--real", str(real)]
    done = subprocess.run(
        [sys.executable, *script, "--driver", HYPOXIA], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = twins / "summary"
    for name in ("masking_calibration.csv", "masking_calibration_summary.csv"):
        assert (summary / name).is_file()
    assert (summary / "masking_calibration.png").stat().st_size > 1000
