"""Pooled out-of-fold results of an ordinal trait's configuration (rows of the sweep summary).

An ordinal job records ``trait_kind: ordinal`` and ``binary_cut`` in metrics.json; its pooled
row's ``pooled_auroc`` is the mean cumulative AUROC (with its bootstrap CI in the usual
``pooled_auroc_ci_low``/``_high`` columns, so every reader of ``pooled_auroc`` works), and it adds
``pooled_auroc_binary`` (the AUROC at the paper's cut) with ``pooled_auroc_binary_ci_low``/
``_high``, ``pooled_auroc_cut_<k>``, ``pooled_ap_cut_<k>``, ``pooled_spearman``, ``pooled_qwk``
and ``pooled_mae`` (names as in :mod:`radiogenomics.evaluation.ordinal`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from radiogenomics.evaluation.ordinal import bootstrap_cut_auroc_ci, ordinal_score


def ordinal_cut(jobs: pd.DataFrame) -> tuple[bool, int | None]:
    """(whether a configuration's jobs are ordinal, its binary cut or None)."""
    if "trait_kind" not in jobs or jobs["trait_kind"].iloc[0] != "ordinal":
        return False, None
    cut = jobs["binary_cut"].iloc[0] if "binary_cut" in jobs else None
    return True, None if cut is None or pd.isna(cut) else int(cut)


def ordinal_pooled(
    y: np.ndarray, probs: np.ndarray, binary_cut: int | None, n_boot: int
) -> tuple[dict[str, float], tuple[float, float], dict[str, float]]:
    """(pooled ordinal scores, CI of their mean cut AUROC, the binary-cut AUROC's CI columns)."""
    scores = ordinal_score(y, probs, binary_cut)
    ci = bootstrap_cut_auroc_ci(y, probs, n_boot=n_boot)
    extra = {}
    if binary_cut is not None:
        lo, hi = bootstrap_cut_auroc_ci(y, probs, [binary_cut], n_boot=n_boot)
        extra = {"pooled_auroc_binary_ci_low": lo, "pooled_auroc_binary_ci_high": hi}
    return scores, ci, extra


def print_ordinal(table: pd.DataFrame) -> None:
    """Print the ordinal rows' pooled metrics: cut AUROCs, the paper's cut, Spearman, QWK, MAE."""
    if "pooled_qwk" not in table:
        return
    rows = table[table["pooled_qwk"].notna()]
    if rows.empty:
        return
    lines = ["", "Ordinal traits (pooled out-of-fold; AUROC = mean over cumulative cuts)"]
    lines.append(
        f"{'trait':<14}{'model':<10}{'mean cut AUROC [95% CI]':>30}"
        f"{'binary-cut AUROC [95% CI]':>30}{'Spearman':>10}{'QWK':>7}{'MAE':>7}  cuts"
    )
    for _, r in rows.iterrows():
        ci = f"{r['pooled_auroc']:.3f} [{r['pooled_auroc_ci_low']:.3f}, {r['pooled_auroc_ci_high']:.3f}]"
        binary = "n/a"
        if pd.notna(r.get("pooled_auroc_binary", np.nan)):
            binary = (
                f"{r['pooled_auroc_binary']:.3f} [{r['pooled_auroc_binary_ci_low']:.3f}, "
                f"{r['pooled_auroc_binary_ci_high']:.3f}]"
            )
        cuts = " ".join(
            f"{c.removeprefix('pooled_auroc_cut_')}:{r[c]:.3f}"
            for c in rows.columns
            if c.startswith("pooled_auroc_cut_") and pd.notna(r[c])
        )
        lines.append(
            f"{r['trait']:<14}{r['model']:<10}{ci:>30}{binary:>30}{r['pooled_spearman']:>10.3f}"
            f"{r['pooled_qwk']:>7.3f}{r['pooled_mae']:>7.3f}  {cuts}"
        )
    print("\n".join(lines), flush=True)
