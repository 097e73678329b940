"""Issue 17: stability selection over bootstrap replicates and the Meinshausen-Buhlmann bound."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiogenomics.analysis.stability_selection import (
    mb_bound,
    selection_frequency,
    stability_selection,
)
from radiogenomics.results import layout


def test_bound_and_frequency():
    assert mb_bound(5, 50, 0.9) == pytest.approx(25 / (0.8 * 50))
    with pytest.raises(ValueError):
        mb_bound(5, 50, 0.5)
    values = pd.DataFrame({0: [3, 2, 1], 1: [1, 2, 3]}, index=["a", "b", "c"])
    freq = selection_frequency(values, k=1)
    assert freq.to_dict() == {"a": 0.5, "b": 0.0, "c": 0.5}


def test_stability_selection_reads_a_bootstrap_summary(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for b in range(20):
        auroc = rng.uniform(0.4, 0.7, 50)
        auroc[0] = 0.9  # the driver tops every replicate
        rows += [
            {"trait": "t", "bootstrap": b, "set": f"S{i}", "auroc": a} for i, a in enumerate(auroc)
        ]
    out = layout.summary_dir(tmp_path)
    out.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(out / layout.masking_table("hallmark"), index=False)
    table, report = stability_selection(tmp_path, threshold=0.9, top_sets=5)
    top = table.iloc[0]
    assert top["item"] == "S0" and top["frequency"] == 1.0 and top["selected"]
    assert report[0]["n_replicates"] == 20 and report[0]["n_selected"] >= 1
    assert report[0]["expected_false_selections_bound"] == pytest.approx(25 / 40)
    with pytest.raises(ValueError, match="no bootstrap"):
        stability_selection(tmp_path / "nothing")


def test_small_collections_are_not_selected_whole(tmp_path):
    rows = [
        {"trait": "t", "bootstrap": b, "set": f"V{i}", "auroc": a, "slope": a - 0.5}
        for b in range(10)
        for i, a in enumerate([0.9, 0.6, 0.55, 0.5])
    ]
    out = layout.summary_dir(tmp_path)
    out.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(out / layout.masking_table("verhaak"), index=False)
    table, report = stability_selection(tmp_path, threshold=0.9, top_sets=5)
    assert {r["importance"] for r in report} == {"masking_auroc", "masking_slope"}
    assert all(r["top_k"] == 2 and r["n_selected"] == 2 for r in report)  # of 4, not all 4
    assert set(table.loc[table["selected"], "item"]) == {"V0", "V1"}
