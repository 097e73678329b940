"""Stability selection of genes and sets over bootstrap replicates (Meinshausen & Buhlmann 2010).

A bootstrap sweep (``bootstrap=range(0,B)``) gives, per replicate, the pooled importances of its
summary: masking AUROC and discrimination slope per set (``masking_<collection>.csv``) and per
gene (``masking_single_genes.csv``), and the NES of the mean attribution per set
(``cohort_gsea.csv``). For every importance an item is *selected* in a replicate when it is among
the replicate's top ``k`` (by value; NES by absolute value); its selection frequency is the share of
replicates selecting it (``k`` at most half the items, so that a small collection is not
selected whole). Items with frequency >= ``threshold`` are stable. The Meinshausen-Buhlmann
bound on the expected number of falsely selected items at that threshold is

    E[V] <= k^2 / ((2 * threshold - 1) * p)

for ``p`` items and ``k`` selected per replicate (threshold > 0.5). It assumes the noise items are
exchangeable and the selection is no worse than random guessing; it was proved for subsamples of
half the data and is used here with the bootstrap replicates, a common approximation.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from radiogenomics.results import layout
from radiogenomics.results.sweep import SweepData

THRESHOLD = 0.9
TOP_SETS = 5
TOP_GENES = 100


def mb_bound(k: int, p: int, threshold: float) -> float:
    """Meinshausen-Buhlmann bound on expected false selections: k^2 / ((2 threshold - 1) p)."""
    if not 0.5 < threshold <= 1:
        raise ValueError(f"threshold must be in (0.5, 1], got {threshold}")
    if p < 1:
        return float("nan")
    return k * k / ((2 * threshold - 1) * p)


def selection_frequency(values: pd.DataFrame, k: int, by_absolute: bool = False) -> pd.Series:
    """Share of replicates (columns) in which each item (row) is among the top ``k``."""
    ranked = values.abs() if by_absolute else values
    top = ranked.rank(ascending=False, method="first") <= k
    top = top & values.notna()
    return top.sum(axis=1) / values.shape[1]


def replicate_tables(sweep_dir: str | Path) -> dict[tuple[str, str, str], pd.DataFrame]:
    """{(unit, importance, collection): items x replicates} from a bootstrap sweep's summary."""
    sweep = SweepData(sweep_dir)
    tables = {}
    for label, frame in sweep.masking_tables().items():
        unit = "gene" if label == layout.SINGLE_GENES else "set"
        if {"bootstrap", "auroc", unit} - set(frame.columns) or label == layout.CONTROLS:
            continue  # e.g. masking_control_fit.csv
        frame = frame[frame["bootstrap"].astype(str) != "none"]
        collection = "" if unit == "gene" else label
        for column in ("auroc", "slope"):  # slope: discrimination slope (newer tables)
            if len(frame) and column in frame:
                tables[unit, f"masking_{column}", collection] = frame.pivot_table(
                    index=unit, columns="bootstrap", values=column
                )
    frame = sweep.summary_table(layout.COHORT_GSEA)
    if frame is not None and not frame.empty:
        frame = frame[frame["bootstrap"].astype(str) != "none"]
        for (collection, cls), part in frame.groupby(["collection", "class"], sort=True):
            tables["set", f"saliency_nes_{cls}", str(collection)] = part.pivot_table(
                index="set", columns="bootstrap", values="nes"
            )
    return tables


def stability_selection(
    sweep_dir: str | Path,
    threshold: float = THRESHOLD,
    top_sets: int = TOP_SETS,
    top_genes: int = TOP_GENES,
) -> tuple[pd.DataFrame, list[dict]]:
    """(per item and importance: frequency and selection, per importance: replicates and bound)."""
    tables = replicate_tables(sweep_dir)
    if not tables:
        raise ValueError(
            f"{sweep_dir}: no bootstrap replicates with masking or saliency tables in "
            f"{layout.SUMMARY_DIR}/ (run with 'bootstrap=range(0,B)' and +interpret=...)"
        )
    rows, report = [], []
    for (unit, importance, collection), values in tables.items():
        k = top_genes if unit == "gene" else top_sets
        k = max(1, min(k, len(values) // 2))  # top 4 of 4 sets would select everything
        freq = selection_frequency(values, k, by_absolute=importance.startswith("saliency_nes"))
        frame = pd.DataFrame(
            {
                "unit": unit,
                "importance": importance,
                "collection": collection,
                "item": freq.index.astype(str),
                "frequency": freq.to_numpy(),
                "mean_value": values.mean(axis=1).to_numpy(),
                "selected": freq.to_numpy() >= threshold,
            }
        )
        rows.append(frame.sort_values("frequency", ascending=False, kind="stable"))
        report.append(
            {
                "unit": unit,
                "importance": importance,
                "collection": collection,
                "n_replicates": int(values.shape[1]),
                "n_items": int(len(values)),
                "top_k": int(k),
                "threshold": threshold,
                "n_selected": int(frame["selected"].sum()),
                "selected": frame.loc[frame["selected"], "item"].tolist()[:20],
                "expected_false_selections_bound": mb_bound(k, len(values), threshold),
            }
        )
    return pd.concat(rows, ignore_index=True), report
