"""One job: (trait, model, fold[, bootstrap]) -> metrics.json, predictions.csv, cohort.json."""

from __future__ import annotations

import json
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from radiogenomics.data.cohort import (
    Cohort,
    TraitCohort,
    clinical_file,
    load_cohort,
    pretrain_patients,
    trait_cohort,
)
from radiogenomics.data.io import DataError
from radiogenomics.data.splits import FoldSplit, make_fold_split
from radiogenomics.data.traits import TraitSpec, class_counts
from radiogenomics.reporting.metrics import as_prob_matrix, score
from radiogenomics.reporting.wandb_report import finish_run, log_job, start_job_run
from radiogenomics.utils import stable_hash, write_csv, write_json

log = logging.getLogger(__name__)

# keys that vary between the jobs of one configuration (they do not enter the config hash)
PER_JOB_KEYS = ("fold", "bootstrap", "paths", "resume", "logger")


def config_hash(cfg: DictConfig) -> str:
    """Hash of the config minus per-job keys: equal across the folds of one setting.

    Interpolations stay unresolved so that per-job output paths do not enter the hash.
    """
    container = OmegaConf.to_container(cfg, resolve=False)
    return stable_hash({k: v for k, v in container.items() if k not in PER_JOB_KEYS})


def quiet_lightning() -> None:
    """Keep job logs readable: Lightning's per-fit banners and a known deprecation go quiet."""
    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    # frozen blocks are in eval mode on purpose (their BatchNorm statistics must not move)
    warnings.filterwarnings(
        "ignore", message=r".*module\(s\) in eval mode at the start of training.*"
    )


def run(cfg: DictConfig) -> dict | None:
    """Entry point called by ``train.py``: dispatch on ``cfg.task``.

    A bad input file ends the job with its message and exit status 2 (no traceback, no
    metrics.json): every check runs before training starts.
    """
    quiet_lightning()
    if cfg.get("torch_threads"):
        torch.set_num_threads(int(cfg.torch_threads))
    try:
        if cfg.task == "pretrain":
            return run_pretrain(cfg)
        if cfg.task == "finetune":
            return run_finetune(cfg)
    except DataError as err:
        log.error("data error: %s", err)
        raise SystemExit(2) from None
    finally:
        finish_run()  # logger=wandb: every job ends its run, also a failed one
    raise ValueError(f"unknown task {cfg.task!r}; choose finetune or pretrain")


def run_pretrain(cfg: DictConfig) -> dict:
    """Pretrain (or reuse) the autoencoder for the configured data and report where it is."""
    from radiogenomics.pretrain import encoder_key, load_or_pretrain

    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    load_or_pretrain(cfg, cohort, exclude=set())
    patients = pretrain_patients(cohort)
    path = (
        Path(cfg.paths.cache_dir) / "autoencoders" / f"ae-{encoder_key(cfg, cohort, patients)}.pt"
    )
    out = {"checkpoint": str(path), "n_patients": len(patients), "n_genes": len(cohort.genes)}
    write_json(Path(cfg.paths.output_dir) / "pretrain.json", out)
    log.info("autoencoder ready: %s", path)
    return out


