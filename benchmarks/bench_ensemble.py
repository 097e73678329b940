"""Benchmark section: per-fold time of each small-n network recipe vs today's default network.

Each variant fine-tunes fold 0 for the same fixed number of epochs (no early stopping), on two
cohorts: the synthetic default cohort (12k genes) and ``data=verhaak840 trait=mesenchymal``.
Ratios are variant time / default-network time on the same cohort in the same process; k
sequential networks would cost about k (the ``sequential_ratio`` of each row). ``ratio_to_single``:
against the single unpretrained network, the network of a fully labelled cohort before
``model.without_pretraining``; the default of such a cohort must stay within 2x of it. Ratios use
the process's CPU time (``time.process_time``, torch_threads=1 as a job runs): on a shared machine
wall time swings with the neighbours' load (both are recorded). A variant that does not apply to a
cohort (gene sets on probe ids) is recorded as skipped, with the reason.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from radiogenomics.data.cohort import load_cohort, trait_cohort
from radiogenomics.data.splits import make_fold_split
from radiogenomics.data.traits import TraitSpec
from radiogenomics.errors import ConfigError
from radiogenomics.hydra_resolvers import register
from radiogenomics.tasks.finetune import fit_network
from radiogenomics.tasks.pretrain import resolve_pretraining

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PANEL = "benchmarks/panel/data/sarcoma_nakayama"
COHORTS = {  # the synthetic one has expression-only patients (pretraining); the others do not
    "synthetic": ["trait=enhancement"],
    "verhaak840": ["data=verhaak840", "trait=mesenchymal"],
    "sarcoma_12k": [
        "data=files",
        f"data.expression_file={PANEL}_expression.tsv.gz",
        f"data.label_files=[{PANEL}_labels.csv]",
        "data.orientation=patients_x_genes",
        "trait=column",
        "trait.column=histology",
    ],
}
NO_TRANSFER = ["model.transfer_layers=0", "model.freeze_layers=0"]
KFOLD_XS = ["model.member_split=kfold", "model.hidden_dims=[32,16]", *NO_TRANSFER]
VARIANTS = {  # name -> (model overrides, networks a sequential equivalent would train)
    "default": ([], 1),
    # before model.without_pretraining: a fully labelled cohort trained the single network
    "single_unpretrained": (["~model.without_pretraining"], 1),
    # model.without_pretraining (8 cross-fitted members of 32-16) with fewer members: any model
    # option on the command line replaces that block, so it is restated
    "kfold_k6_xs": (["model.ensemble=6", *KFOLD_XS], 6),
    "kfold_k4_xs": (["model.ensemble=4", *KFOLD_XS], 4),
    "packed_k4": (["model.ensemble=4"], 4),
    "packed_k8": (["model.ensemble=8"], 8),
    "batch_k4": (["model.ensemble=4", "model.ensemble_style=batch"], 4),
    "batch_k8": (["model.ensemble=8", "model.ensemble_style=batch"], 8),
    "kfold_k4": (["model.ensemble=4", "model.member_split=kfold"], 4),
    "kfold_k8": (["model.ensemble=8", "model.member_split=kfold"], 8),
    "kfold_k4_small": (
        ["model.ensemble=4", "model.member_split=kfold", "model.hidden_dims=[64,32]", *NO_TRANSFER],
        4,
    ),
    # the other small-n recipes: one network each, the cost of the option itself
    "mixup": (["model.mixup=0.4"], 1),
    "label_smoothing": (["model.label_smoothing=0.1"], 1),
    "swa": (["model.swa.enabled=true", "model.swa.start_fraction=0.2"], 1),
    "pca": (["model.input.kind=pca", "model.input.pca_components=32", *NO_TRANSFER], 1),
    "gene_sets": (["model.input.kind=gene_sets", *NO_TRANSFER], 1),
    "gene_sets_random": (
        ["model.input.kind=gene_sets", "model.input.random_mask=true", *NO_TRANSFER],
        1,
    ),
}


QUICK = ("default", "kfold_k4", "mixup", "gene_sets")  # one of each kind of recipe


def _cfg(out: Path, epochs: int, overrides: list[str]):
    register()  # resolvers and config schemas, before Hydra composes
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, "save_model=false"])
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        cfg.trainer.max_epochs = epochs
        cfg.trainer.min_epochs = epochs
        cfg.callbacks.early_stopping.patience = 10 * epochs  # same epoch count for every variant
    return cfg


def time_fold(cfg, repeats: int, explicit=frozenset()) -> tuple[float, float, float]:
    """Best-of-``repeats`` CPU and wall seconds of ``fit_network`` on fold 0, inner-val AUROC.

    The config is resolved as a job resolves it (no expression-only patients: no pretraining and
    ``model.without_pretraining``, except the ``explicit`` keys)."""
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    cfg = resolve_pretraining(cfg, cohort, set(explicit))
    tc = trait_cohort(cohort, TraitSpec.from_config(cfg.trait), n_folds=cfg.n_folds)
    split = make_fold_split(tc.y, cfg.n_folds, 0, cfg.split_seed, cfg.val_fraction)
    cpu, wall, val = [], [], float("nan")
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fit_network(cfg, cohort, tc, split)
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
        val = result.val_auroc
    return min(cpu), min(wall), val


def bench_ensemble(quick: bool = False) -> dict:
    """Per-fold seconds and ratios to the default network, per cohort and variant."""
    epochs, repeats = (3, 1) if quick else (20, 1)
    extra = ["debug=tiny"] if quick else []
    cohorts = {"synthetic": COHORTS["synthetic"]} if quick else COHORTS
    variants = {k: VARIANTS[k] for k in QUICK} if quick else VARIANTS  # quick: that it runs
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for cohort_name, cohort_overrides in cohorts.items():
            seconds, walls, vals = {}, {}, {}
            # warm-up: the cohort cache and the pretrained encoder are built once, untimed
            time_fold(_cfg(Path(tmp) / "warm", 1, [*cohort_overrides, *extra]), 1)
            skipped = {}
            for name, (model_overrides, _) in variants.items():
                cfg = _cfg(Path(tmp) / name, epochs, [*cohort_overrides, *model_overrides, *extra])
                if cfg.get("torch_threads"):
                    torch.set_num_threads(int(cfg.torch_threads))
                keys = {o.split("=", 1)[0].lstrip("+~") for o in model_overrides}
                try:
                    seconds[name], walls[name], vals[name] = time_fold(cfg, repeats, keys)
                except ConfigError as err:  # e.g. gene sets on a cohort of probe ids
                    skipped[name] = {"skipped": str(err).splitlines()[0]}
            base = seconds["default"]
            single = seconds.get("single_unpretrained")
            rows[cohort_name] = {
                name: {
                    "cpu_seconds": round(s, 3),
                    "wall_seconds": round(walls[name], 3),
                    "ratio": round(s / base, 3),
                    "ratio_to_single": round(s / single, 3) if single else None,
                    "sequential_ratio": VARIANTS[name][1],
                    "within_2x": bool(s / base <= 2.0),
                    "val_auroc": round(float(vals[name]), 3),
                }
                for name, s in seconds.items()
            } | skipped
    return {
        "what": "fine-tune fold 0 for a fixed epoch count: batched ensembles vs the default "
        "network (ratio = variant / default; k sequential networks ~ k)",
        "epochs": epochs,
        "repeats": repeats,
        "torch_threads": torch.get_num_threads(),
        "cohorts": rows,
    }
