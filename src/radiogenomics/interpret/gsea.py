"""Preranked GSEA per patient with gseapy, offline.

gseapy treats any gene-set string that is not a ``.gmt`` path as an online Enrichr library, so gene
sets are always passed as dicts (built from :func:`radiogenomics.data.genesets.index_gene_sets`,
which reports coverage and applies the size limits) with ``outdir=None`` and ``no_plot=True``.

``method="multilevel"`` (the default) is gseapy 1.3.1's port of fgsea's multilevel procedure, the
algorithm the paper ran (fgsea, set size 15-500): p-values below 1/permutations are estimated, and
NES is ES over the mean same-sign ES of random gene sets. ``method="permutation"`` is classic
gene-set permutation with ``permutation_num`` draws. Each patient's FDR is Benjamini-Hochberg over
that patient's sets of one collection (fgsea's ``padj``). Rankings are sorted descending, so a
positive NES means the set sits among the genes that raise the attributed logit.

Patients run in parallel in at most ``n_jobs`` joblib worker processes, gseapy single-threaded in
each. Every patient's seed is derived from (``seed``, patient id), so a patient's result does not
depend on its fold, its position or the number of workers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from radiogenomics.data.genesets import IndexedGeneSets
from radiogenomics.evaluation.multitest import bh_qvalues
from radiogenomics.progress import Progress
from radiogenomics.utils import stable_hash

# this module stays free of torch: joblib workers import it, and a torch import costs seconds

GSEA_METHODS = ("multilevel", "permutation")
COLUMNS = ["set", "n_genes", "es", "nes", "p", "fdr", "n_leading_edge", "leading_edge"]


def set_dict(indexed: IndexedGeneSets, genes: Sequence[str]) -> dict[str, list[str]]:
    """Indexed gene sets as gseapy's dict of member symbols (upper-cased, as the ranking)."""
    upper = np.array([str(g).upper() for g in genes], dtype=object)
    return {
        name: upper[idx].tolist() for name, idx in zip(indexed.names, indexed.indices, strict=True)
    }


def patient_seed(seed: int, patient_id: str) -> int:
    """A per-patient seed that depends only on the base seed and the patient id."""
    return int(stable_hash([int(seed), str(patient_id)], length=8), 16) % (2**31 - 1)


def prerank(
    scores: np.ndarray,
    genes: Sequence[str],
    sets: dict[str, list[str]],
    *,
    method: str = "multilevel",
    min_size: int = 15,
    max_size: int = 500,
    permutation_num: int = 1000,
    seed: int = 0,
    threads: int = 1,
) -> pd.DataFrame:
    """GSEA of one ranking (a score per gene): set, n_genes, es, nes, p, fdr, leading edge.

    ``genes`` are the ranking's symbols (matched to ``sets`` case-insensitively); sets outside
    ``min_size..max_size`` genes on the ranking are left out by gseapy.
    """
    import gseapy

    if method not in GSEA_METHODS:
        raise ValueError(f"unknown GSEA method {method!r}; choose one of {GSEA_METHODS}")
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(genes),) or not np.isfinite(scores).all():
        raise ValueError(f"need one finite score per gene ({len(genes)}), got shape {scores.shape}")
    upper = [str(g).upper() for g in genes]
    ranking = pd.Series(break_ties(scores), index=upper)
    result = gseapy.prerank(
        ranking,
        sets,
        outdir=None,
        no_plot=True,
        method=method,
        min_size=min_size,
        max_size=max_size,
        permutation_num=permutation_num,
        seed=int(seed),
        threads=threads,
        verbose=False,
    ).res2d
    return _tidy(result, sets, dict(zip(upper, map(str, genes), strict=True)))


