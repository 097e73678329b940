"""Gene masking of a continuous trait: each gene set scored by the Spearman correlation between
the network's masked prediction (only the set's genes kept, the others at their fit mean) and the
true values, over one part's patients.

The tables have the classifier's layout (``masking/`` of a job) with ``spearman`` where a
classifier's have ``auroc``/``ap``/``slope``:

* random size-matched control sets (``<controls>_scores.csv``: set, n_genes, spearman), the same
  permutations as for a classifier (:func:`radiogenomics.interpret.masking.random_permutations`);
* every collection's sets: ``spearman``, ``self_contained_p``/``_q`` (a permutation test of the
  truth: does the set's masked prediction rank the patients at all?), ``competitive_p``/``_q``
  (empirical p against the controls of the set's size: does it rank them better than random
  sets of its size? this null ignores inter-gene correlation, see the DESIGN pitfalls), ``q`` =
  the larger of both q values and ``significant = q < fdr``;
* single genes: spearman, rank and the self-contained test (no competitive reference).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from radiogenomics.evaluation.multitest import FDR, bh_qvalues
from radiogenomics.evaluation.regression import spearman_permutation_p, spearman_rows
from radiogenomics.interpret.masking import as_masker, random_permutations
from radiogenomics.results import layout

N_PERMUTATIONS = 1000  # of the truth, for every set's self-contained p (floor 1/1001)
SCORE = "spearman"  # the masking score column of a continuous trait


def mask_part_continuous(
    module,
    x: torch.Tensor,
    y: np.ndarray,
    genes: Sequence[str],
    options,
    indexed: Mapping,
) -> dict[str, tuple[np.ndarray, pd.DataFrame]]:
    """label -> (masked predictions (items, patients), scores) for one part's patients."""
    masker = as_masker(module)
    out, null = {}, None
    sizes = sorted({len(i) for sets in indexed.values() for i in sets.indices})
    if options.n_random and sizes:
        perms = random_permutations(len(genes), options.n_random, options.random_seed)
        preds = masker.nested_controls(x, perms, sizes, options.batch_size)
        names = [layout.control_name(s, r) for s in sizes for r in range(options.n_random)]
        scores, null = control_scores(preds, y, names)
        out[layout.CONTROLS] = (preds, scores)
    for label, sets in indexed.items():
        preds = masker.gene_sets(x, sets.indices, options.batch_size)
        set_sizes = np.array([len(i) for i in sets.indices])
        scores = score_continuous_sets(preds, y, set_sizes, null)
        coverage = sets.coverage.set_index("set").loc[sets.names, "coverage"]
        scores.insert(0, "coverage", coverage.to_numpy())
        scores.insert(0, "n_genes", set_sizes)
        scores.insert(0, "set", sets.names)
        out[label] = (preds, scores)
    if options.single_genes:
        preds = masker.single_genes(x, options.batch_size)
        scores = score_continuous_sets(preds, y)
        scores.insert(0, "gene", list(genes))
        scores.insert(1, "rank", scores[SCORE].rank(ascending=False, method="min"))
        out[layout.SINGLE_GENES] = (preds, scores)
    return out


def control_scores(
    preds: np.ndarray, y: np.ndarray, names: Sequence[str]
) -> tuple[pd.DataFrame, dict[int, np.ndarray]]:
    """Random control sets' scores (set, n_genes, spearman) and their Spearmans by set size."""
    scores = pd.DataFrame({"set": list(names), "n_genes": [layout.control_size(n) for n in names],
                           SCORE: spearman_rows(preds, y)})  # fmt: skip
    null = {int(s): g[SCORE].to_numpy() for s, g in scores.groupby("n_genes", sort=True)}
    return scores, null


def score_continuous_sets(
    preds: np.ndarray,
    y: np.ndarray,
    sizes: np.ndarray | None = None,
    null: Mapping[int, np.ndarray] | None = None,
    strata: Sequence | None = None,
    fdr: float = FDR,
) -> pd.DataFrame:
    """Spearman of each row of masked predictions with ``y``, its tests and their q values."""
    rho = spearman_rows(preds, y) if len(preds) else np.zeros(0)
    frame = pd.DataFrame({SCORE: rho})
    if not len(preds):
        return frame
    self_p = spearman_permutation_p(preds, y, N_PERMUTATIONS, strata=strata)
    self_q = bh_qvalues(self_p)
    columns = {"self_contained_p": self_p, "self_contained_q": self_q}
    q = self_q
    if null is not None and sizes is not None:
        comp_p = np.array([_empirical(r, null[int(s)]) for r, s in zip(rho, sizes, strict=True)])
        comp_q = bh_qvalues(comp_p)
        columns = {"competitive_p": comp_p, "competitive_q": comp_q, **columns}
        q = np.fmax(self_q, comp_q)
    frame["q"], frame["significant"] = q, q < fdr
    for name, values in columns.items():
        frame[name] = values
    return frame


def _empirical(value: float, draws: np.ndarray) -> float:
    """One-sided empirical p of ``value`` against control draws: (1 + #>=) / (1 + R)."""
    draws = draws[np.isfinite(draws)]
    if not np.isfinite(value):
        return float("nan")
    return float((1 + (draws >= value).sum()) / (1 + len(draws)))
