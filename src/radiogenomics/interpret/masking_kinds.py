"""Gene-masking scores for ordinal and continuous traits (the categorical tables are
:mod:`radiogenomics.interpret.masking_tables`).

The score of a masked set is :func:`~radiogenomics.evaluation.metrics.masking_score`: the mean
cumulative AUROC of the masked level probabilities (ordinal; column ``auroc``, with one
``auroc_ge_<level>`` column per cut) or Spearman's rho of the masked prediction and the target
(continuous; column ``spearman``). Both are linear in the (permuted) labels once the masked
outputs are fixed, so the same two closed-form label-permutation tests as for a categorical
trait apply (:mod:`radiogenomics.evaluation.label_permutation`):

* ordinal: ``AUROC_k = (sum_{i: y_i >= k} r_ik - const) / (n1k n0k)`` with ``r_ik`` the midrank of
  patient i's ``P(y >= k)``, so the mean over cuts is ``sum_i A[i, y_i] + c`` with
  ``A[i, l] = sum_{k <= l} r_ik / (n1k n0k m)`` (m cuts), exactly the categorical form;
* continuous: rho is ``sum_i a_i b_i`` with ``a`` the item's centred, scaled output ranks and
  ``b`` the target's ranks: a product statistic, whose permutation mean and variance within each
  stratum are ``n mean(a) mean(b)`` and ``sum (a - mean a)^2 sum (b - mean b)^2 / (n - 1)``.

The competitive test compares an item with the mean coefficients of the random controls of its
size (or, for single genes, the average gene), as for a categorical trait; the empirical and
generalized-Pareto tail p against the controls' scores are kept too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata

from radiogenomics.evaluation.label_permutation import permutation_z
from radiogenomics.evaluation.metrics import cumulative_probabilities, masking_score
from radiogenomics.evaluation.multitest import FDR, bh_qvalues
from radiogenomics.interpret.masking import empirical_p, random_permutations, tail_p
from radiogenomics.results import layout

SCORE_COLUMN = {"ordinal": "auroc", "continuous": "spearman"}


def score_column(kind: str) -> str:
    """The masking table's score column of a trait kind (``auroc`` for categorical)."""
    return SCORE_COLUMN.get(kind, "auroc")


def coefficients(outputs: np.ndarray, y: np.ndarray, kind: str) -> np.ndarray:
    """Label-permutation coefficients of every item's score (module docstring).

    Ordinal: (items, patients, K), score ``= sum_i A[item, i, y_i] + c``. Continuous:
    (items, patients), score ``= sum_i a[item, i] * rank(y)_i``.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    y = np.asarray(y)
    n = len(y)
    if kind == "continuous":
        a = rankdata(outputs, axis=1)
        a = a - a.mean(axis=1, keepdims=True)
        b = rankdata(y.astype(np.float64))
        b = b - b.mean()
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.sqrt((a**2).sum(axis=1, keepdims=True) * (b @ b))
            return np.where(scale > 0, a / np.where(scale > 0, scale, 1.0), 0.0)
    if outputs.ndim == 2:  # two levels: the binary AUROC's coefficients
        outputs = np.stack([1 - outputs, outputs], axis=-1)
    K = outputs.shape[-1]
    cumulative = cumulative_probabilities(outputs)  # cut k in column k - 1
    cuts = [k for k in range(1, K) if 0 < (y >= k).sum() < n]
    coef = np.zeros((*outputs.shape[:2], K))
    for k in cuts:
        n1 = int((y >= k).sum())
        term = rankdata(cumulative[..., k - 1], axis=1) / (n1 * (n - n1) * len(cuts))
        coef[..., k:] += term[..., None]  # every level l >= k is on the positive side of cut k
    return coef


def permutation_tests(
    outputs: np.ndarray,
    y: np.ndarray,
    kind: str,
    reference: np.ndarray | None = None,
    strata: Sequence | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided (greater) ``(self_contained_p, competitive_p)`` of every item's score."""
    coef = coefficients(outputs, y, kind)
    self_p = _upper(_z(coef, y, kind, strata))
    if reference is None:
        return self_p, np.full(len(coef), np.nan)
    return self_p, _upper(_z(coef - reference, y, kind, strata))


