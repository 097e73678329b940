"""Sweep summary: read every job's files and write per-fold, CV and pooled out-of-fold results."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.reporting.masking_summary import summarize_masking
from radiogenomics.reporting.metrics import bootstrap_auroc_ci, prediction_arrays, score
from radiogenomics.reporting.saliency_summary import summarize_saliency
from radiogenomics.reporting.sweep_jobs import never_started
from radiogenomics.utils import write_csv, write_json

log = logging.getLogger(__name__)

GROUP_KEYS = ["trait", "model", "config_hash", "bootstrap"]


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Job directories of a sweep: those Hydra started (``.hydra/``) or that hold ``metrics.json``."""
    found = {p.parent.parent for p in sweep_dir.glob("**/.hydra/overrides.yaml")}
    found |= {p.parent for p in sweep_dir.glob("**/metrics.json")}
    return sorted(
        d for d in found if "summary" not in d.relative_to(sweep_dir).parts and d != sweep_dir
    )


def collect(sweep_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(per-job metrics, pooled predictions, jobs without metrics.json: started or never run)."""
    sweep_dir = Path(sweep_dir)
    rows, preds, missing = [], [], []
    started = job_dirs(sweep_dir)
    for d in started:
        metrics_file = d / "metrics.json"
        if not metrics_file.exists():
            missing.append(str(d.relative_to(sweep_dir)))
            continue
        m = json.loads(metrics_file.read_text())
        m["job"] = str(d.relative_to(sweep_dir))
        rows.append(m)
        p = pd.read_csv(d / "predictions.csv")
        for key in GROUP_KEYS:
            p[key] = m.get(key)
        preds.append(p)
    missing += never_started(sweep_dir, started)  # e.g. the rest of a killed sweep
    metrics = pd.DataFrame(rows)
    predictions = pd.concat(preds, ignore_index=True) if preds else pd.DataFrame()
    return metrics, predictions, missing


def group_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose ``bootstrap`` is "none" for plain CV, so it can key a groupby."""
    df = df.copy()
    df["bootstrap"] = df["bootstrap"].astype(object).where(df["bootstrap"].notna(), "none")
    return df


def summarize(
    sweep_dir: str | Path, n_boot: int = 2000, fdr: float = 0.05, min_patients: int = 5
) -> pd.DataFrame:
    """Write ``summary/`` for a sweep and return the CV table (one row per configuration).

    ``fdr`` and ``min_patients`` define radiogenomic traits and associations (gene saliency).
    """
    sweep_dir = Path(sweep_dir)
    out = sweep_dir / "summary"
    metrics, predictions, missing = collect(sweep_dir)
    write_json(out / "missing_jobs.json", {"n_missing": len(missing), "jobs": missing})
    if metrics.empty:
        log.warning(
            "no completed jobs in %s (%d started without metrics.json)", sweep_dir, len(missing)
        )
        return pd.DataFrame()
    metrics, predictions = group_frame(metrics), group_frame(predictions)
    write_csv(out / "folds.csv", metrics.drop(columns=["classes"], errors="ignore"))
    write_csv(out / "predictions.csv", predictions)
    summarize_masking(sweep_dir, metrics, GROUP_KEYS)  # no-op unless jobs ran gene masking
    # no-op unless jobs ran gene saliency
    summarize_saliency(sweep_dir, metrics, GROUP_KEYS, fdr=fdr, min_patients=min_patients)
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
    write_csv(out / "cv_summary.csv", table)
    write_json(out / "summary.json", {"configurations": rows, "missing_jobs": missing})
    print_table(table, missing)
    if class_rows:
        per_class = pd.DataFrame(class_rows)
        write_csv(out / "per_class.csv", per_class)
        print_per_class(per_class)
    return table


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

    name = f"roc_{row['trait']}_{row['model']}_{row['config_hash']}"
    if row["bootstrap"] != "none":
        name += f"_b{row['bootstrap']}"
    title = (
        f"{row['trait']} / {row['model']}: pooled out-of-fold AUROC {row['pooled_auroc']:.3f} "
        f"[{row['pooled_auroc_ci_low']:.3f}, {row['pooled_auroc_ci_high']:.3f}]"
    )
    roc_plot(out / f"{name}.png", y, probs, classes, title)


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
            f"{len(missing)} job(s) without metrics.json (failed or unfinished): {missing}"
        )
    print("\n".join(lines), flush=True)
