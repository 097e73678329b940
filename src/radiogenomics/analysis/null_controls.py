"""Compare a sweep with its permuted-label twin: how much does the pipeline find in noise?

The twin is the same command with ``trait.permute_labels=true``: labels shuffled within the trait
cohort, so no gene can truly predict them. Per (trait, model, bootstrap) and per stage the report
counts discoveries in both sweeps:

* ``auroc``: pooled out-of-fold AUROC with its 95% CI (the twin should cover 0.5);
* ``masking_<collection>``: masked gene sets with q < alpha (the masking call: competitive and
  self-contained label-permutation tests both at q < alpha);
* ``associations``: radiogenomic associations (see :mod:`radiogenomics.interpret.associations`), and
  ``paper_rule_only``, the paper's ``min_patients`` rule alone, shown for contrast (not judged: it
  has no false-discovery control);
* ``survival_logrank`` / ``survival_cox``: associations whose trait predicts survival, q < alpha.

``allowed`` is a plain reading of Benjamini-Hochberg control for the twin: with m tests and no
true effect, a family gets any discovery with probability <= alpha, so ``max(1, alpha * m)`` false
discoveries is the most a calibrated stage should show; ``within_fdr`` compares the twin with it.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from radiogenomics.evaluation.multitest import FDR
from radiogenomics.results import layout
from radiogenomics.results.sweep import SweepData
from radiogenomics.utils import write_csv

CONFIG_KEYS = ["trait", "model", "bootstrap"]


def load_folds(sweep_dir: Path) -> pd.DataFrame:
    """The per-job table of a summarized sweep (``summary/folds.csv``), with a clear error."""
    folds = SweepData(sweep_dir).folds
    if folds is None:
        raise FileNotFoundError(
            f"{layout.summary_dir(sweep_dir) / layout.FOLDS} not found: run the sweep to the end "
            f"or `python scripts/summarize.py {sweep_dir}` first"
        )
    return folds


def check_twins(real: pd.DataFrame, twin: pd.DataFrame) -> None:
    """Refuse pairs that are not a real sweep and its permuted twin over the same traits/models."""
    if real["permuted_labels"].astype(bool).any():
        raise ValueError("the first sweep has permuted labels: pass the real sweep first")
    if not twin["permuted_labels"].astype(bool).all():
        raise ValueError("the second sweep is not a permuted-label run (trait.permute_labels=true)")
    pairs = [set(map(tuple, t[["trait", "model"]].to_numpy())) for t in (real, twin)]
    if pairs[0] != pairs[1]:
        raise ValueError(
            f"the sweeps cover different (trait, model) pairs: {pairs[0]} vs {pairs[1]}"
        )


def allowed(n_tests: int, alpha: float) -> float:
    """False discoveries a BH-calibrated stage may show on null data (see the module doc)."""
    return max(1.0, alpha * n_tests) if n_tests else 0.0


def stage_counts(sweep_dir: Path, alpha: float) -> pd.DataFrame:
    """Per configuration and stage: number of tests and of discoveries in one sweep."""
    sweep = SweepData(sweep_dir)
    frames = []
    cv = sweep.summary_table(layout.CV_SUMMARY)
    if cv is not None:
        frames.append(
            cv.assign(
                stage="auroc",
                n_tests=1,
                n_found=(cv["pooled_auroc_ci_low"] > 0.5).astype(int),
                value=cv.apply(
                    lambda r: (
                        f"{r.pooled_auroc:.3f} [{r.pooled_auroc_ci_low:.3f}, "
                        f"{r.pooled_auroc_ci_high:.3f}]"
                    ),
                    axis=1,
                ),
            )
        )
    for label, table in sweep.masking_tables().items():
        if "q" not in table:  # single genes carry no q-value
            continue
        frames.append(_count(table, Path(layout.masking_table(label)).stem, table["q"] < alpha))
    assoc = sweep.summary_table(layout.ASSOCIATIONS)
    if assoc is not None:
        frames.append(_count(assoc, "associations", assoc["association"].astype(bool)))
        frames.append(_count(assoc, "paper_rule_only", assoc["paper_rule"].astype(bool)))
    survival = sweep.survival
    if survival is not None:  # skipped pairs (too few patients or events) are not tests
        for column in ("logrank_q", "cox_q"):
            stage = f"survival_{column.removesuffix('_q')}"
            if survival.empty and cv is not None:  # no association to test: zero tests
                frames.append(cv.assign(stage=stage, n_tests=0, n_found=0))
                continue
            tested = survival["status"] == "tested"
            frames.append(_count(survival, stage, tested & (survival[column] < alpha), tested))
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    table["bootstrap"] = table["bootstrap"].fillna("none").astype(str)
    columns = [*CONFIG_KEYS, "stage", "n_tests", "n_found"]
    table = table[columns + (["value"] if "value" in table else [])]
    if "value" in table:
        table["value"] = table["value"].fillna("")
    return table.groupby([*CONFIG_KEYS, "stage"], as_index=False, sort=False).agg(
        n_tests=("n_tests", "sum"),
        n_found=("n_found", "sum"),
        **({"value": ("value", "first")} if "value" in table else {}),
    )


def null_report(real_dir: Path, twin_dir: Path, alpha: float = FDR) -> pd.DataFrame:
    """One row per (trait, model, bootstrap, stage): discoveries in the real sweep and the twin."""
    check_twins(load_folds(real_dir), load_folds(twin_dir))
    real, twin = stage_counts(real_dir, alpha), stage_counts(twin_dir, alpha)
    keys = [*CONFIG_KEYS, "stage"]
    table = real.merge(twin, on=keys, how="outer", suffixes=("_real", "_permuted"), sort=False)
    table["allowed_permuted"] = [
        allowed(int(n), alpha) if pd.notna(n) else math.nan for n in table["n_tests_permuted"]
    ]
    table["within_fdr"] = table["n_found_permuted"] <= table["allowed_permuted"]
    auroc = table["stage"] == "auroc"  # for AUROC, "found" = CI above 0.5: one test, allow none
    table.loc[auroc, "allowed_permuted"] = 0.0
    table.loc[auroc, "within_fdr"] = table.loc[auroc, "n_found_permuted"] == 0
    order = table["stage"].map(_stage_rank)
    table = table.iloc[order.argsort(kind="stable")].reset_index(drop=True)
    reference = table["stage"] == "paper_rule_only"  # shown for contrast, not FDR-controlled
    table["within_fdr"] = table["within_fdr"].astype(object)
    table.loc[reference, ["allowed_permuted", "within_fdr"]] = [math.nan, None]
    return table


def write_report(table: pd.DataFrame, out_dir: Path) -> Path:
    """Write ``null_report.csv`` under ``out_dir``."""
    return write_csv(Path(out_dir) / layout.NULL_REPORT, table)


def _stage_rank(stage: str) -> int:
    """Pipeline order: AUROC, masking, associations (then the paper's rule), survival."""
    prefixes = ("auroc", "masking_", "associations", "paper_rule_only", "survival_")
    return next(k for k, p in enumerate(prefixes) if stage.startswith(p))


def _count(
    table: pd.DataFrame, stage: str, found: pd.Series, tested: pd.Series | None = None
) -> pd.DataFrame:
    """Per row of ``table``: whether it is a test (default: every row) and whether ``found``."""
    counted = table.assign(
        bootstrap=table["bootstrap"] if "bootstrap" in table else "none",
        stage=stage,
        n_tests=1 if tested is None else tested.astype(int).to_numpy(),
        n_found=found.astype(int).to_numpy(),
    )
    return counted[[*CONFIG_KEYS, "stage", "n_tests", "n_found"]]
