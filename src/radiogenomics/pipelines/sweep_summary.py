"""Sweep summary: read every job's files, run the summaries in order and write ``summary/``.

The jobs come through ``results/sweep`` (``collect``); the CV tables are ``summaries/cv``'s
(``repeats.csv`` only for a repeated CV), each interpreter's pooled tables its registered
summary's; then the AnnData export and the page (``report/page``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from radiogenomics.evaluation.multitest import FDR
from radiogenomics.exports.anndata import export_anndata
from radiogenomics.interpret.associations import MIN_PATIENTS
from radiogenomics.interpreters import SweepJobs, entries
from radiogenomics.report.page import write_sweep_report
from radiogenomics.results import layout
from radiogenomics.results.sweep import GROUP_KEYS, collect, first_repeat, group_frame
from radiogenomics.summaries.cv import cv_tables, print_per_class, print_table
from radiogenomics.summaries.importance_null import null_jobs_mask
from radiogenomics.summaries.ordinal import print_ordinal
from radiogenomics.summaries.regression import print_regression_table
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
    null_jobs = metrics[null_jobs_mask(metrics)]
    for entry in entries():  # the permutation null takes its jobs out of the tables
        if entry.adds_jobs and entry.summary:
            metrics, predictions = entry.resolve("summary")(
                sweep_dir, metrics, predictions, fdr=fdr
            )
    write_folds(out, metrics, null_jobs)
    write_csv(out / layout.PREDICTIONS, predictions)
    # interpretation reads the first CV repeat, where every held-out patient appears once
    first_metrics, first_predictions = first_repeat(metrics), first_repeat(predictions)
    jobs = SweepJobs(sweep_dir, first_metrics, tuple(GROUP_KEYS), fdr, min_patients)
    for entry in entries():  # each a no-op unless some job ran the interpreter
        if not entry.adds_jobs and entry.summary:
            entry.resolve("summary")(jobs)
    export_anndata(sweep_dir, first_metrics, first_predictions)  # predictions_obs.csv, h5ad
    cv = cv_tables(out, metrics, predictions, n_boot)  # ROC and scatter plots beside
    if cv.repeats is not None:
        write_csv(out / layout.REPEATS, cv.repeats)
    table = cv.table
    write_csv(out / layout.CV_SUMMARY, table)
    write_json(
        out / layout.SUMMARY_JSON, {"configurations": cv.configurations, "missing_jobs": missing}
    )
    if cv.rows or not cv.continuous_rows:
        print_table(pd.DataFrame(cv.rows), missing)
        print_ordinal(pd.DataFrame(cv.rows))
    if cv.continuous_rows:
        print_regression_table(pd.DataFrame(cv.continuous_rows))
    if cv.per_class is not None:
        write_csv(out / layout.PER_CLASS, cv.per_class)
        print_per_class(cv.per_class)
    write_sweep_report(sweep_dir)  # summary/report.html and model_card.md
    return table


def write_folds(out: Path, real: pd.DataFrame, null: pd.DataFrame) -> None:
    """``folds.csv``: one row per real job; the permutation-null jobs (left out of it, of
    ``predictions.csv`` and of the CV tables) in ``null_folds.csv``, their count logged."""
    drop = ["classes", "environment", "inputs"]
    write_csv(out / layout.FOLDS, real.drop(columns=drop, errors="ignore"))
    if len(null):
        write_csv(out / layout.NULL_FOLDS, null.drop(columns=drop, errors="ignore"))
        log.info(
            "%d permutation-null jobs (null_permutation set) are not in %s, %s or %s: their "
            "rows are in %s",
            len(null),
            layout.FOLDS,
            layout.PREDICTIONS,
            layout.CV_SUMMARY,
            layout.NULL_FOLDS,
        )


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
