"""Radiogenomic traits and associations from per-patient GSEA of gene attributions.

A gene set enriched (FDR < ``fdr``) with positive NES in a patient's attribution ranking is a
*radiogenomic trait* of that patient (the set is among the genes that raise the network's belief in
the attributed class). The paper keeps a (trait, set) pair enriched in at least ``min_patients``
patients as a cohort-level *radiogenomic association*. That rule alone is not null-calibrated: an
attribution ranking reflects what the network is sensitive to, and a network trained on permuted
labels is sensitive to co-expressed gene programs too, so the rule fires on noise. We therefore
call a pair an ``association`` when it passes the paper's rule AND the set's NES is higher in
patients of the attributed class than in the others (one-sided Mann-Whitney U on held-out
patients, BH within class and collection). Held-out labels are independent of the attributions
under permuted labels, so this test keeps its false discovery rate there.

Input: a long per-patient GSEA table with columns ``patient_id, y_true, class`` (the attributed
output class: the positive class of a binary trait, each class of a multiclass one),
``collection, set, nes, fdr``. Rows per (class, collection, set) in the association table:

* ``n_patients``, ``n_enriched``, ``share_enriched`` and the same split by direction
  (``_pos``: NES > 0, the set among genes that raise the class logit; ``_neg``: NES < 0);
* ``mean_nes`` over all patients and ``mean_nes_enriched`` over the enriched ones;
* ``n_target``/``n_enriched_target``/``share_enriched_target``: patients whose true class is the
  attributed class, and ``..._other`` for the rest; ``mean_nes_target``/``mean_nes_other``;
* ``class_auc``: probability that a target patient's NES exceeds an other patient's (0.5: no
  difference), ``class_p`` its one-sided Mann-Whitney p and ``class_q`` (BH within class and
  collection);
* ``paper_rule``: ``n_enriched_pos >= min_patients``;
* a continuous trait (no ``class_names``; the attributed output is the predicted value,
  ``class`` ``y_pred``): the target patients are those above the median true value, so
  ``class_auc``/``class_p`` ask whether the set's NES is higher where the trait is high;
* ``association``: ``paper_rule`` and ``class_q < fdr``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from radiogenomics.evaluation.multitest import FDR, bh_qvalues
from radiogenomics.interpret.saliency import EXPECTED_LEVEL

KEYS = ["class", "collection", "set"]
# The paper's rule: an association needs its trait in at least this many held-out patients. A
# sweep's summary takes the value from its config (``thresholds.min_patients``); functions and
# scripts default to this one.
MIN_PATIENTS = 5
DIRECTIONS = ("pos", "neg", "any")  # NES sign of an enriched set


def enriched_flags(traits: pd.DataFrame, fdr: float, direction: str) -> pd.Series:
    """A patient's radiogenomic trait: set FDR < ``fdr`` and NES of the chosen sign (``pos``: the
    paper's positive enrichment)."""
    sign = {"pos": traits["nes"] > 0, "neg": traits["nes"] < 0, "any": traits["nes"].notna()}
    return (traits["fdr"] < fdr) & sign[direction]


def trait_matrices(gsea: pd.DataFrame, fdr: float = FDR) -> tuple[pd.DataFrame, pd.DataFrame]:
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
    fdr: float = FDR,
    min_patients: int = MIN_PATIENTS,
) -> pd.DataFrame:
    """Association table per (class, collection, set), sorted by ``n_enriched`` (see module doc)."""
    if min_patients < 1 or not 0 < fdr <= 1:
        raise ValueError("min_patients must be >= 1 and fdr in (0, 1]")
    missing = {"patient_id", "y_true", "nes", "fdr", *KEYS} - set(gsea.columns)
    if missing:
        raise ValueError(f"the GSEA table lacks column(s) {sorted(missing)}")
    position = {str(c): k for k, c in enumerate(class_names)}
    position[EXPECTED_LEVEL] = len(class_names) - 1  # ordinal: its target, the highest level
    unknown = set(gsea["class"].astype(str)) - set(position)
    if unknown and class_names:
        raise ValueError(f"attributed class(es) {sorted(unknown)} not in {list(class_names)}")
    if class_names:
        target = gsea["y_true"].to_numpy() == gsea["class"].astype(str).map(position).to_numpy()
    else:  # a continuous trait: patients above the median true value
        values = gsea.drop_duplicates("patient_id")["y_true"].astype(float)
        target = gsea["y_true"].astype(float).to_numpy() > float(values.median())
    table = gsea.assign(
        enriched=enriched_flags(gsea, fdr, "any"),
        enriched_pos=enriched_flags(gsea, fdr, "pos"),
        enriched_neg=enriched_flags(gsea, fdr, "neg"),
        target=target,
    )
    table = table.assign(
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
    tests = pd.DataFrame(
        [_class_test(rows) for _, rows in grouped], index=out.index
    )  # same (sorted) group order as ``out``
    out = pd.concat([out, tests], axis=1)
    out["class_q"] = out.groupby(["class", "collection"])["class_p"].transform(
        lambda p: bh_qvalues(p.to_numpy())
    )
    out["paper_rule"] = out["n_enriched_pos"] >= min_patients
    out["association"] = out["paper_rule"] & (out["class_q"] < fdr)
    return out.sort_values(
        ["class", "collection", "n_enriched", "set"],
        ascending=[True, True, False, True],
        kind="stable",
    ).reset_index(drop=True)


def _class_test(rows: pd.DataFrame) -> dict[str, float]:
    """Mean NES per group and the one-sided Mann-Whitney test of NES(target) > NES(other)."""
    nes = rows["nes"].to_numpy(dtype=float)
    target = rows["target"].to_numpy(dtype=bool)
    a, b = nes[target & np.isfinite(nes)], nes[~target & np.isfinite(nes)]
    result = {
        "mean_nes_target": float(a.mean()) if len(a) else np.nan,
        "mean_nes_other": float(b.mean()) if len(b) else np.nan,
        "class_auc": np.nan,
        "class_p": np.nan,
    }
    if len(a) and len(b):
        test = mannwhitneyu(a, b, alternative="greater")
        result["class_auc"] = float(test.statistic) / (len(a) * len(b))
        result["class_p"] = float(test.pvalue)
    return result
