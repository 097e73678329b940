"""Radiogenomic traits and associations from per-patient GSEA of gene attributions.

A gene set enriched (FDR < ``fdr``) in a patient's attribution ranking is a *radiogenomic trait* of
that patient; a (trait, collection, set) enriched in at least ``min_patients`` patients is a
cohort-level *radiogenomic association* (the paper's definition, with the paper's 0.05 and 5).

Input: a long per-patient GSEA table with columns ``patient_id, y_true, class`` (the attributed
output class: the positive class of a binary trait, each class of a multiclass one),
``collection, set, nes, fdr``. Rows per (class, collection, set) in the association table:

* ``n_patients``, ``n_enriched``, ``share_enriched`` and the same split by direction
  (``_pos``: NES > 0, the set among genes that raise the class logit; ``_neg``: NES < 0);
* ``mean_nes`` over all patients and ``mean_nes_enriched`` over the enriched ones;
* ``n_target``/``n_enriched_target``/``share_enriched_target``: patients whose true class is the
  attributed class, and ``..._other`` for the rest;
* ``fisher_p``: two-sided Fisher exact test of enrichment in target vs other patients, and
  ``fisher_q`` (BH within class and collection);
* ``association``: ``n_enriched >= min_patients``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, fisher_exact

KEYS = ["class", "collection", "set"]


def trait_matrices(gsea: pd.DataFrame, fdr: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(NES, enriched flags): patients as rows, (class, collection, set) as columns.

    A set gseapy left out for a patient (size limits) is NaN in NES and False in the flags.
    """
    table = gsea.assign(enriched=gsea["fdr"] < fdr)
    nes = table.pivot_table(index="patient_id", columns=KEYS, values="nes", aggfunc="first")
    enriched = table.pivot_table(
        index="patient_id", columns=KEYS, values="enriched", aggfunc="first"
    )
    return nes, enriched.reindex_like(nes).fillna(False).astype(bool)


def associations(
    gsea: pd.DataFrame,
    class_names: Sequence[str],
    fdr: float = 0.05,
    min_patients: int = 5,
) -> pd.DataFrame:
    """Association table per (class, collection, set), sorted by ``n_enriched`` (see module doc)."""
    if min_patients < 1 or not 0 < fdr <= 1:
        raise ValueError("min_patients must be >= 1 and fdr in (0, 1]")
    missing = {"patient_id", "y_true", "nes", "fdr", *KEYS} - set(gsea.columns)
    if missing:
        raise ValueError(f"the GSEA table lacks column(s) {sorted(missing)}")
    position = {str(c): k for k, c in enumerate(class_names)}
    unknown = set(gsea["class"].astype(str)) - set(position)
    if unknown:
        raise ValueError(f"attributed class(es) {sorted(unknown)} not in {list(class_names)}")
    table = gsea.assign(
        enriched=gsea["fdr"] < fdr,
        target=gsea["y_true"].to_numpy() == gsea["class"].astype(str).map(position).to_numpy(),
    )
    table = table.assign(
        enriched_pos=table["enriched"] & (table["nes"] > 0),
        enriched_neg=table["enriched"] & (table["nes"] < 0),
        enriched_target=table["enriched"] & table["target"],
        enriched_nes=table["nes"].where(table["enriched"]),
    )
    grouped = table.groupby(KEYS, sort=True)
    out = grouped.agg(
        n_patients=("patient_id", "size"),
        n_enriched=("enriched", "sum"),
        n_enriched_pos=("enriched_pos", "sum"),
        n_enriched_neg=("enriched_neg", "sum"),
        mean_nes=("nes", "mean"),
        mean_nes_enriched=("enriched_nes", "mean"),
        n_target=("target", "sum"),
        n_enriched_target=("enriched_target", "sum"),
    ).reset_index()
    for column in ("enriched", "enriched_pos", "enriched_neg"):
        out[f"share_{column}"] = out[f"n_{column}"] / out["n_patients"]
    out["n_other"] = out["n_patients"] - out["n_target"]
    out["n_enriched_other"] = out["n_enriched"] - out["n_enriched_target"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share_enriched_target"] = out["n_enriched_target"] / out["n_target"]
        out["share_enriched_other"] = out["n_enriched_other"] / out["n_other"]
    out["fisher_p"] = [
        fisher_exact([[a, n - a], [b, m - b]])[1]
        for a, n, b, m in out[
            ["n_enriched_target", "n_target", "n_enriched_other", "n_other"]
        ].itertuples(index=False)
    ]
    out["fisher_q"] = out.groupby(["class", "collection"])["fisher_p"].transform(
        lambda p: false_discovery_control(p.to_numpy(), method="bh")
    )
    out["association"] = out["n_enriched"] >= min_patients
    return out.sort_values(
        ["class", "collection", "n_enriched", "set"],
        ascending=[True, True, False, True],
        kind="stable",
    ).reset_index(drop=True)
