"""compare.py --nested (a tuning sweep's per-fold choices) and the ablation table."""

import numpy as np
import pandas as pd

from radiogenomics.evaluation.comparison import ablation_table, nested_choices


def _frames(test_scores: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two folds x three trials; val AUROC fixed, held-out scores from ``test_scores``."""
    rng = np.random.default_rng(0)
    rows, preds = [], []
    val = {
        ("a", 0): 0.7,
        ("b", 0): 0.9,
        ("c", 0): 0.8,
        ("a", 1): 0.95,
        ("b", 1): 0.6,
        ("c", 1): 0.6,
    }
    for (h, fold), v in val.items():
        rows.append(
            {
                "trait": "t",
                "model": "nn",
                "config_hash": h,
                "bootstrap": None,
                "split_seed": 425,
                "fold": fold,
                "val_auroc": v,
                "test_auroc": test_scores[h, fold],
                "n_train": 40,
                "n_val": 8,
                "n_test": 10,
                "n_folds": 2,
                "classes": ["0", "1"],
            }
        )
        y = np.r_[np.zeros(5, int), np.ones(5, int)]
        preds.append(
            pd.DataFrame(
                {
                    "patient_id": [f"p{fold}_{i}" for i in range(10)],
                    "fold": fold,
                    "y_true": y,
                    "y_prob": rng.random(10),
                    "trait": "t",
                    "model": "nn",
                    "config_hash": h,
                    "bootstrap": None,
                    "split_seed": 425,
                }
            )
        )
    return pd.DataFrame(rows), pd.concat(preds, ignore_index=True)


def test_nested_choices_follow_inner_validation_only():
    keys = [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("b", 1), ("c", 1)]
    kept = []
    for scores in ({k: 0.5 for k in keys}, {k: 1.0 - i / 10 for i, k in enumerate(keys)}):
        metrics, preds = _frames(scores)
        m, p = nested_choices(metrics, preds)
        kept.append(m)
        assert sorted(m["fold"]) == [0, 1] and set(m["model"]) == {"nn_tuned"}
        assert set(m["config_hash"]) == {"nested"} and len(p) == 20
    assert kept[0]["val_auroc"].tolist() == kept[1]["val_auroc"].tolist() == [0.9, 0.95]


def test_ablation_table_pairs_each_scheme_with_the_reference():
    metrics, preds = _frames(
        {
            k: v
            for k, v in zip(
                [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("b", 1), ("c", 1)],
                [0.6, 0.7, 0.8, 0.62, 0.75, 0.9],
                strict=True,
            )
        }
    )
    for frame in (metrics, preds):
        frame["label"] = frame["config_hash"].map({"a": "t0", "b": "t1f0", "c": "t2f1"})
        frame["bootstrap"] = np.nan
    table = ablation_table(metrics, preds, "t0", n_boot=50)
    assert table["label"].tolist() == ["t0", "t1f0", "t2f1"]
    row = table.set_index("label").loc["t2f1"]
    assert np.isclose(row["fold_mean_minus_reference"], ((0.8 - 0.6) + (0.9 - 0.62)) / 2)
    assert 0 <= row["p_value"] <= 1 and row["pooled_minus_reference"] == (
        row["pooled_auroc"] - table.set_index("label").loc["t0", "pooled_auroc"]
    )
