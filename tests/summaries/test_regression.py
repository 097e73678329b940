"""A continuous configuration's cv_summary row from hand-made job frames (repeats included)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiogenomics.summaries.regression import continuous_row


def test_row_scores_the_first_repeat_and_spreads_over_repeats():
    rng = np.random.default_rng(0)
    y = rng.normal(10, 2, 40)
    frames = []
    for repeat, noise in ((0, 0.5), (1, 1.5)):
        pred = y + noise * rng.normal(size=40)
        frames.append(
            pd.DataFrame(
                {
                    "patient_id": range(40),
                    "fold": np.arange(40) % 2,
                    "y_true": y,
                    "y_pred": pred,
                    "repeat": repeat,
                }
            )
        )
    pooled = pd.concat(frames, ignore_index=True)
    group = pd.DataFrame(
        {
            "fold": [0, 1, 0, 1],
            "n_folds": 2,
            "repeat": [0, 0, 1, 1],
            "test_r2": [0.9, 0.8, 0.5, 0.4],
            "test_spearman": 0.9,
            "val_r2": 0.7,
        }
    )
    row = continuous_row({"trait": "t", "model": "nn"}, group, pooled, n_boot=200, repeat="repeat")
    first = frames[0]
    sst = ((y - y.mean()) ** 2).sum()
    assert row["pooled_r2"] == pytest.approx(1 - ((first["y_pred"] - y) ** 2).sum() / sst)
    assert row["mean_r2"] == pytest.approx(0.85) and row["n_patients"] == 40
    assert row["pooled_r2_ci_low"] < row["pooled_r2"] < row["pooled_r2_ci_high"]
    assert row["n_repeats"] == 2 and row["repeat_sd_pooled_r2"] > 0
    assert row["pooled_mae"] == pytest.approx(np.abs(first["y_pred"] - y).mean())
