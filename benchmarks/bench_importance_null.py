"""Benchmark section: the cost of the permutation null of importances.

For one outer fold, trains the real network and K null models (``null_permutation=k``: training
labels permuted, held-out labels untouched) exactly as a finetune job does, then interprets each
on the held-out patients as a null job does (plain-gradient attributions of the held-out and of all
patients, one Captum call each, batched over patients; single-gene masking, vectorised over genes
and patients). Reports seconds per model for training and for interpretation, the share spent in
training, and the extrapolation to ``n_folds`` folds (a null sweep of K x n_folds jobs, CPU, one
thread, run one job at a time; a parallel launcher divides the wall time by the jobs it runs at
once). ``--quick``: the tiny debug cohort and K = 2.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from radiogenomics.data.cohort import load_cohort, trait_cohort
from radiogenomics.data.datamodules import TraitDataModule
from radiogenomics.data.splits import make_fold_split, null_labels
from radiogenomics.data.traits import TraitSpec
from radiogenomics.hydra_resolvers import register
from radiogenomics.interpret.masking import mask_single_genes
from radiogenomics.interpret.saliency import attribute
from radiogenomics.tasks.finetune import fit_network

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _cfg(out: Path, overrides: list[str]):
    register()  # resolvers and config schemas, before Hydra composes
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=["logger=none", *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
    return cfg


def bench_importance_null(quick: bool = False) -> dict:
    """Seconds per model: training vs interpretation, real and K null models of fold 0."""
    torch.set_num_threads(1)
    k_null = 2 if quick else 20
    with tempfile.TemporaryDirectory() as tmp:
        cfg = _cfg(Path(tmp), ["debug=tiny"] if quick else [])
        cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
        tc = trait_cohort(cohort, TraitSpec.from_config(cfg.trait), n_folds=cfg.n_folds)
        split = make_fold_split(tc.y, cfg.n_folds, 0, cfg.split_seed, cfg.val_fraction)
        real_y = tc.y
        train_s, interpret_s = [], []
        for k in [None, *range(k_null)]:
            tc.y = real_y if k is None else null_labels(real_y, split, cfg.split_seed, k)
            start = time.perf_counter()
            result = fit_network(cfg, cohort, tc, split)
            train_s.append(time.perf_counter() - start)
            dm = TraitDataModule(tc.X, tc.y, split, batch_size=16, genes=tc.genes)
            start = time.perf_counter()
            model = result.model.eval()
            attribute(model, dm.x["test"], "saliency")
            attribute(model, torch.cat([dm.x[p] for p in ("fit", "val", "test")]), "saliency")
            mask_single_genes(model, dm.x["test"])
            interpret_s.append(time.perf_counter() - start)
    per_model_train = sum(train_s) / len(train_s)
    per_model_interpret = sum(interpret_s) / len(interpret_s)
    folds = int(cfg.n_folds)
    return {
        "k_null": k_null,
        "n_folds": folds,
        "n_genes": len(tc.genes),
        "n_test": len(split.test),
        "train_s_per_model": round(per_model_train, 2),
        "interpret_s_per_model": round(per_model_interpret, 2),
        "train_share": round(per_model_train / (per_model_train + per_model_interpret), 3),
        "null_sweep_extrapolated_s": round(
            k_null * folds * (per_model_train + per_model_interpret)
        ),
        "note": "null jobs (+interpret=permutation_null) skip the masking controls and the "
        "per-patient GSEA, which the null does not use; the set-level NES of the null models "
        "(mean signed and absolute attribution) are two GSEA per replicate in the sweep summary, "
        "run in parallel",
    }
