"""Benchmark section: Lightning fine-tuning of one fold vs a bare PyTorch loop on the same work."""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from radiogenomics.data.cohort import load_cohort, trait_cohort
from radiogenomics.data.datamodules import TraitDataModule
from radiogenomics.data.splits import make_fold_split
from radiogenomics.data.traits import TraitSpec
from radiogenomics.evaluation.metrics import auroc
from radiogenomics.hydra_resolvers import register
from radiogenomics.tasks.finetune import build_classifier, fit_network
from radiogenomics.tasks.pretrain import load_or_pretrain

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
# a smoke run: small cohort and autoencoder (configs/debug/tiny.yaml), but still CSV logging, as
# timed in a real job; epochs and patience are set by _cfg below
QUICK = ["debug=tiny", "logger=csv"]


def _cfg(out: Path, epochs: int, overrides: list[str]):
    register()  # resolvers and config schemas, before Hydra composes
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        cfg.trainer.max_epochs = epochs
        cfg.trainer.min_epochs = epochs
        cfg.callbacks.early_stopping.patience = 10 * epochs  # same epoch count in both loops
    return cfg


def bare_loop(cfg, cohort, tc, split) -> tuple[float, int]:
    """The straightforward PyTorch loop: same data tensors, model, batches, epochs, validation."""
    m = cfg.model
    encoder = load_or_pretrain(cfg, cohort, set(tc.patient_ids))[0] if m.transfer_layers else None
    pl.seed_everything(cfg.seed, verbose=False)
    start = time.perf_counter()
    dm = TraitDataModule(tc.X, tc.y, split, batch_size=m.batch_size, seed=cfg.seed)
    model = build_classifier(cfg, tc, dm)
    if encoder is not None:
        model.load_encoder(encoder.encoder, m.transfer_layers)
    opt = model.configure_optimizers()
    best, best_state, best_epoch = -1.0, None, 0
    for epoch in range(cfg.trainer.max_epochs):
        model.train()
        for x, y in dm.train_dataloader():
            opt.zero_grad(set_to_none=True)
            model.loss(model(x), y).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            probs = model.probabilities(model(dm.x["val"]))
        score = auroc(dm.y["val"].numpy(), probs.numpy())
        if score > best:
            best, best_state, best_epoch = score, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    with torch.no_grad():
        model.probabilities(model(dm.x["test"]))
    return time.perf_counter() - start, best_epoch


def bench_finetune(quick: bool = False) -> dict:
    """Time one fold: ours (Lightning, checkpointing, CSV logging) vs the bare loop, best of N."""
    epochs, repeats = (10, 1) if quick else (30, 3)
    overrides = QUICK if quick else []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = _cfg(Path(tmp) / "job", epochs, overrides)
        if cfg.get("torch_threads"):  # as a job would run: both loops get the same threads
            torch.set_num_threads(int(cfg.torch_threads))
        cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
        tc = trait_cohort(cohort, TraitSpec.from_config(cfg.trait))
        split = make_fold_split(tc.y, cfg.n_folds, 0, cfg.split_seed, cfg.val_fraction)
        bare_loop(cfg, cohort, tc, split)  # warm-up; also pretrains the encoder once if missing
        ours, bare = [], []
        for r in range(repeats):
            start = time.perf_counter()
            fit_network(cfg, cohort, tc, split)
            ours.append(time.perf_counter() - start)
            bare.append(bare_loop(cfg, cohort, tc, split)[0])
            del r
    ratio = min(ours) / min(bare)
    return {
        "what": "fine-tune one fold (trait=enhancement, fold 0), same epochs/batches/model",
        "n_genes": len(tc.genes),
        "n_fit_patients": int(len(split.fit)),
        "epochs": epochs,
        "repeats": repeats,
        "ours_s": round(min(ours), 3),
        "bare_pytorch_s": round(min(bare), 3),
        "ratio": round(ratio, 3),
        "target_ratio": 1.25,
        "meets_target": bool(ratio <= 1.25),
        "all_ours_s": [round(t, 3) for t in ours],
        "all_bare_s": [round(t, 3) for t in bare],
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
    }
