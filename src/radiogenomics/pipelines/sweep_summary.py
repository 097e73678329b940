"""Sweep summary: read every job's files and write per-fold, CV and pooled out-of-fold results.

A repeated CV (``repeats=R``) is one configuration whose jobs differ in their split seed. Its
``cv_summary.csv`` row keeps the single-repeat columns for the first repeat (the split seed
``split_seed`` itself: the same numbers as a single-repeat sweep) and adds ``n_repeats``,
``repeat_mean_pooled_auroc`` and ``repeat_sd_pooled_auroc`` (each repeat's pooled out-of-fold
AUROC, mean and between-repeat sd); ``repeats.csv`` has one row per repeat. A sweep without
repeats writes neither, so its summary is what it was.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.evaluation.metrics import bootstrap_auroc_ci, prediction_arrays, score
from radiogenomics.evaluation.multitest import FDR
from radiogenomics.evaluation.ordinal import ordinal_score
from radiogenomics.exports.anndata import export_anndata
from radiogenomics.interpret.associations import MIN_PATIENTS
from radiogenomics.interpreters import SweepJobs, entries
from radiogenomics.report.page import write_sweep_report
from radiogenomics.results import layout
from radiogenomics.results.sweep import (
    GROUP_KEYS,
    REPEAT,
    REPEAT_KEY,
    collect,
    first_repeat,
    group_frame,
    repeat_numbers,
)
from radiogenomics.summaries.importance_null import null_jobs_mask
from radiogenomics.summaries.ordinal import ordinal_cut, ordinal_pooled, print_ordinal
from radiogenomics.summaries.regression import (
    continuous_row,
    is_continuous_group,
    print_regression_table,
    scatter_plot,
)
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
    metrics = metrics.assign(**{REPEAT: repeat_numbers(metrics)})
    predictions = predictions.assign(**{REPEAT: repeat_numbers(predictions)})
    rows, class_rows, repeat_rows, continuous_rows = [], [], [], []
    predictions_of = dict(list(predictions.groupby(GROUP_KEYS, sort=False)))
    for key, group in metrics.groupby(GROUP_KEYS, sort=True):
        config = dict(zip(GROUP_KEYS, key, strict=True))
        classes = list(group["classes"].iloc[0])
        pooled = predictions_of[key]
        if is_continuous_group(classes):  # R², Spearman, MAE (summaries/regression.py)
            row = continuous_row(config, group, pooled, n_boot, REPEAT)
            continuous_rows.append(row)
            scatter_plot(out, row, pooled[pooled[REPEAT] == 0])
            continue
        repeats = [
            repeat_row(config, part, pooled[pooled[REPEAT] == r], classes)
            for r, part in group.groupby(REPEAT, sort=True)
        ]
        first, pooled = group[group[REPEAT] == 0], pooled[pooled[REPEAT] == 0]
        y, probs = prediction_arrays(pooled, classes)
        ordinal, cut = ordinal_cut(group)
        if ordinal:  # pooled_auroc: the mean cumulative AUROC; the paper's cut beside it
            pooled_scores, (lo, hi), ordinal_ci = ordinal_pooled(y, probs, cut, n_boot)
        else:
            pooled_scores, ordinal_ci = score(y, probs, classes), {}
            lo, hi = bootstrap_auroc_ci(y, probs, n_boot=n_boot)
        n_folds = int(group["n_folds"].iloc[0])
        row = dict(config)
        row.update(
            n_jobs=len(group),
            n_folds=n_folds,
            folds_complete=all(r["folds_complete"] for r in repeats),
            n_patients=len(pooled),
            mean_auroc=float(first["test_auroc"].mean()),
            sd_auroc=float(first["test_auroc"].std(ddof=1)) if len(first) > 1 else float("nan"),
            pooled_auroc=pooled_scores["auroc"],
            pooled_auroc_ci_low=lo,
            pooled_auroc_ci_high=hi,
            pooled_ap=pooled_scores["ap"],
            mean_val_auroc=float(first["val_auroc"].mean()),
            **{f"pooled_{k}": v for k, v in pooled_scores.items() if k not in ("auroc", "ap")},
            **ordinal_ci,
            **repeat_summary(repeats),
        )
        rows.append(row)
        repeat_rows += repeats
        if len(classes) > 2 and not ordinal:
            class_rows += per_class_rows(config, first, y, probs, classes, n_boot)
        _roc_plot(out, row, y, probs, classes)
    if all(r["n_repeats"] == 1 for r in rows):  # no repeated CV: the summary as it always was
        rows = [{k: v for k, v in r.items() if k not in REPEAT_COLUMNS} for r in rows]
    else:
        write_csv(out / layout.REPEATS, pd.DataFrame(repeat_rows))
    table = pd.DataFrame(rows + continuous_rows)
    write_csv(out / layout.CV_SUMMARY, table)
    configurations = rows + continuous_rows
    write_json(
        out / layout.SUMMARY_JSON, {"configurations": configurations, "missing_jobs": missing}
    )
    if rows or not continuous_rows:
        print_table(pd.DataFrame(rows), missing)
        print_ordinal(pd.DataFrame(rows))
    if continuous_rows:
        print_regression_table(pd.DataFrame(continuous_rows))
    if class_rows:
        per_class = pd.DataFrame(class_rows)
        write_csv(out / layout.PER_CLASS, per_class)
        print_per_class(per_class)
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


# cv_summary.csv columns of a repeated CV (repeats=R > 1); absent when no configuration repeats
REPEAT_COLUMNS = ["n_repeats", "repeat_mean_pooled_auroc", "repeat_sd_pooled_auroc"]


def repeat_row(config: dict, jobs: pd.DataFrame, pooled: pd.DataFrame, classes: list[str]) -> dict:
    """One CV repeat of a configuration: its fold AUROCs and its pooled out-of-fold AUROC and AP."""
    y, probs = prediction_arrays(pooled, classes)
    ordinal, cut = ordinal_cut(jobs)
    scores = ordinal_score(y, probs, cut) if ordinal else score(y, probs, classes)
    n_folds = int(jobs["n_folds"].iloc[0])
    seed = jobs[REPEAT_KEY].iloc[0] if REPEAT_KEY in jobs else None  # hand-made job files
    return {
        **config,
        REPEAT: int(jobs[REPEAT].iloc[0]),
        REPEAT_KEY: None if pd.isna(seed) else int(seed),
        "n_jobs": len(jobs),
        "folds_complete": jobs["fold"].nunique() == n_folds,
        "n_patients": len(pooled),
        "mean_auroc": float(jobs["test_auroc"].mean()),
        "sd_auroc": float(jobs["test_auroc"].std(ddof=1)) if len(jobs) > 1 else float("nan"),
        "pooled_auroc": scores["auroc"],
        "pooled_ap": scores["ap"],
    }


def repeat_summary(repeats: list[dict]) -> dict:
    """``REPEAT_COLUMNS``: the number of repeats, mean and between-repeat sd of pooled AUROC."""
    values = np.array([r["pooled_auroc"] for r in repeats], dtype=float)
    sd = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
    return dict(zip(REPEAT_COLUMNS, (len(values), float(values.mean()), sd), strict=True))


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
        f"{'trait':<14}{'model':<14}{'class':<14}{'n':>5}{'pooled AUROC [95% CI]':>30}{'AP':>7}"
    )
    for _, r in per_class.iterrows():
        ci = f"{r['pooled_auroc']:.3f} [{r['pooled_auroc_ci_low']:.3f}, {r['pooled_auroc_ci_high']:.3f}]"
        lines.append(
            f"{r['trait']:<14}{r['model']:<14}{r['class']:<14}{r['n_patients']:>5}{ci:>30}"
            f"{r['pooled_ap']:>7.3f}"
        )
    print("\n".join(lines), flush=True)


def _roc_plot(out: Path, row: dict, y: np.ndarray, probs: np.ndarray, classes: list[str]) -> None:
    from radiogenomics.figures.plots import roc_plot

    title = (
        f"{row['trait']} / {row['model']}: pooled out-of-fold AUROC {row['pooled_auroc']:.3f} "
        f"[{row['pooled_auroc_ci_low']:.3f}, {row['pooled_auroc_ci_high']:.3f}]"
    )
    if row["n_repeats"] > 1:
        title += (
            f"\n(repeat 0; over {row['n_repeats']} repeats "
            f"{row['repeat_mean_pooled_auroc']:.3f} ± {row['repeat_sd_pooled_auroc']:.3f})"
        )
    roc_plot(out / layout.roc_plot(row), y, probs, classes, title)


def print_table(table: pd.DataFrame, missing: list[str]) -> None:
    """Print the CV summary as a plain-text table (readable in terminals and log files)."""
    repeated = "n_repeats" in table.columns
    lines = ["", "Cross-validation summary (test = held-out folds, each scored once)"]
    header = f"{'trait':<14}{'model':<14}{'boot':<6}{'jobs':>5}{'mean AUROC':>12}{'sd':>7}"
    header += f"{'pooled AUROC [95% CI]':>30}"
    header += f"{'reps':>6}{'pooled mean ± sd over reps':>28}" if repeated else ""
    lines.append(header)
    for _, r in table.iterrows():
        ci = f"{r['pooled_auroc']:.3f} [{r['pooled_auroc_ci_low']:.3f}, {r['pooled_auroc_ci_high']:.3f}]"
        line = (
            f"{r['trait']:<14}{r['model']:<14}{str(r['bootstrap']):<6}{r['n_jobs']:>5}"
            f"{r['mean_auroc']:>12.3f}{r['sd_auroc']:>7.3f}{ci:>30}"
        )
        if repeated:
            spread = f"{r['repeat_mean_pooled_auroc']:.3f} ± {r['repeat_sd_pooled_auroc']:.3f}"
            line += f"{r['n_repeats']:>6}{spread:>28}"
        lines.append(line)
    if repeated:
        lines.append(
            "repeated CV: mean AUROC, sd and pooled AUROC [95% CI] are the first repeat's "
            f"(split_seed); every repeat in {layout.SUMMARY_DIR}/{layout.REPEATS}"
        )
    if missing:
        lines.append(
            f"{len(missing)} job(s) without {layout.METRICS} (failed or unfinished): {missing}"
        )
    print("\n".join(lines), flush=True)