def _z(coef: np.ndarray, y: np.ndarray, kind: str, strata: Sequence | None) -> np.ndarray:
    if kind != "continuous":
        return permutation_z(coef, np.asarray(y).astype(int), strata)
    b = rankdata(np.asarray(y, dtype=np.float64))
    groups = np.zeros(len(b), int) if strata is None else pd.factorize(pd.Series(list(strata)))[0]
    observed = coef @ b
    mean, var = np.zeros(len(coef)), np.zeros(len(coef))
    for g in np.unique(groups):  # independent permutations within each stratum
        members = np.flatnonzero(groups == g)
        a, bm = coef[:, members], b[members]
        mean += a.sum(axis=1) * bm.mean()
        if len(members) > 1:
            spread_a = ((a - a.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
            var += spread_a * ((bm - bm.mean()) ** 2).sum() / (len(members) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (observed - mean) / np.sqrt(var)
    z[var <= 1e-24] = np.nan
    return z


def _upper(z: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(z), 1.0, norm.sf(z))


@dataclass(frozen=True)
class KindNull:
    """The random controls of one part by set size: their scores and mean coefficients."""

    scores: Mapping[int, np.ndarray]
    coefficients: Mapping[int, np.ndarray]


def control_null(
    outputs: np.ndarray, y: np.ndarray, kind: str, names: Sequence[str]
) -> tuple[pd.DataFrame, KindNull]:
    """Random control sets' scores (set, n_genes, score) and their null by set size."""
    column = score_column(kind)
    scores = pd.DataFrame({column: masking_score(y, outputs, kind)})
    n_genes = np.array([layout.control_size(name) for name in names])
    scores.insert(0, "n_genes", n_genes)
    scores.insert(0, "set", list(names))
    null = KindNull(
        scores={int(s): scores[column].to_numpy()[n_genes == s] for s in np.unique(n_genes)},
        coefficients={
            int(s): coefficients(outputs[n_genes == s], y, kind).mean(axis=0)
            for s in np.unique(n_genes)
        },
    )
    return scores, null


def score_items(
    outputs: np.ndarray,
    y: np.ndarray,
    kind: str,
    class_names: Sequence[str] = (),
    sizes: np.ndarray | None = None,
    null: KindNull | None = None,
    strata: Sequence | None = None,
    compare_to_items: bool = False,
    fdr: float = FDR,
) -> pd.DataFrame:
    """The reported masking score of every item of an ordinal or continuous trait (module docstring).

    Columns: the score (``auroc`` or ``spearman``), for an ordinal trait ``auroc_ge_<level>`` per
    cut, then q, significant, competitive and self-contained p/q (and, with ``null``, the
    empirical and tail p/q), as :func:`~radiogenomics.interpret.masking_tables.score_sets`.
    """
    column = score_column(kind)
    scores = pd.DataFrame({column: masking_score(y, outputs, kind)})
    if kind == "ordinal" and np.ndim(outputs) == 3 and len(class_names) == np.shape(outputs)[-1]:
        cumulative = cumulative_probabilities(outputs)
        for k in range(1, len(class_names)):
            target = np.asarray(y) >= k
            cut = masking_score(target.astype(int), cumulative[..., k - 1], "categorical")
            scores[f"auroc_ge_{class_names[k]}"] = cut
    if not len(scores):
        return scores
    reference = None
    if null is not None:
        reference = np.stack([null.coefficients[int(s)] for s in sizes])
    elif compare_to_items:
        reference = coefficients(outputs, y, kind).mean(axis=0)
    self_p, comp_p = permutation_tests(outputs, y, kind, reference, strata)
    self_q, comp_q = bh_qvalues(self_p), bh_qvalues(comp_p)
    q = np.fmax(self_q, comp_q) if reference is not None else np.full(len(scores), np.nan)
    columns = {
        "q": q,
        "significant": q < fdr,
        "competitive_p": comp_p,
        "competitive_q": comp_q,
        "self_contained_p": self_p,
        "self_contained_q": self_q,
    }
    if null is not None:
        observed = scores[column].to_numpy()
        p, tail = empirical_p(observed, sizes, null.scores), tail_p(observed, sizes, null.scores)
        columns.update(
            empirical_p=p, empirical_q=bh_qvalues(p), tail_p=tail, tail_q=bh_qvalues(tail)
        )
    for position, (name, values) in enumerate(columns.items(), start=1):
        scores.insert(position, name, values)
    return scores


def mask_part_kind(
    masker,
    x,
    y: np.ndarray,
    genes: Sequence[str],
    class_names: Sequence[str],
    options,
    indexed: Mapping,
    kind: str,
) -> dict[str, tuple[np.ndarray, pd.DataFrame]]:
    """label -> (masked outputs, scores) of one part, for an ordinal or continuous trait.

    The same items as :func:`~radiogenomics.interpret.masking_tables.mask_part` (random
    controls, every collection's sets, single genes), scored by :func:`score_items`.
    """
    column, out, null = score_column(kind), {}, None
    sizes = sorted({len(i) for sets in indexed.values() for i in sets.indices})
    if options.n_random and sizes:
        perms = random_permutations(len(genes), options.n_random, options.random_seed)
        outputs = masker.nested_controls(x, perms, sizes, options.batch_size)
        names = [layout.control_name(s, r) for s in sizes for r in range(options.n_random)]
        scores, null = control_null(outputs, y, kind, names)
        out[layout.CONTROLS] = (outputs, scores)
    for label, sets in indexed.items():
        outputs = masker.gene_sets(x, sets.indices, options.batch_size)
        set_sizes = np.array([len(i) for i in sets.indices])
        scores = score_items(outputs, y, kind, class_names, set_sizes, null)
        coverage = sets.coverage.set_index("set").loc[sets.names, "coverage"]
        scores.insert(0, "coverage", coverage.to_numpy())
        scores.insert(0, "n_genes", set_sizes)
        scores.insert(0, "set", sets.names)
        out[label] = (outputs, scores)
    if options.single_genes:
        outputs = masker.single_genes(x, options.batch_size)
        scores = score_items(outputs, y, kind, class_names, compare_to_items=True)
        scores.insert(0, "gene", list(genes))
        scores.insert(1, "rank", scores[column].rank(ascending=False, method="min"))
        out[layout.SINGLE_GENES] = (outputs, scores)
    return out