def run_finetune(cfg: DictConfig) -> dict:
    """Train and score one outer fold; write the job's files (metrics.json last)."""
    out_dir = Path(cfg.paths.output_dir)
    metrics_path = out_dir / "metrics.json"
    job_hash = config_hash(cfg)
    if cfg.get("resume", True) and metrics_path.exists():
        done = json.loads(metrics_path.read_text())
        if done.get("config_hash") == job_hash:
            log.info("job already complete (%s exists): skipping", metrics_path)
            return done
        log.warning("%s was written by a different config: rerunning the job", metrics_path)
    start = time.perf_counter()
    start_job_run(cfg)  # no-op unless logger=wandb
    spec = TraitSpec.from_config(cfg.trait)
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    tc = trait_cohort(cohort, spec, n_folds=cfg.n_folds)
    split = make_fold_split(
        tc.y, cfg.n_folds, cfg.fold, cfg.split_seed, cfg.val_fraction, cfg.get("bootstrap")
    )
    clinical = clinical_file(cfg.data, cfg.paths.cache_dir)  # for scripts/survival.py
    report = {
        **tc.report,
        "n_pretrain_patients": len(pretrain_patients(cohort)),
        "expression_file": str(cohort.expression_file),
        "label_files": [str(p) for p in cohort.label_files],
        "clinical_file": str(clinical) if clinical else None,
        "fold_class_counts": {
            part: class_counts(tc.y[idx], spec)
            for part, idx in (("fit", split.fit), ("val", split.val), ("test", split.test))
        },
    }
    write_json(out_dir / "cohort.json", report)

    probs, fitted = fit_model(cfg, cohort, tc, split)
    y_test = tc.y[split.test]
    write_predictions(
        out_dir, [tc.patient_ids[i] for i in split.test], cfg.fold, y_test, probs, spec
    )
    test = score(y_test, probs, spec.class_names)
    metrics = {
        "trait": spec.name,
        "model": cfg.model.name,
        "fold": int(cfg.fold),
        "n_folds": int(cfg.n_folds),
        "split_seed": int(cfg.split_seed),
        "bootstrap": cfg.get("bootstrap"),
        "n_train": fitted.pop("n_train"),
        "n_val": fitted.pop("n_val"),
        "n_test": int(len(split.test)),
        **{f"test_{k}": v for k, v in test.items()},
        **fitted,
        "classes": spec.class_names,
        "permuted_labels": spec.permute_labels,
        "elapsed_s": round(time.perf_counter() - start, 3),
        "config_hash": job_hash,
    }
    write_json(metrics_path, metrics)
    log_job(cfg, out_dir, metrics)  # no-op unless logger=wandb
    log.info(
        "trait=%s model=%s fold=%d: test AUROC %.3f, AP %.3f (best epoch %s, inner-val AUROC %.3f)",
        spec.name, cfg.model.name, cfg.fold, test["auroc"], test["ap"], fitted["best_epoch"],
        fitted["val_auroc"],
    )  # fmt: skip
    return metrics


def fit_model(
    cfg: DictConfig, cohort: Cohort, tc: TraitCohort, split: FoldSplit
) -> tuple[np.ndarray, dict]:
    """Fit ``cfg.model.family`` on one split: (held-out probabilities, fields for metrics.json)."""
    if cfg.model.family == "nn":
        from radiogenomics.finetune import fit_network

        result = fit_network(cfg, cohort, tc, split, callbacks=[])
        return result.test_probs, {
            "n_train": int(len(split.fit)),
            "n_val": int(len(split.val)),
            "val_auroc": result.best_val_auroc,
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
        }
    if cfg.model.family == "baseline":
        from radiogenomics.models.baselines import fit_comparator

        model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
        result = fit_comparator(model_cfg, tc.X, tc.y, split, tc.spec.n_classes, seed=cfg.seed)
        # tuned by inner CV over all training-fold patients: no separate validation part
        return result.test_probs, {
            "n_train": int(len(split.train)),
            "n_val": 0,
            "val_auroc": result.inner_auroc,  # best mean inner-CV AUROC
            "best_epoch": None,
            "epochs_run": None,
            "best_params": result.best_params,
        }
    raise ValueError(f"unknown model family {cfg.model.family!r}; choose nn or baseline")


def write_predictions(
    out_dir: Path, patients: list[str], fold: int, y: np.ndarray, probs: np.ndarray, spec: TraitSpec
) -> Path:
    """predictions.csv: patient_id, fold, y_true, and y_prob (binary) or prob_<class>."""
    frame = pd.DataFrame({"patient_id": patients, "fold": fold, "y_true": y})
    if spec.is_binary:
        frame["y_prob"] = np.asarray(probs, dtype=float)
    else:
        for k, name in enumerate(spec.class_names):
            frame[f"prob_{name}"] = as_prob_matrix(probs)[:, k]
    return write_csv(out_dir / "predictions.csv", frame)
