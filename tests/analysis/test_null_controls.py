"""scripts/null_report.py: discoveries of a sweep vs its permuted-label twin, per stage."""

import subprocess
import sys

import pandas as pd
import pytest

from radiogenomics.analysis.null_controls import allowed, null_report

from ..conftest import ROOT


def fake_sweep(path, permuted: bool, n_assoc: int, n_masked: int, n_surv: int, ci_low: float):
    """A summarized sweep: folds, CV table, 50 masked sets, 50 association rows, survival."""
    summary = path / "summary"
    (summary / "survival").mkdir(parents=True)
    key = {"trait": "edema", "model": "nn", "config_hash": "abc", "bootstrap": "none"}
    pd.DataFrame([{**key, "fold": f, "permuted_labels": permuted} for f in range(3)]).to_csv(
        summary / "folds.csv", index=False
    )
    pd.DataFrame(
        [{**key, "pooled_auroc": 0.8, "pooled_auroc_ci_low": ci_low, "pooled_auroc_ci_high": 0.9}]
    ).to_csv(summary / "cv_summary.csv", index=False)
    sets = [f"S{k}" for k in range(50)]
    pd.DataFrame(
        {**key, "set": sets, "q": [0.01 if k < n_masked else 0.5 for k in range(50)]}
    ).to_csv(summary / "masking_hallmark.csv", index=False)
    pd.DataFrame(
        {
            **key,
            "class": "high",
            "collection": "hallmark",
            "set": sets,
            "paper_rule": True,  # the paper's rule fires everywhere, as on these networks
            "association": [k < n_assoc for k in range(50)],
        }
    ).to_csv(summary / "associations.csv", index=False)
    if not n_assoc:  # survival.py writes a table without rows when there is nothing to test
        pd.DataFrame(columns=[*key, "set", "status", "logrank_q", "cox_q"]).to_csv(
            summary / "survival" / "survival.csv", index=False
        )
        return path
    pd.DataFrame(
        {
            **key,
            "set": sets[:n_assoc],
            "status": ["tested"] * (n_assoc - 1) + ["too few patients"],
            "logrank_q": [0.01 if k < n_surv else 0.6 for k in range(n_assoc)],
            "cox_q": [0.02 if k < n_surv else 0.7 for k in range(n_assoc)],
        }
    ).to_csv(summary / "survival" / "survival.csv", index=False)
    return path


def test_report_counts_each_stage_and_judges_the_twin(tmp_path):
    real = fake_sweep(tmp_path / "real", False, n_assoc=4, n_masked=6, n_surv=1, ci_low=0.7)
    twin = fake_sweep(tmp_path / "perm", True, n_assoc=0, n_masked=4, n_surv=0, ci_low=0.4)
    table = null_report(real, twin).set_index("stage")
    assert table.loc["associations", "n_found_real"] == 4
    assert table.loc["associations", "n_found_permuted"] == 0
    assert table.loc["paper_rule_only", "n_found_permuted"] == 50  # the uncalibrated rule
    assert table.loc["paper_rule_only", "within_fdr"] is None  # contrast only, not judged
    assert (
        table.loc["survival_cox", "n_tests_permuted"],
        table.loc["survival_cox", "n_found_permuted"],
    ) == (0, 0)
    assert (
        table.loc["survival_cox", "within_fdr"]
        and not table.loc["survival_cox", "n_found_permuted"]
    )
    assert table.loc["masking_hallmark", "n_tests_permuted"] == 50
    # 4 masked sets in the twin exceed max(1, 0.05 * 50) = 2.5 allowed false discoveries
    assert not table.loc["masking_hallmark", "within_fdr"]
    assert table.loc["survival_logrank", "n_found_real"] == 1
    assert table.loc["survival_logrank", "n_tests_real"] == 3  # the skipped pair is no test
    assert list(table.index[:2]) == ["auroc", "masking_hallmark"]
    assert table.loc["auroc", "n_found_real"] == 1 and table.loc["auroc", "within_fdr"]
    assert table.loc["associations", "within_fdr"]
    assert allowed(50, 0.05) == 2.5 and allowed(3, 0.05) == 1 and allowed(0, 0.05) == 0


def test_report_refuses_pairs_that_are_not_twins(tmp_path):
    real = fake_sweep(tmp_path / "real", False, 4, 6, 1, 0.7)
    other_real = fake_sweep(tmp_path / "real2", False, 4, 6, 1, 0.7)
    with pytest.raises(ValueError, match="not a permuted-label run"):
        null_report(real, other_real)
    twin = fake_sweep(tmp_path / "perm", True, 0, 0, 0, 0.4)
    with pytest.raises(ValueError, match="pass the real sweep first"):
        null_report(twin, real)
    with pytest.raises(FileNotFoundError, match="summarize.py"):
        null_report(real, tmp_path / "nowhere")


def test_cli_prints_the_table(tmp_path):
    real = fake_sweep(tmp_path / "real", False, 4, 6, 1, 0.7)
    twin = fake_sweep(tmp_path / "perm", True, 0, 1, 0, 0.4)
    cmd = [sys.executable, "scripts/null_report.py", str(real), str(twin)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (
        "| edema | nn |" in proc.stdout and "within FDR control at every stage: True" in proc.stdout
    )
    assert (real / "summary" / "null_report.csv").exists()
    bad = subprocess.run([*cmd[:2], str(twin), str(real)], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "pass the real sweep first" in bad.stderr
