"""Sweep summary of a continuous trait: pooled out-of-fold R², Spearman, MAE with 95% CIs.

A continuous configuration's ``cv_summary.csv`` row has, instead of the AUROC columns,
``mean_r2``/``sd_r2`` over the folds, ``pooled_<m>`` with ``pooled_<m>_ci_low``/``_ci_high``
for ``m`` in r2, spearman, mae (percentile bootstrap over patients,
:func:`radiogenomics.evaluation.regression.bootstrap_regression_ci`), ``pooled_rmse`` and
``mean_val_r2`` (the inner-validation selection score); a repeated CV adds ``n_repeats``,
``repeat_mean_pooled_r2`` and ``repeat_sd_pooled_r2``. The per-fold table (``folds.csv``) has
each job's ``test_r2``, ``test_spearman``, ``test_mae``, ``test_rmse`` from its metrics.json;
a scatter of pooled predicted vs true values replaces the ROC plot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.evaluation.regression import bootstrap_regression_ci, regression_score
from radiogenomics.results import layout

CI_METRICS = ("r2", "spearman", "mae")


def is_continuous_group(classes: list) -> bool:
    """A configuration of a continuous trait: its jobs' metrics.json list no classes."""
    return len(classes) == 0


def prediction_pair(pooled: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, y_pred) of a continuous trait's predictions.csv rows."""
    return pooled["y_true"].to_numpy(dtype=float), pooled["y_pred"].to_numpy(dtype=float)


def continuous_row(
    config: dict, group: pd.DataFrame, pooled: pd.DataFrame, n_boot: int, repeat: str
) -> dict:
    """One continuous configuration's cv_summary row: the first CV repeat's folds and patients;
    with repeats (column ``repeat`` of both frames > 0), ``n_repeats`` and the mean and sd of
    each repeat's pooled R² (``repeat_mean_pooled_r2``, ``repeat_sd_pooled_r2``)."""
    first, first_pooled = group[group[repeat] == 0], pooled[pooled[repeat] == 0]
    y, pred = prediction_pair(first_pooled)
    scores = regression_score(y, pred)
    cis = bootstrap_regression_ci(y, pred, n_boot=n_boot)
    folds = first["test_r2"].astype(float)
    n_folds = int(group["n_folds"].iloc[0])
    row = dict(config)
    row.update(
        n_jobs=len(group),
        n_folds=n_folds,
        folds_complete=bool(first["fold"].nunique() == n_folds),
        n_patients=len(first_pooled),
        mean_r2=float(folds.mean()),
        sd_r2=float(folds.std(ddof=1)) if len(folds) > 1 else float("nan"),
        mean_spearman=float(first["test_spearman"].astype(float).mean()),
    )
    for name in CI_METRICS:
        lo, hi = cis[name]
        row.update(
            {
                f"pooled_{name}": scores[name],
                f"pooled_{name}_ci_low": lo,
                f"pooled_{name}_ci_high": hi,
            }
        )
    row["pooled_rmse"] = scores["rmse"]
    if "val_r2" in first:
        row["mean_val_r2"] = float(first["val_r2"].astype(float).mean())
    per_repeat = [
        regression_score(*prediction_pair(part))["r2"]
        for _, part in pooled.groupby(repeat, sort=True)
    ]
    if len(per_repeat) > 1:
        row.update(
            n_repeats=len(per_repeat),
            repeat_mean_pooled_r2=float(np.mean(per_repeat)),
            repeat_sd_pooled_r2=float(np.std(per_repeat, ddof=1)),
        )
    return row


def print_regression_table(table: pd.DataFrame) -> None:
    """Print the continuous configurations' CV summary as a plain-text table."""
    lines = ["", "Cross-validation summary, continuous traits (pooled out-of-fold, 95% CI)"]
    tw = max(16, *(len(str(t)) + 2 for t in table["trait"]))  # names wider than the default
    mw = max(10, *(len(str(m)) + 2 for m in table["model"]))
    lines.append(
        f"{'trait':<{tw}}{'model':<{mw}}{'boot':<6}{'jobs':>5}{'mean R²':>9}{'pooled R² [95% CI]':>28}"
        f"{'Spearman [95% CI]':>28}{'MAE [95% CI]':>30}"
    )
    for _, r in table.iterrows():
        cells = [
            f"{r[f'pooled_{m}']:.3f} [{r[f'pooled_{m}_ci_low']:.3f}, {r[f'pooled_{m}_ci_high']:.3f}]"
            for m in CI_METRICS
        ]
        lines.append(
            f"{r['trait']:<{tw}}{r['model']:<{mw}}{str(r['bootstrap']):<6}{r['n_jobs']:>5}"
            f"{r['mean_r2']:>9.3f}"
            f"{cells[0]:>28}{cells[1]:>28}{cells[2]:>30}"
        )
    if "n_repeats" in table:
        lines.append(
            "repeated CV: the columns are the first repeat's (split_seed); over the repeats, "
            "pooled R² mean ± sd: "
            + ", ".join(
                f"{r['trait']}/{r['model']} {r['repeat_mean_pooled_r2']:.3f} ± "
                f"{r['repeat_sd_pooled_r2']:.3f}"
                for _, r in table.iterrows()
                if pd.notna(r.get("n_repeats"))
            )
        )
    print("\n".join(lines), flush=True)


def scatter_plot(out: Path, row: dict, pooled: pd.DataFrame) -> Path:
    """Pooled out-of-fold predicted vs true values, with the identity line (replaces the ROC)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y, pred = prediction_pair(pooled)
    path = out / layout.scatter_plot(row)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(y, pred, s=12, alpha=0.7)
    low, high = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    ax.plot([low, high], [low, high], color="grey", lw=1, ls="--")
    ax.set_xlabel(f"true {row['trait']}")
    ax.set_ylabel("predicted (out of fold)")
    ax.set_title(
        f"{row['trait']} / {row['model']}: pooled R² {row['pooled_r2']:.3f}, "
        f"Spearman {row['pooled_spearman']:.3f}",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
