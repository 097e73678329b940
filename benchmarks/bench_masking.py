"""Benchmark section: single-gene masking of every gene for every patient.

Three algorithms on the same model and patients, in the same run:

* ``ours``: :func:`radiogenomics.interpret.masking.mask_single_genes` (outer product per gene, then
  the layers after the first in large batches);
* ``dense``: one forward pass per gene over a masked copy of the whole input (``x * mask``);
* ``seed``: the seed code's algorithm: per gene, a sparse profile built per patient (a Python loop
  over patients), then one forward pass.

Checks that all three give the same probabilities (max abs difference <= 1e-5) and reports the
efficiency of ``ours`` against its floor: the arithmetic nothing can avoid (the layers after the
first, for every gene-patient pair) divided by this machine's measured dense matmul throughput.
Where a run would take too long on a small CPU, it masks a random subset of genes and extrapolates
linearly to all genes; every such number is labelled ``extrapolated``.

Run alone: ``python benchmarks/bench_masking.py [--quick] [--device cuda]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np
import torch

from radiogenomics.interpret.masking import DEFAULT_BATCH_SIZE, mask_single_genes
from radiogenomics.models.classifier import ClassifierModule

N_GENES = 12042
N_PATIENTS = 175
SIZES = {"default": [256, 128, 64], "paper": [4000, 2000, 1000]}
TOLERANCE = 1e-5


def _model(hidden: list[int], device: str, seed: int = 0) -> ClassifierModule:
    """A classifier with non-trivial BatchNorm statistics and dropout, in eval mode."""
    torch.manual_seed(seed)
    net = ClassifierModule(N_GENES, 2, hidden, dropout=0.2, input_dropout=0.2)
    for block in net.blocks:
        block.norm.running_mean.normal_(0, 0.1)
        block.norm.running_var.uniform_(0.5, 2.0)
    return net.to(device).eval()


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn: Callable[[], np.ndarray], device: str) -> tuple[np.ndarray, float]:
    _sync(device)
    start = time.perf_counter()
    out = fn()
    _sync(device)
    return out, time.perf_counter() - start


def dense_reference(net: ClassifierModule, x: torch.Tensor, genes: np.ndarray) -> np.ndarray:
    """One forward pass per gene over a masked copy of the input."""
    out = []
    with torch.inference_mode():
        for g in genes:
            mask = torch.zeros(x.shape[1], device=x.device)
            mask[g] = 1.0
            out.append(net.probabilities(net(x * mask)))
    return torch.stack(out).cpu().numpy()


def seed_reference(net: ClassifierModule, x: torch.Tensor, genes: np.ndarray) -> np.ndarray:
    """The seed's algorithm: per gene, a sparse profile built per patient, one forward pass."""
    out = []
    x_cpu = x.cpu().numpy()
    with torch.inference_mode():
        for g in genes:
            profiles = np.zeros_like(x_cpu)
            for p in range(len(x_cpu)):  # the seed filled each patient's profile in turn
                profiles[p, [g]] = x_cpu[p, [g]]
            out.append(net.probabilities(net(torch.from_numpy(profiles).to(x.device))))
    return torch.stack(out).cpu().numpy()


def matmul_throughput(rows: int, k: int, n: int, device: str, repeats: int = 3) -> float:
    """Best observed FLOP/s of a dense (rows x k) @ (k x n) float32 matmul."""
    a = torch.randn(rows, k, device=device)
    b = torch.randn(k, n, device=device)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        _, elapsed = _timed(lambda: a @ b, device)
        best = min(best, elapsed)
    return 2 * rows * k * n / best


def _floor_flops(hidden: list[int], pairs: int) -> float:
    """FLOPs of the layers after the first (and the head) for ``pairs`` gene-patient rows."""
    dims = [*hidden, 1]
    return 2.0 * pairs * sum(a * b for a, b in zip(dims[:-1], dims[1:], strict=True))


