"""Is the masking call calibrated? Many permuted-label twins of one sweep, counted.

Each twin is the real command with ``trait.permute_labels=true`` and its own
``trait.permute_seed``; run together as one sweep, every twin is one configuration of it. No set
can truly predict shuffled labels, so a calibrated call (``q`` below ``alpha``) should give any
discovery in at most a share ``alpha`` of the twins (Benjamini-Hochberg controls the
family-wise error when every hypothesis is null). :func:`calibration_table` counts, per twin and
per test, the sets called; :func:`calibration_summary` gives the share of twins with any call and
the real sweep's calls; :func:`calibration_figure` draws each twin's smallest q per test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from radiogenomics.evaluation.multitest import FDR
from radiogenomics.interpreters import writing
from radiogenomics.results import layout
from radiogenomics.results.sweep import SweepData, job_overrides

# the call and its two parts, then the gene-sampling comparison that ignores gene correlation
TESTS = ("q", "competitive_q", "self_contained_q", "empirical_q", "tail_q")


def _masking_table(sweep_dir: Path, collection: str) -> pd.DataFrame:
    table = SweepData(sweep_dir).summary_table(layout.masking_table(collection))
    if table is None:
        path = layout.summary_dir(sweep_dir) / layout.masking_table(collection)
        raise FileNotFoundError(
            f"{path} not found: run the sweep with +interpret={writing(layout.MASKING_DIR).name} "
            f"and collection {collection!r}"
        )
    return table


def _permute_seeds(sweep_dir: Path) -> dict[str, str]:
    """config_hash -> the twin's trait.permute_seed override (when the sweep set one)."""
    sweep, seeds = SweepData(sweep_dir), {}
    for job, metrics in zip(sweep.jobs, sweep.job_metrics, strict=True):
        for override in job_overrides(job):
            if override.startswith("trait.permute_seed="):
                seeds.setdefault(str(metrics.get("config_hash")), override.split("=", 1)[1])
    return seeds


def calibration_table(
    sweep_dir: str | Path, collection: str = "hallmark", alpha: float = FDR
) -> pd.DataFrame:
    """Per configuration of a sweep: sets tested, sets called and the smallest q of each test."""
    sweep_dir = Path(sweep_dir)
    table = _masking_table(sweep_dir, collection)
    seeds = _permute_seeds(sweep_dir)
    rows = []
    for (trait, model, config_hash), group in table.groupby(
        ["trait", "model", "config_hash"], sort=True
    ):
        row = {
            "trait": trait,
            "model": model,
            "config_hash": config_hash,
            "permute_seed": seeds.get(str(config_hash), ""),
            "n_sets": len(group),
        }
        for test in TESTS:
            if test in group:
                q = group[test].to_numpy(dtype=float)
                row[f"n_called_{test}"] = int(np.sum(q < alpha))
                row[f"min_{test}"] = float(np.nanmin(q)) if np.isfinite(q).any() else np.nan
                called = group.loc[q < alpha, "set"].tolist()
                row[f"called_{test}"] = ";".join(map(str, called))
        rows.append(row)
    return pd.DataFrame(rows)


def calibration_summary(
    twins: pd.DataFrame, real: pd.DataFrame | None, alpha: float = FDR
) -> pd.DataFrame:
    """Per test: twins with any call (and the allowed number), and the real sweep's calls."""
    rows = []
    allowed = int(np.floor(alpha * len(twins))) or 1
    for test in TESTS:
        column = f"n_called_{test}"
        if column not in twins:
            continue
        row = {
            "test": test,
            "n_twins": len(twins),
            "twins_with_any_call": int((twins[column] > 0).sum()),
            "allowed": allowed,
            "false_calls_total": int(twins[column].sum()),
        }
        row["calibrated"] = row["twins_with_any_call"] <= allowed
        if real is not None and not real.empty:
            row["real_calls"] = int(real[column].sum())
            row["real_called_sets"] = ";".join(real[f"called_{test}"].dropna().astype(str))
        rows.append(row)
    return pd.DataFrame(rows)


def set_q(sweep_dir: str | Path, collection: str, set_name: str) -> dict[str, float]:
    """The q of every test for one set in a sweep's pooled table (first configuration)."""
    table = _masking_table(Path(sweep_dir), collection)
    hit = table[table["set"] == set_name]
    if hit.empty:
        raise ValueError(f"set {set_name!r} is not in the {collection!r} masking table")
    first = hit.iloc[0]
    return {test: float(first[test]) for test in (*TESTS, "auroc") if test in hit}
