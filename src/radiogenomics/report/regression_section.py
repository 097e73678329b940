"""The report's section for continuous traits: pooled R², Spearman, MAE with CIs, and scatters."""

from __future__ import annotations

import pandas as pd

from radiogenomics.report.blocks import Section, Text, config_label, figure_block, table_block
from radiogenomics.results import layout
from radiogenomics.results.sweep import SweepData
from radiogenomics.summaries.regression import CI_METRICS

HEADERS = {"r2": "pooled R² [95% CI]", "spearman": "Spearman [95% CI]", "mae": "MAE [95% CI]"}


def regression_table(cv: pd.DataFrame) -> pd.DataFrame:
    """The continuous rows of cv_summary.csv with each metric and its CI in one column."""
    table = cv.copy()
    for name, header in HEADERS.items():
        table[header] = [
            f"{r[f'pooled_{name}']:.3f} [{r[f'pooled_{name}_ci_low']:.3f}, "
            f"{r[f'pooled_{name}_ci_high']:.3f}]"
            for r in cv.to_dict("records")
        ]
    table["mean fold R² (sd)"] = [
        f"{r['mean_r2']:.3f}" + (f" ({r['sd_r2']:.3f})" if pd.notna(r["sd_r2"]) else "")
        for r in cv.to_dict("records")
    ]
    return table


def regression_section(sweep: SweepData) -> Section | None:
    """Continuous traits' cross-validated regression metrics; None when the sweep has none."""
    cv = sweep.regression_cv
    if cv is None:
        return None
    columns = [
        "trait",
        "model",
        "config_hash",
        "n_jobs",
        "n_patients",
        "mean fold R² (sd)",
        *HEADERS.values(),
        "pooled_rmse",
        "mean_val_r2",
        "n_repeats",
        "repeat_mean_pooled_r2",
        "repeat_sd_pooled_r2",
    ]
    if (cv["bootstrap"] != "none").any():
        columns.insert(3, "bootstrap")
    blocks: list = [
        table_block(
            regression_table(cv),
            "Cross-validation (continuous traits)",
            columns,
            rows=None,
            source=layout.CV_SUMMARY,
        ),
        Text(
            "Each held-out fold is predicted once by a model that never saw it; pooled: all "
            "out-of-fold predictions together, in the target's units, with percentile-bootstrap "
            "95% CIs over patients. R² = 1 - SSE/SST around the pooled mean (below 0: worse than "
            "predicting the mean); Spearman: rank agreement of predicted and true values; MAE: "
            "mean absolute error. The epoch was chosen on inner-validation R² (mean_val_r2).",
            note=True,
        ),
    ]
    for row in cv.to_dict("records"):
        label = config_label(row)
        figure = figure_block(
            sweep.summary / layout.scatter_plot(row),
            f"Predicted vs true: {label}",
            f"Scatter of pooled out-of-fold predictions against the true values of {label}",
            ", ".join(f"{name} {row[f'pooled_{name}']:.3f}" for name in CI_METRICS),
        )
        if figure is not None:
            blocks.append(figure)
    return Section("regression", "Performance (continuous traits)", blocks)
