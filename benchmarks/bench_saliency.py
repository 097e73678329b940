"""Benchmark section: gene saliency and per-patient GSEA.

* ``attributions``: plain-gradient saliency of 175 patients x 12,042 genes with
  :func:`radiogenomics.interpret.saliency.attribute`, all patients in one Captum call (``batched``)
  against one call per patient (``per_patient``, the seed code's loop), on the same model, at the
  default (256-128-64) and paper (4000-2000-1000) sizes; checks both give the same attributions
  (max abs difference) and reports the speed-up (target >= 20x). Where the per-patient loop would
  take long on a small CPU it is timed on a subset of patients and extrapolated linearly
  (labelled ``extrapolated``). Each timing is the fastest of ``REPEATS`` runs; ``batched_vs_floor`` compares the
  batched call with the arithmetic at this machine's measured matmul rate.
* ``gsea``: preranked GSEA (gseapy multilevel, hallmark, sets of 15-500 genes) of 175 patients'
  attribution rankings over the 12,042-gene universe with 2 worker processes (target < 60 s on
  2 cores), worker start-up included.

Run it with ``python benchmarks/benchmark.py saliency [--quick]``.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from bench_masking import matmul_throughput

from radiogenomics.data.genesets import index_gene_sets, load_collection, load_gene_universe
from radiogenomics.interpret.gsea import prerank_patients, set_dict
from radiogenomics.interpret.saliency import attribute
from radiogenomics.models.classifier import ClassifierModule

N_PATIENTS = 175
SIZES = {"default": [256, 128, 64], "paper": [4000, 2000, 1000]}
REPEATS = 3  # each timing is the fastest of this many runs


def _model(n_genes: int, hidden: list[int], seed: int = 0) -> ClassifierModule:
    torch.manual_seed(seed)
    net = ClassifierModule(n_genes, 2, hidden, dropout=0.2, input_dropout=0.2)
    for block in net.blocks:
        block.norm.running_mean.normal_(0, 0.1)
        block.norm.running_var.uniform_(0.5, 2.0)
    return net.eval()


def _best_of(repeats: int, fn):
    """(result, fastest wall time of ``repeats`` calls): timings of short calls are noisy."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def bench_attributions(name: str, x: torch.Tensor, n_loop: int) -> tuple[dict, np.ndarray]:
    """Batched vs per-patient saliency at one model size; per-patient timed on ``n_loop``."""
    net = _model(x.shape[1], SIZES[name])
    attribute(net, x[:2])  # warm-up
    batched, t_batched = _best_of(REPEATS, lambda: attribute(net, x))
    looped, t_loop = _best_of(
        REPEATS,
        lambda: np.concatenate([attribute(net, x[i : i + 1]) for i in range(n_loop)], axis=1),
    )
    t_loop *= len(x) / n_loop
    dims = [x.shape[1], *SIZES[name], 1]
    # forward plus the input-gradient backward: two matmuls of every layer per patient
    flops = 4.0 * len(x) * sum(a * b for a, b in zip(dims[:-1], dims[1:], strict=True))
    floor_s = flops / matmul_throughput(len(x), dims[0], dims[1], "cpu")
    return (
        {
            "hidden_dims": SIZES[name],
            "seconds": {"batched": t_batched, "per_patient": t_loop, "floor": floor_s},
            "batched_vs_floor": t_batched / floor_s,  # 1.0: at this machine's matmul rate
            "per_patient_timed_on": n_loop,
            "extrapolated": n_loop < len(x),
            "speedup": t_loop / t_batched,
            "max_abs_diff": float(np.abs(batched[:, :n_loop] - looped).max()),
        },
        batched,
    )


def bench_saliency(quick: bool) -> dict:
    """Attributions batched vs per patient, and per-patient GSEA; see the module docstring."""
    genes = load_gene_universe()
    n_patients = 20 if quick else N_PATIENTS
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((n_patients, len(genes))).astype(np.float32))
    loops = {"default": 10 if quick else N_PATIENTS, "paper": 4 if quick else 35}
    results, rankings = {}, None
    for name in SIZES:
        results[name], batched = bench_attributions(name, x, min(loops[name], n_patients))
        rankings = batched[0] if name == "default" else rankings

    sets = set_dict(
        index_gene_sets(load_collection("hallmark"), genes, min_size=15, max_size=500), genes
    )
    ids = [f"P{i:03d}" for i in range(n_patients)]
    start = time.perf_counter()
    table = prerank_patients(rankings, genes, ids, sets, n_jobs=2, seed=0)
    t_gsea = time.perf_counter() - start
    return {
        "section": "saliency",
        "what": "plain-gradient saliency of the logit, 175 patients x 12,042 genes; "
        "per-patient GSEA (gseapy multilevel) of the default-size model's rankings x hallmark",
        "n_patients": n_patients,
        "n_genes": len(genes),
        "torch_threads": torch.get_num_threads(),
        "attributions": results,
        "gsea": {
            "method": "multilevel",
            "n_jobs": 2,
            "n_sets": len(sets),
            "seconds": t_gsea,
            "seconds_per_patient": t_gsea / n_patients,
            "rows": len(table),
            "patients_with_an_enriched_set": int(
                table.groupby("patient_id")["fdr"].min().lt(0.05).sum()
            ),
        },
    }
