"""The cross-validation tables of a sweep: one row per configuration, per CV repeat and per class.

A repeated CV (``repeats=R``) is one configuration whose jobs differ in their split seed. Its
configuration row keeps the single-repeat columns for the first repeat (the split seed
``split_seed`` itself: the same numbers as a single-repeat sweep) and adds ``REPEAT_COLUMNS``
(``n_repeats``, ``repeat_mean_pooled_auroc`` and ``repeat_sd_pooled_auroc``: each repeat's pooled
out-of-fold AUROC, mean and between-repeat sd); the repeat table has one row per repeat. A sweep
without repeats has neither, so its summary is what it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.evaluation.metrics import bootstrap_auroc_ci, prediction_arrays, score
from radiogenomics.evaluation.ordinal import ordinal_score
from radiogenomics.results import layout
from radiogenomics.results.sweep import GROUP_KEYS, REPEAT, REPEAT_KEY, repeat_numbers
from radiogenomics.summaries.ordinal import ordinal_cut, ordinal_pooled
from radiogenomics.summaries.regression import continuous_row, is_continuous_group, scatter_plot

# configuration-row columns of a repeated CV (repeats=R > 1); absent when no configuration repeats
REPEAT_COLUMNS = ["n_repeats", "repeat_mean_pooled_auroc", "repeat_sd_pooled_auroc"]


@dataclass(frozen=True)
class CVTables:
    """A sweep's CV results: configuration rows (classifier, then continuous), repeats, classes."""

    rows: list[dict]  # classifier configurations (REPEAT_COLUMNS only with a repeated CV)
    continuous_rows: list[dict]  # continuous-trait configurations (summaries/regression.py)
    repeats: pd.DataFrame | None  # one row per CV repeat; None without a repeated CV
    per_class: pd.DataFrame | None  # multiclass one-vs-rest rows; None without a multiclass trait

    @property
    def configurations(self) -> list[dict]:
        """Every configuration row: the classifiers', then the continuous traits'."""
        return self.rows + self.continuous_rows

    @property
    def table(self) -> pd.DataFrame:
        """The CV table: one row per configuration."""
        return pd.DataFrame(self.configurations)


def cv_tables(out: Path, metrics: pd.DataFrame, predictions: pd.DataFrame, n_boot: int) -> CVTables:
    """The CV tables of a sweep's jobs (``metrics``, pooled ``predictions``, both grouped by
    ``GROUP_KEYS``), drawing each configuration's ROC or scatter plot under ``out``."""
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
    repeated = not all(r["n_repeats"] == 1 for r in rows)
    if not repeated:  # no repeated CV: the summary as it always was
        rows = [{k: v for k, v in r.items() if k not in REPEAT_COLUMNS} for r in rows]
    return CVTables(
        rows=rows,
        continuous_rows=continuous_rows,
        repeats=pd.DataFrame(repeat_rows) if repeated else None,
        per_class=pd.DataFrame(class_rows) if class_rows else None,
    )


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
