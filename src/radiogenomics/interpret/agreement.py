"""Method agreement: do saliency, input x gradient, integrated gradients, DeepLift and masking agree?

On the same held-out patients (each fold model on its own held-out fold, pooled over folds):

* genes: the ranking by mean absolute attribution of each Captum method, and single-gene masking
  (pooled out-of-fold AUROC with only that gene kept);
* sets: the NES of the pooled mean signed attribution of each method (one preranked GSEA per
  method) and the pooled masking AUROC of each set.

:func:`agreement_matrix` gives, for every pair of methods, the Spearman correlation of the two
rankings and the overlap of their top ``k`` items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from torch import nn

from radiogenomics.evaluation.metrics import auroc_rows
from radiogenomics.interpret.importance_null import top_k_overlap
from radiogenomics.interpret.masking import mask_gene_sets, mask_single_genes
from radiogenomics.interpret.saliency import PLAIN_GRADIENT, attribute
from radiogenomics.interpreters import writing
from radiogenomics.results import layout

ATTRIBUTION_METHODS = (PLAIN_GRADIENT, "input_x_gradient", "integrated_gradients", "deeplift")
MASKING = writing(layout.MASKING_DIR).name  # the masking interpreter's column beside the methods


def pooled_importances(
    folds: Sequence[tuple[nn.Module, torch.Tensor, np.ndarray]],
    sets: Sequence[np.ndarray],
    methods: Sequence[str] = ATTRIBUTION_METHODS,
    n_steps: int = 50,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """(gene importances, set masking AUROC, mean signed attribution per method) over the folds.

    ``folds``: (binary classifier in eval mode, held-out standardized x, held-out labels 0/1).
    Gene importances: one column per method (mean |attribution| over all held-out patients) and
    ``masking`` (pooled single-gene AUROC); the third value is (methods, genes) mean signed
    attributions, for the set-level GSEA.
    """
    sums = {m: 0.0 for m in methods}
    signed = {m: 0.0 for m in methods}
    gene_probs, set_probs, labels = [], [], []
    n = 0
    for module, x, y in folds:
        module.eval()
        for method in methods:
            attr = attribute(module, x, method, n_steps=n_steps)[0]  # binary: positive logit
            sums[method] = sums[method] + np.abs(attr).sum(axis=0)
            signed[method] = signed[method] + attr.sum(axis=0)
        gene_probs.append(mask_single_genes(module, x))
        set_probs.append(mask_gene_sets(module, x, sets) if len(sets) else None)
        labels.append(np.asarray(y))
        n += len(x)
    y = np.concatenate(labels) == 1
    genes = pd.DataFrame({m: sums[m] / n for m in methods})
    genes[MASKING] = auroc_rows(np.concatenate(gene_probs, axis=1), y)
    set_auroc = auroc_rows(np.concatenate(set_probs, axis=1), y) if len(sets) else np.zeros(0)
    means = np.stack([signed[m] / n for m in methods])
    return genes, pd.DataFrame({MASKING: set_auroc}), means


def agreement_matrix(table: pd.DataFrame, top: int = 100) -> pd.DataFrame:
    """Long table: method_a, method_b, spearman, top-k overlap, for every pair of columns."""
    rows = []
    columns = list(table.columns)
    for a, b in combinations(columns, 2):
        ok = table[[a, b]].notna().all(axis=1).to_numpy()
        va, vb = table[a].to_numpy()[ok], table[b].to_numpy()[ok]
        rows.append(
            {
                "method_a": a,
                "method_b": b,
                "n_items": int(ok.sum()),
                "spearman": float(spearmanr(va, vb).statistic) if ok.sum() > 2 else np.nan,
                f"top{top}_overlap": top_k_overlap(va, vb, top),
            }
        )
    return pd.DataFrame(rows)


def square(agreement: pd.DataFrame, column: str = "spearman") -> pd.DataFrame:
    """The long agreement table as a symmetric method x method matrix (diagonal 1)."""
    methods = list(dict.fromkeys([*agreement["method_a"], *agreement["method_b"]]))
    matrix = pd.DataFrame(np.eye(len(methods)), index=methods, columns=methods)
    for _, row in agreement.iterrows():
        matrix.loc[row["method_a"], row["method_b"]] = row[column]
        matrix.loc[row["method_b"], row["method_a"]] = row[column]
    return matrix


def set_table(nes: Mapping[str, pd.Series], masking: pd.Series) -> pd.DataFrame:
    """Sets x (each method's NES, masking AUROC), aligned on the set names."""
    table = pd.DataFrame({f"nes_{m}": s for m, s in nes.items()})
    return table.join(masking.rename(MASKING), how="outer")
