"""Sweep summary: read every job's files and write per-fold, CV and pooled out-of-fold results."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.evaluation.metrics import bootstrap_auroc_ci, prediction_arrays, score
from radiogenomics.evaluation.multitest import FDR
from radiogenomics.interpret.associations import MIN_PATIENTS
from radiogenomics.reporting.anndata_export import export_anndata
from radiogenomics.reporting.importance_null_summary import summarize_importance_null
from radiogenomics.reporting.masking_summary import summarize_masking
from radiogenomics.reporting.report import write_sweep_report
from radiogenomics.reporting.saliency_summary import summarize_saliency
from radiogenomics.results import layout
from radiogenomics.results.sweep import GROUP_KEYS, collect, group_frame
from radiogenomics.utils import atomic_write, write_csv, write_json

log = logging.getLogger(__name__)


def summarize(
    sweep_dir: str | Path,
    n_boot: int = 2000,
    fdr: float = FDR,
    min_patients: int = MIN_PATIENTS,
) -> pd.DataFrame:
    """Write ``summary/`` for a sweep and return the CV table (one row per configuration).

    ``fdr`` and ``min_patients`` define radiogenomic traits and associations (gene saliency).
    """
    sweep_dir = Path(sweep_dir)
    out = layout.summary_dir(sweep_dir)
    metrics, predictions, missing = collect(sweep_dir)
    write_json(out / layout.MISSING_JOBS, {"n_missing": len(missing), "jobs": missing})
    write_environment(out)
    if metrics.empty:
        log.warning(
            "no completed jobs in %s (%d started without %s)",
            sweep_dir,
            len(missing),
            layout.METRICS,
        )
        return pd.DataFrame()
    metrics, predictions = group_frame(metrics), group_frame(predictions)
    metrics, predictions = summarize_importance_null(sweep_dir, metrics, predictions, fdr=fdr)
    write_csv(out / layout.FOLDS, metrics.drop(columns=["classes", "environment"], errors="ignore"))
    write_csv(out / layout.PREDICTIONS, predictions)
    summarize_masking(sweep_dir, metrics, GROUP_KEYS, fdr=fdr)  # no-op unless jobs masked
    # no-op unless jobs ran gene saliency
    summarize_saliency(sweep_dir, metrics, GROUP_KEYS, fdr=fdr, min_patients=min_patients)
    export_anndata(sweep_dir, metrics, predictions)  # predictions_obs.csv, attributions.h5ad
    rows, class_rows = [], []
    for key, group in metrics.groupby(GROUP_KEYS, sort=True):
        pooled = predictions.set_index(GROUP_KEYS).loc[key].reset_index()
        classes = list(group["classes"].iloc[0])
        y, probs = prediction_arrays(pooled, classes)
        pooled_scores = score(y, probs, classes)
        lo, hi = bootstrap_auroc_ci(y, probs, n_boot=n_boot)
        row = dict(zip(GROUP_KEYS, key, strict=True))
        row.update(
            n_jobs=len(group),
            n_folds=int(group["n_folds"].iloc[0]),
            folds_complete=len(group) == int(group["n_folds"].iloc[0]),
            n_patients=len(pooled),
            mean_auroc=float(group["test_auroc"].mean()),
            sd_auroc=float(group["test_auroc"].std(ddof=1)) if len(group) > 1 else float("nan"),
            pooled_auroc=pooled_scores["auroc"],
            pooled_auroc_ci_low=lo,
            pooled_auroc_ci_high=hi,
            pooled_ap=pooled_scores["ap"],
            mean_val_auroc=float(group["val_auroc"].mean()),
            **{f"pooled_{k}": v for k, v in pooled_scores.items() if k not in ("auroc", "ap")},
        )
        rows.append(row)
        if len(classes) > 2:
            class_rows += per_class_rows(
                dict(zip(GROUP_KEYS, key, strict=True)), group, y, probs, classes, n_boot
            )
        _roc_plot(out, row, y, probs, classes)
    table = pd.DataFrame(rows)
    write_csv(out / layout.CV_SUMMARY, table)
    write_json(out / layout.SUMMARY_JSON, {"configurations": rows, "missing_jobs": missing})
    print_table(table, missing)
    if class_rows:
        per_class = pd.DataFrame(class_rows)
        write_csv(out / layout.PER_CLASS, per_class)
        print_per_class(per_class)
    write_sweep_report(sweep_dir)  # summary/report.html and model_card.md (issue 16)
    return table


def write_environment(out: Path) -> Path:
    """``summary/environment.txt``: every installed package and the machine of this process."""
    from datetime import datetime, timezone

    from radiogenomics.environment import freeze_text

    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    note = (
        f"environment of the process that wrote this summary ({when}); each job's "
        f"{layout.METRICS} holds its own (environment: CPU capability, numeric packages)"
    )
    return atomic_write(out / layout.ENVIRONMENT, lambda p: p.write_text(freeze_text(note)))


def per_class_rows(
    key: dict,
    group: pd.DataFrame,
    y: np.ndarray,
    probs: np.ndarray,
    classes: list[str],
    n_boot: int,
) -> list[dict]:
    """Multiclass: one-vs-rest results per class (fold mean and pooled out-of-fold with a CI)."""
    rows = []
    for k, name in enumerate(classes):
        target = (y == k).astype(int)
        pooled = score(target, probs[:, k], ["rest", name])
        lo, hi = bootstrap_auroc_ci(target, probs[:, k], n_boot=n_boot)
        folds = group.get(f"test_auroc_{name}", pd.Series(dtype=float))
        rows.append(
            {
                **key,
                "class": name,
                "n_patients": int(target.sum()),
                "mean_auroc": float(folds.mean()),
                "sd_auroc": float(folds.std(ddof=1)) if len(folds) > 1 else float("nan"),
                "pooled_auroc": pooled["auroc"],
                "pooled_auroc_ci_low": lo,
                "pooled_auroc_ci_high": hi,
                "pooled_ap": pooled["ap"],
            }
        )
    return rows


def print_per_class(per_class: pd.DataFrame) -> None:
    """Print the one-vs-rest results of multiclass traits."""
    lines = ["", "Per class (one-vs-rest, pooled out-of-fold)"]
    lines.append(
        f"{'trait':<14}{'model':<10}{'class':<14}{'n':>5}{'pooled AUROC [95% CI]':>30}{'AP':>7}"
    )
    for _, r in per_class.iterrows():
        ci = f"{r['pooled_auroc']:.3f} [{r['pooled_auroc_ci_low']:.3f}, {r['pooled_auroc_ci_high']:.3f}]"
        lines.append(
            f"{r['trait']:<14}{r['model']:<10}{r['class']:<14}{r['n_patients']:>5}{ci:>30}"
            f"{r['pooled_ap']:>7.3f}"
        )
    print("\n".join(lines), flush=True)


def _roc_plot(out: Path, row: dict, y: np.ndarray, probs: np.ndarray, classes: list[str]) -> None:
    from radiogenomics.reporting.plots import roc_plot

    title = (
        f"{row['trait']} / {row['model']}: pooled out-of-fold AUROC {row['pooled_auroc']:.3f} "
        f"[{row['pooled_auroc_ci_low']:.3f}, {row['pooled_auroc_ci_high']:.3f}]"
    )
    roc_plot(out / layout.roc_plot(row), y, probs, classes, title)


def print_table(table: pd.DataFrame, missing: list[str]) -> None:
    """Print the CV summary as a plain-text table (readable in terminals and log files)."""
    lines = ["", "Cross-validation summary (test = held-out folds, each scored once)"]
    header = f"{'trait':<14}{'model':<10}{'boot':<6}{'jobs':>5}{'mean AUROC':>12}{'sd':>7}"
    header += f"{'pooled AUROC [95% CI]':>30}"
    lines.append(header)
    for _, r in table.iterrows():
        ci = f"{r['pooled_auroc']:.3f} [{r['pooled_auroc_ci_low']:.3f}, {r['pooled_auroc_ci_high']:.3f}]"
        lines.append(
            f"{r['trait']:<14}{r['model']:<10}{str(r['bootstrap']):<6}{r['n_jobs']:>5}"
            f"{r['mean_auroc']:>12.3f}{r['sd_auroc']:>7.3f}{ci:>30}"
        )
    if missing:
        lines.append(
            f"{len(missing)} job(s) without {layout.METRICS} (failed or unfinished): {missing}"
        )
    print("\n".join(lines), flush=True)
