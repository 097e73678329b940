"""Counting masking calls on permuted twins (fake pooled tables; the real run is slow-marked)."""

import subprocess
import sys

import pandas as pd
import pytest

from radiogenomics.analysis.masking_calibration import (
    calibration_summary,
    calibration_table,
    set_q,
)
from radiogenomics.results import layout

from ..conftest import ROOT


def _sweep(path, qs_by_hash: dict[str, list[float]], seeds: dict[str, int] | None = None):
    """A sweep dir with a pooled hallmark masking table and one job per configuration."""
    rows = []
    for config_hash, qs in qs_by_hash.items():
        for i, q in enumerate(qs):
            rows.append(
                {
                    "trait": "enh",
                    "model": "nn",
                    "config_hash": config_hash,
                    "set": f"S{i}",
                    "q": q,
                    "competitive_q": q,
                    "self_contained_q": q / 2,
                    "empirical_q": 0.01,
                    "auroc": 0.6,
                }
            )
        if seeds:
            job = path / f"job_{config_hash}"
            (job / ".hydra").mkdir(parents=True)
            (job / layout.METRICS).write_text(f'{{"config_hash": "{config_hash}"}}')
            overrides = f"- trait.permute_seed={seeds[config_hash]}\n- fold=0\n"
            (job / layout.HYDRA_OVERRIDES).write_text(overrides)
    summary = layout.summary_dir(path)
    summary.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(summary / layout.masking_table("hallmark"), index=False)
    return path


def test_counts_twins_with_any_call(tmp_path):
    twins = _sweep(
        tmp_path / "twins",
        {"a": [0.5, 0.9], "b": [0.01, 0.9], "c": [0.2, 0.3]},
        seeds={"a": 0, "b": 1, "c": 2},
    )
    table = calibration_table(twins)
    assert table["permute_seed"].tolist() == ["0", "1", "2"]
    assert table["n_called_q"].tolist() == [0, 1, 0]
    assert table.loc[1, "called_q"] == "S0"
    real = calibration_table(_sweep(tmp_path / "real", {"r": [1e-6, 0.5]}))
    summary = calibration_summary(table, real).set_index("test")
    assert summary.loc["q", "twins_with_any_call"] == 1
    assert summary.loc["q", "allowed"] == 1 and bool(summary.loc["q", "calibrated"])
    assert summary.loc["empirical_q", "twins_with_any_call"] == 3  # every twin "called"
    assert not bool(summary.loc["empirical_q", "calibrated"])
    assert summary.loc["q", "real_calls"] == 1
    assert set_q(tmp_path / "real", "hallmark", "S0")["q"] == pytest.approx(1e-6)
    with pytest.raises(ValueError, match="not in"):
        set_q(tmp_path / "real", "hallmark", "NOPE")


def test_script_refuses_bad_input_in_one_line(tmp_path):
    def run(*args):
        cmd = [sys.executable, "scripts/masking_calibration.py", *map(str, args)]
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)

    missing = run(tmp_path / "nope")
    assert missing.returncode == 2 and "is not a sweep directory" in missing.stderr
    assert "Traceback" not in missing.stderr
    (tmp_path / "empty").mkdir()
    no_table = run(tmp_path / "empty")
    assert no_table.returncode == 2 and "+interpret=masking" in no_table.stderr
    assert run(tmp_path / "empty", "--alpha", "5").returncode == 2
