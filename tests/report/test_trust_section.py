"""The report's trust section: present exactly when issue 17's files are in summary/."""

from __future__ import annotations

import json

import pandas as pd

from radiogenomics.report.trust_section import trust_section
from radiogenomics.results import layout
from radiogenomics.results.sweep import SweepData


def _sets(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trait": "edema",
            "importance": "masking_auroc",
            "collection": "hallmark",
            "set": [f"SET_{i}" for i in range(n)],
            "observed": [0.9, 0.6, 0.5][:n],
            "empirical_p": [0.05, 0.5, 0.9][:n],
            "q": [0.01, 0.6, 0.9][:n],
        }
    )


def test_no_files_no_section(tmp_path):
    layout.summary_dir(tmp_path).mkdir(parents=True)
    assert trust_section(SweepData(tmp_path)) is None


def test_null_sets_and_sanity_verdict_are_shown_lowest_q_first(tmp_path):
    summary = layout.summary_dir(tmp_path)
    summary.mkdir(parents=True)
    _sets().iloc[::-1].to_csv(summary / layout.IMPORTANCE_NULL_SETS, index=False)
    verdict = [{"method": "saliency", "n_models": 10, "verdict": "depends on the learned weights"}]
    (summary / layout.SANITY_JSON).write_text(json.dumps({"verdict": verdict}))
    section = trust_section(SweepData(tmp_path))
    assert section is not None and section.key == "trust"
    tables = [b for b in section.blocks if b.kind == "table"]
    assert [row[tables[0].columns.index("set")] for row in tables[0].rows] == [
        "SET_0",
        "SET_1",
        "SET_2",
    ]
    assert tables[1].rows[0][tables[1].columns.index("verdict")].startswith("depends")


def test_checks_of_the_pooled_tail_are_tabulated(tmp_path):
    summary = layout.summary_dir(tmp_path)
    summary.mkdir(parents=True)
    _sets().to_csv(summary / layout.IMPORTANCE_NULL_SETS, index=False)
    check = {
        "n_null": 20,
        "checked": True,
        "gpd_ks_p": 0.8,
        "shape_ks_below_0.05": 0.02,
        "calibration": {"mean_false_discoveries": 0.1, "share_with_any": 0.05},
    }
    report = {
        "configurations": [
            {
                "trait": "edema",
                "checks": {
                    "set/masking_slope/high/hallmark": check,
                    "set/x/high/y": {"checked": False},
                },
            }
        ]
    }
    (summary / layout.IMPORTANCE_NULL_JSON).write_text(json.dumps(report))
    section = trust_section(SweepData(tmp_path))
    tables = [b for b in section.blocks if b.kind == "table"]
    checks = tables[1]
    assert len(checks.rows) == 1  # unchecked tables are left out
    assert checks.rows[0][checks.columns.index("share_with_any")] == "0.050"  # formatted