def break_ties(scores: np.ndarray) -> np.ndarray:
    """Separate equal scores by one float64 step each, later genes higher (a fixed order).

    float32 attributions tie for a few genes; gseapy would order them arbitrarily (and warn).
    """
    order = np.argsort(scores, kind="stable")
    ranked = scores[order].copy()
    while (ties := np.flatnonzero(np.diff(ranked) <= 0) + 1).size:
        for i in ties:
            ranked[i] = max(ranked[i], np.nextafter(ranked[i - 1], np.inf))
    out = np.empty_like(ranked)
    out[order] = ranked
    return out


def _tidy(res: pd.DataFrame, sets: dict[str, list[str]], original: dict[str, str]) -> pd.DataFrame:
    """gseapy's res2d as typed columns; FDR recomputed as BH over this ranking's sets."""
    if res is None or len(res) == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in COLUMNS}).astype({"set": str})
    names = res["Term"].astype(str).to_numpy()
    p = res["NOM p-val"].to_numpy(dtype=np.float64)
    lead = [
        [original.get(g, g) for g in str(genes).split(";") if g] if isinstance(genes, str) else []
        for genes in res["Lead_genes"]
    ]
    table = pd.DataFrame(
        {
            "set": names,
            "n_genes": [len(sets[n]) for n in names],
            "es": res["ES"].to_numpy(dtype=np.float64),
            "nes": res["NES"].to_numpy(dtype=np.float64),
            "p": p,
            "fdr": bh_qvalues(p),  # NaN p (no null of that sign) stays NaN
            "n_leading_edge": [len(g) for g in lead],
            "leading_edge": [";".join(g) for g in lead],
        }
    )
    return table.sort_values("set", kind="stable").reset_index(drop=True)


def _prerank_chunk(
    scores: np.ndarray, genes: Sequence[str], sets: dict, ids: Sequence[str], seed: int, **kwargs
) -> list[pd.DataFrame]:
    """GSEA of several patients' rankings in one worker."""
    return [
        prerank(row, genes, sets, seed=patient_seed(seed, pid), **kwargs).assign(patient_id=pid)
        for row, pid in zip(scores, ids, strict=True)
    ]


def release_workers() -> None:
    """Stop joblib's idle worker processes now.

    joblib keeps its loky workers alive for 300 s after the last task; a job process started by a
    multiprocessing launcher (hydra/launcher=gpus) waits for its children at exit, so each job
    would hold its slot for those 300 s after it finished.
    """
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def prerank_patients(
    scores: np.ndarray,
    genes: Sequence[str],
    patient_ids: Sequence[str],
    sets: dict[str, list[str]],
    *,
    n_jobs: int = 2,
    seed: int = 0,
    **kwargs,
) -> pd.DataFrame:
    """GSEA of every patient's ranking (rows of ``scores``): patient_id then :data:`COLUMNS`.

    ``n_jobs`` bounds the worker processes (1: in this process); ``kwargs`` go to :func:`prerank`.
    """
    scores = np.asarray(scores, dtype=np.float64)
    ids = [str(p) for p in patient_ids]
    if scores.ndim != 2 or len(scores) != len(ids):
        raise ValueError(f"scores must be (patients x genes) with {len(ids)} rows")
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be at least 1, got {n_jobs}")
    n_chunks = min(len(ids), 4 * n_jobs)  # several per worker: progress between chunks
    chunks = [c for c in np.array_split(np.arange(len(ids)), max(n_chunks, 1)) if len(c)]
    work = (
        delayed(_prerank_chunk)(scores[c], genes, sets, [ids[i] for i in c], seed, **kwargs)
        for c in chunks
    )
    parallel = Parallel(n_jobs=min(n_jobs, len(chunks)) or 1, return_as="generator")
    frames = []
    with Progress("per-patient GSEA", total=len(ids), unit="patients") as counter:
        for part in parallel(work):  # chunks in order, as they finish
            frames += part
            counter.update(len(part))
    if n_jobs > 1:
        release_workers()
    if not frames:
        return pd.DataFrame(columns=["patient_id", *COLUMNS])
    table = pd.concat(frames, ignore_index=True)
    return table[["patient_id", *COLUMNS]]
