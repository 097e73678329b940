"""Repeated cross-validation (``repeats=R``) through train.py: one configuration, R repeats."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from radiogenomics.summaries.cv import REPEAT_COLUMNS

from ..conftest import ROOT, TINY
from ..helpers.commands import run_ok

SWEEP = ["-m", "n_folds=2", *TINY]


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """A single-repeat sweep and a two-repeat sweep of the same configuration."""
    root = tmp_path_factory.mktemp("repeats")
    cache = tmp_path_factory.getbasetemp() / "repeats_cache"
    env = {**os.environ, "RADIOGENOMICS_CACHE": str(cache)}
    out = {}
    for name, extra in (("single", []), ("repeated", ["repeats=2"])):
        sweep = root / name
        proc = run_ok(
            [sys.executable, "train.py", *SWEEP, *extra, f"hydra.sweep.dir={sweep}"], env, 600
        )
        out[name] = (sweep, proc.stdout)
    return out


def _metrics(sweep) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(sweep.glob("*/metrics.json"))}


def test_repeats_are_one_configuration_with_repeat_columns(sweeps):
    sweep, stdout = sweeps["repeated"]
    jobs = _metrics(sweep)
    assert len(jobs) == 4
    assert {m["split_seed"] for m in jobs.values()} == {425, 426}
    assert len({m["config_hash"] for m in jobs.values()}) == 1
    table = pd.read_csv(sweep / "summary" / "cv_summary.csv")
    assert len(table) == 1
    row = table.iloc[0]
    assert row["n_jobs"] == 4 and row["n_repeats"] == 2 and bool(row["folds_complete"])
    repeats = pd.read_csv(sweep / "summary" / "repeats.csv")
    assert repeats["repeat"].tolist() == [0, 1] and repeats["split_seed"].tolist() == [425, 426]
    assert (repeats["n_jobs"] == 2).all() and repeats["folds_complete"].all()
    assert row["repeat_mean_pooled_auroc"] == pytest.approx(repeats["pooled_auroc"].mean())
    assert row["repeat_sd_pooled_auroc"] == pytest.approx(repeats["pooled_auroc"].std(ddof=1))
    assert row["pooled_auroc"] == pytest.approx(repeats["pooled_auroc"].iloc[0])  # repeat 0
    assert row["n_patients"] == repeats["n_patients"].iloc[0]
    pooled = pd.read_csv(sweep / "summary" / "predictions.csv")
    assert len(pooled) == 2 * row["n_patients"]  # every patient once per repeat
    assert not pooled.duplicated(["split_seed", "patient_id"]).any()
    assert "reps" in stdout and "every repeat in summary/repeats.csv" in stdout
    page = (sweep / "summary" / "report.html").read_text()
    assert "pooled AUROC, mean ± sd over repeats" in page and "(2 repeats)" in page
    card = (sweep / "summary" / "model_card.md").read_text()
    assert "mean ± sd over 2 CV repeats" in card


def test_first_repeat_is_the_single_repeat_sweep(sweeps):
    """R=1 keeps its dirs, hash, numbers and columns; repeat 0 of R=2 is the same jobs."""
    single, stdout = sweeps["single"]
    repeated, _ = sweeps["repeated"]
    one, two = _metrics(single), _metrics(repeated)
    assert set(one) <= set(two)  # repeat 0 has the single-repeat dir names
    assert all("repeat" not in name for name in one)
    for name, m in one.items():
        for key in ("config_hash", "split_seed", "test_auroc", "n_test", "fold"):
            assert two[name][key] == m[key], key
    cv_one = pd.read_csv(single / "summary" / "cv_summary.csv")
    cv_two = pd.read_csv(repeated / "summary" / "cv_summary.csv")
    assert not set(REPEAT_COLUMNS) & set(cv_one.columns)  # R=1: the columns it always had
    assert list(cv_two.columns) == [*cv_one.columns, *REPEAT_COLUMNS]
    same = [c for c in cv_one.columns if c not in ("n_jobs",)]
    pd.testing.assert_frame_equal(cv_one[same], cv_two[same])
    assert not (single / "summary" / "repeats.csv").exists()
    assert "reps" not in stdout


def test_bad_repeats_stops_with_one_line(tmp_path):
    cmd = [sys.executable, "train.py", *SWEEP, "repeats=0", f"hydra.sweep.dir={tmp_path}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "repeats=0: expected an integer >= 1" in proc.stderr