def bench_size(name: str, n_ours: int | None, n_refs: int, device: str, batch_size: int) -> dict:
    """One model size: ours on ``n_ours`` genes (None: all), references on ``n_refs`` genes."""
    hidden = SIZES[name]
    net = _model(hidden, device)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((N_PATIENTS, N_GENES)).astype(np.float32)).to(device)
    genes_ours = (
        np.arange(N_GENES) if n_ours is None else np.sort(rng.choice(N_GENES, n_ours, False))
    )
    ref_genes = genes_ours[np.linspace(0, len(genes_ours) - 1, n_refs).astype(int)]

    mask_single_genes(net, x, genes_ours[:8], batch_size)  # warm-up
    ours, t_ours = _timed(lambda: mask_single_genes(net, x, genes_ours, batch_size), device)
    dense, t_dense = _timed(lambda: dense_reference(net, x, ref_genes), device)
    seed, t_seed = _timed(lambda: seed_reference(net, x, ref_genes), device)
    on_refs = ours[np.searchsorted(genes_ours, ref_genes)]
    max_diff = {
        "ours_vs_dense": float(np.abs(on_refs - dense).max()),
        "ours_vs_seed": float(np.abs(on_refs - seed).max()),
        "dense_vs_seed": float(np.abs(dense - seed).max()),
    }

    # the machine's best: a large matmul of the second layer's shape (not our chunk size)
    throughput = matmul_throughput(16384, hidden[0], hidden[1], device)
    scale_ours = N_GENES / len(genes_ours)
    scale_refs = N_GENES / len(ref_genes)
    floor_s = _floor_flops(hidden, N_PATIENTS * len(genes_ours)) / throughput
    return {
        "size": name,
        "hidden_dims": hidden,
        "n_genes": N_GENES,
        "n_patients": N_PATIENTS,
        "device": device,
        "genes_timed": {"ours": len(genes_ours), "references": len(ref_genes)},
        "seconds_all_genes": {
            "ours": t_ours * scale_ours,
            "dense": t_dense * scale_refs,
            "seed": t_seed * scale_refs,
            "floor": floor_s * scale_ours,
        },
        "extrapolated": {"ours": scale_ours > 1, "references": scale_refs > 1},
        "speedup_vs_dense": (t_dense * scale_refs) / (t_ours * scale_ours),
        "speedup_vs_seed": (t_seed * scale_refs) / (t_ours * scale_ours),
        "efficiency_vs_floor": t_ours / floor_s,  # 1.0 = at the floor; target <= 1.25
        "dense_vs_floor": (t_dense * scale_refs) / (floor_s * scale_ours),
        "matmul_gflops": throughput / 1e9,
        "max_abs_diff": max_diff,
        "equal_to_1e-5": all(v <= TOLERANCE for v in max_diff.values()),
    }


def bench_masking(quick: bool, device: str | None = None) -> dict:
    """Benchmark single-gene masking at default and paper sizes; see the module docstring.

    ``quick``: fewer genes timed (CI-sized); otherwise a couple of minutes on 2 CPU cores.
    On a GPU every gene is masked at both sizes (no extrapolation for ``ours``).
    """
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    gpu = device.startswith("cuda")
    plan = {  # (genes for ours, genes for the references): None = all 12,042
        "default": (None, 8 if quick else 64),
        "paper": (None if gpu else (8 if quick else 64), 4 if quick else (128 if gpu else 16)),
    }
    batch_size = 65536 if gpu else DEFAULT_BATCH_SIZE
    results = {name: bench_size(name, *plan[name], device, batch_size) for name in SIZES}
    return {
        "section": "masking",
        "what": "single-gene masking of every gene for every patient (binary network)",
        "torch_threads": torch.get_num_threads(),
        "batch_size": batch_size,
        **results,
    }


def print_masking(result: dict) -> None:
    """Plain-text table of a :func:`bench_masking` result."""
    print("\nGene masking: single genes x all patients (seconds for all 12,042 genes)")
    print(
        f"{'size':<9}{'ours':>9}{'dense':>10}{'seed':>10}{'floor':>9}{'ours/floor':>12}"
        f"{'dense/floor':>13}{'equal':>7}  note"
    )
    for name in SIZES:
        r = result[name]
        s = r["seconds_all_genes"]
        note = []
        if r["extrapolated"]["ours"]:
            note.append(f"ours extrapolated from {r['genes_timed']['ours']} genes")
        if r["extrapolated"]["references"]:
            note.append(f"refs extrapolated from {r['genes_timed']['references']} genes")
        print(
            f"{name:<9}{s['ours']:>9.2f}{s['dense']:>10.2f}{s['seed']:>10.2f}{s['floor']:>9.2f}"
            f"{r['efficiency_vs_floor']:>12.2f}{r['dense_vs_floor']:>13.2f}"
            f"{str(r['equal_to_1e-5']):>7}  {'; '.join(note)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", default=None, help="also write the result here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = bench_masking(args.quick, args.device)
    print_masking(result)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
