"""``multitask=...``: one network per outer fold for several traits, written as per-trait jobs.

The job trains :class:`~radiogenomics.models.multitask.MultiTaskModule` on the multi-task
cohort's fold (:mod:`radiogenomics.data.multitask`), its epoch chosen on the mean over traits of
each trait's inner-validation AUROC, then writes, per trait, ``<job>/trait=<name>/`` shaped
exactly like a single-trait job dir: ``metrics.json``, ``predictions.csv``, ``cohort.json``,
``model/`` (the trait's view: the trunk and its head as a single-trait network, standardised on
the fold's fit patients), ``masking/`` and ``saliency/`` when those interpreters are on, and
``.hydra/`` (the job's overrides; its config with ``trait`` set to that trait and ``model.name``
``<model>_multitask``). ``multitask.json`` in the job dir is written last: the job is complete.
Sweep readers (:func:`radiogenomics.results.sweep.job_dirs`) then take every trait dir as a job
of that trait, so the summary, report, ``task=predict`` and ``task=interpret`` read them as they
read single-trait jobs.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import hydra
import numpy as np
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from radiogenomics.callbacks.best_weights import BestWeights
from radiogenomics.callbacks.interpretation import InterpretationCallback
from radiogenomics.data.cohort import Cohort, TraitCohort, load_cohort
from radiogenomics.data.datamodules import Standardizer, TraitDataModule
from radiogenomics.data.multitask import (
    MISSING,
    MultiTaskCohort,
    multitask_cohort,
    multitask_split,
    trait_part,
)
from radiogenomics.data.splits import FoldSplit, repeat_split_seed
from radiogenomics.data.traits import TraitSpec, class_counts
from radiogenomics.environment import job_environment
from radiogenomics.errors import DataError
from radiogenomics.evaluation.metrics import auroc
from radiogenomics.evaluation.trait_metrics import trait_score
from radiogenomics.models.bundle import save_bundle
from radiogenomics.models.multitask import MultiTaskModule
from radiogenomics.results import layout
from radiogenomics.tasks.finetune import (
    check_output_dir,
    clear_outputs,
    instantiate_callbacks,
    job_outputs,
    write_predictions,
)
from radiogenomics.tasks.jobs import config_hash, input_fingerprints, resumable, training_hash
from radiogenomics.tasks.pretrain import command_line_keys, load_or_pretrain, resolve_pretraining
from radiogenomics.tasks.validation import check_multitask_model
from radiogenomics.utils import write_json

log = logging.getLogger(__name__)

MODEL_SUFFIX = "_multitask"  # a trait's jobs are of model <model.name>_multitask


def is_multitask(cfg: DictConfig) -> bool:
    """Whether ``cfg`` trains one network for several traits (``multitask=...``)."""
    return OmegaConf.select(cfg, "multitask.traits") is not None


def trait_configs(cfg: DictConfig) -> list[DictConfig]:
    """The traits' configs (``multitask.traits.<name>``), in order."""
    return [cfg.multitask.traits[key] for key in cfg.multitask.traits]


def trait_specs(cfg: DictConfig) -> list[TraitSpec]:
    """The traits' specs, in order."""
    return [TraitSpec.from_config(c) for c in trait_configs(cfg)]


def loss_weights(cfg: DictConfig, names: list[str]) -> list[float]:
    """Each trait's loss weight (``multitask.loss_weights``; 1.0 when not listed)."""
    weights = OmegaConf.select(cfg, "multitask.loss_weights") or {}
    return [float(weights.get(name, 1.0)) for name in names]


def multitask_fold(cfg: DictConfig, cohort: Cohort) -> tuple[MultiTaskCohort, FoldSplit]:
    """The multi-task cohort and this job's fold (a pure function of the config and data)."""
    mt = multitask_cohort(cohort, trait_specs(cfg), n_folds=int(cfg.n_folds))
    split = multitask_split(
        mt.Y,
        mt.names,
        str(cfg.multitask.stratify),
        int(cfg.n_folds),
        int(cfg.fold),
        repeat_split_seed(cfg.split_seed, cfg.get("repeat")),
        float(cfg.val_fraction),
    )
    return mt, split


def trait_index(cfg: DictConfig, mt: MultiTaskCohort) -> int:
    """Position of ``cfg.trait`` (a trait job's config) among the multi-task traits."""
    name = str(cfg.trait.name)
    if name not in mt.names:
        raise DataError(f"trait {name!r} is not one of the multi-task traits {mt.names}")
    return mt.names.index(name)


def trait_fold(cfg: DictConfig, cohort: Cohort) -> tuple[TraitCohort, FoldSplit, Standardizer]:
    """A trait job's cohort and fold as the multi-task job had them, and its standardizer."""
    mt, split = multitask_fold(cfg, cohort)
    tc, trait_split = trait_part(mt, trait_index(cfg, mt), split)
    return tc, trait_split, Standardizer(mt.X[split.fit])


def trait_job_config(cfg: DictConfig, t: int) -> DictConfig:
    """Trait ``t``'s job config: ``trait`` is that trait, ``model.name`` ``<name>_multitask``."""
    job = cfg.copy()
    with open_dict(job):
        job.trait = trait_configs(cfg)[t].copy()
        job.model.name = f"{cfg.model.name}{MODEL_SUFFIX}"
    return job


def run_multitask(cfg: DictConfig) -> dict:
    """Train one fold's multi-task network; write one single-trait job dir per trait.

    Resuming and replacing follow ``task=finetune``: a finished job (its ``multitask.json``) of
    the same config is skipped, of another config refused unless ``overwrite=true``; a failed
    job removes what it wrote.
    """
    out_dir = Path(cfg.paths.output_dir)
    check_output_dir(out_dir)
    record_path = out_dir / layout.MULTITASK_RECORD
    job_hash = config_hash(cfg)
    done = resumable(cfg, out_dir, record_path, job_hash)
    if done is not None:
        return done
    names = [s.name for s in trait_specs(cfg)]
    outputs = [record_path, *job_outputs(cfg, out_dir)]
    outputs += [out_dir / layout.multitask_trait_dir(n) for n in names]
    clear_outputs(outputs)
    start = time.perf_counter()
    try:
        record = train_and_write(cfg, out_dir, job_hash, start)
    except BaseException:
        if not record_path.exists():
            clear_outputs(outputs)
        raise
    return record


def train_and_write(cfg: DictConfig, out_dir: Path, job_hash: str, start: float) -> dict:
    """Cohort, fold, one network, then each trait's job dir; ``multitask.json`` last."""
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    cfg = resolve_pretraining(cfg, cohort, command_line_keys())
    check_multitask_model(cfg)  # model.without_pretraining may have set an ensemble
    mt, split = multitask_fold(cfg, cohort)
    write_json(out_dir / layout.COHORT, cohort_record(cohort, mt, split))
    module, checkpoint, dm, epochs_run = fit_multitask(cfg, cohort, mt, split)
    traits = {}
    for t, spec in enumerate(mt.specs):
        metrics = write_trait_job(
            cfg,
            t,
            out_dir,
            mt,
            split,
            module,
            dm.scaler,
            cohort,
            job_hash,
            start,
            checkpoint,
            epochs_run,
        )
        traits[spec.name] = {
            "dir": layout.multitask_trait_dir(spec.name),
            "test_auroc": metrics["test_auroc"],
            "val_auroc": metrics["val_auroc"],
        }
    record = {
        "traits": traits,
        "model": f"{cfg.model.name}{MODEL_SUFFIX}",
        "fold": int(cfg.fold),
        "n_folds": int(cfg.n_folds),
        "split_seed": repeat_split_seed(cfg.split_seed, cfg.get("repeat")),
        "stratify": str(cfg.multitask.stratify),
        "loss_weights": dict(zip(mt.names, loss_weights(cfg, mt.names), strict=True)),
        "n_train": int(len(split.fit)),
        "n_val": int(len(split.val)),
        "n_test": int(len(split.test)),
        "val_auroc": float(checkpoint.best_score),  # mean over traits at the chosen epoch
        "best_epoch": int(checkpoint.best_epoch),
        "elapsed_s": round(time.perf_counter() - start, 3),
        "config_hash": job_hash,
        "inputs": input_fingerprints(cfg),  # sha256 of each data file: resume notices a change
    }
    write_json(out_dir / layout.MULTITASK_RECORD, record)  # last: the job is complete
    log.info(
        "multitask fold %d: %s (inner-val mean AUROC %.3f, epoch %d)",
        cfg.fold,
        ", ".join(f"{n} {v['test_auroc']:.3f}" for n, v in traits.items()),
        record["val_auroc"],
        record["best_epoch"],
    )
    return record


def cohort_record(cohort: Cohort, mt: MultiTaskCohort, split: FoldSplit) -> dict:
    """The multi-task job's cohort.json: per-trait counts and each part's labelled patients."""
    parts = {"fit": split.fit, "val": split.val, "test": split.test}
    return {
        **mt.report,
        "n_pretrain_patients": len(cohort.pretrain_patients),
        "expression_file": str(cohort.expression_file),
        "label_files": [str(p) for p in cohort.label_files],
        "clinical_file": str(cohort.clinical_file) if cohort.clinical_file else None,
        "fold_class_counts": {
            spec.name: {
                part: class_counts(mt.Y[idx, t][mt.Y[idx, t] != MISSING], spec)
                for part, idx in parts.items()
            }
            for t, spec in enumerate(mt.specs)
        },
    }


def build_multitask(cfg: DictConfig, mt: MultiTaskCohort, dm: TraitDataModule) -> MultiTaskModule:
    """The network: ``model.*`` as the single-trait network, class weights per trait."""
    m = cfg.model
    heads = [{"name": s.name, "kind": s.kind, "n_classes": s.n_classes} for s in mt.specs]
    weights = None
    if m.class_balanced:
        weights = []
        for t, spec in enumerate(mt.specs):
            y = dm.y["fit"][:, t]
            counts = torch.bincount(y[y != MISSING], minlength=spec.n_classes).float()
            weights.append((counts.sum() / (spec.n_classes * counts.clamp(min=1))).tolist())
    return MultiTaskModule(
        n_genes=mt.X.shape[1],
        heads=heads,
        hidden_dims=list(m.hidden_dims),
        activation=m.activation,
        batchnorm=m.batchnorm,
        dropout=m.dropout,
        input_dropout=m.input_dropout,
        freeze_layers=m.freeze_layers,
        optimizer=OmegaConf.to_container(m.optimizer, resolve=True),
        class_weights=weights,
        loss_weights=loss_weights(cfg, mt.names),
    )


def fit_multitask(
    cfg: DictConfig, cohort: Cohort, mt: MultiTaskCohort, split: FoldSplit
) -> tuple[MultiTaskModule, BestWeights, TraitDataModule, int]:
    """Train on ``split.fit``, choose the epoch on ``split.val`` (mean AUROC over traits)."""
    m = cfg.model
    encoder = None
    if m.transfer_layers > 0:  # before seeding, as the single-trait network
        fit_ids = [mt.patient_ids[i] for i in split.fit]
        encoder, _ = load_or_pretrain(cfg, cohort, set(mt.patient_ids), fit_ids)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = TraitDataModule(
        mt.X,
        mt.Y,
        split,
        batch_size=m.batch_size,
        seed=cfg.seed,
        patient_ids=mt.patient_ids,
        genes=mt.genes,
    )
    module = build_multitask(cfg, mt, dm)
    if encoder is not None:
        module.load_encoder(encoder.encoder, m.transfer_layers)
    # interpreters run per trait on the trait's view after training (write_trait_job)
    callbacks = [
        c
        for c in instantiate_callbacks(progress_config(cfg))
        if not isinstance(c, InterpretationCallback)
    ]
    selection = [c for c in callbacks if isinstance(c, BestWeights)]
    if len(selection) != 1:
        raise ValueError(
            "callbacks: expected exactly one BestWeights (callbacks.model_checkpoint) to choose "
            f"the epoch on inner validation, found {len(selection)}"
        )
    loggers = [hydra.utils.instantiate(c) for c in (cfg.get("logger") or {}).values()]
    trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    trainer.fit(module, dm)  # the checkpoint callback loads the best weights at fit end
    module.eval()
    return module, selection[0], dm, int(trainer.current_epoch)


def progress_config(cfg: DictConfig) -> DictConfig:
    """``cfg`` whose progress lines name the multi-task network, not ``cfg.trait``."""
    if OmegaConf.select(cfg, "callbacks.progress.label") is None:
        return cfg
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.callbacks.progress.label = f"multitask {cfg.model.name} fold {cfg.fold}"
    return cfg


def write_trait_job(
    cfg: DictConfig,
    t: int,
    out_dir: Path,
    mt: MultiTaskCohort,
    split: FoldSplit,
    module: MultiTaskModule,
    scaler: Standardizer,
    cohort: Cohort,
    job_hash: str,
    start: float,
    checkpoint: BestWeights,
    epochs_run: int,
) -> dict:
    """Trait ``t``'s single-trait job dir: predictions, interpreters, bundle, metrics last."""
    spec = mt.specs[t]
    job_cfg = trait_job_config(cfg, t)
    trait_dir = out_dir / layout.multitask_trait_dir(spec.name)
    trait_dir.mkdir(parents=True, exist_ok=True)
    write_hydra_record(out_dir, trait_dir, job_cfg)
    tc, part = trait_part(mt, t, split)
    view = module.trait_view(t)
    dm = TraitDataModule.of_trait(tc, part, cfg.model.batch_size, cfg.seed, scaler=scaler)
    with torch.no_grad():
        test_probs = view.probabilities(view(dm.x["test"])).float().numpy()
    y_test = tc.y[part.test]
    write_predictions(
        trait_dir, [tc.patient_ids[i] for i in part.test], cfg.fold, y_test, test_probs, spec
    )
    write_json(trait_dir / layout.COHORT, {**tc.report, "multitask": mt.report})
    for callback in instantiate_callbacks(job_cfg):
        if isinstance(callback, InterpretationCallback):
            callback.writer(view, dm, callback.options, None, cfg.fold, trait_dir)
    test = trait_score(y_test, test_probs, spec)
    metrics = {
        "trait": spec.name,
        "model": str(job_cfg.model.name),
        "fold": int(cfg.fold),
        "n_folds": int(cfg.n_folds),
        "split_seed": repeat_split_seed(cfg.split_seed, cfg.get("repeat")),
        "bootstrap": None,
        "n_train": int(len(part.fit)),
        "n_val": int(len(part.val)),
        "n_test": int(len(part.test)),
        **{f"test_{k}": v for k, v in test.items()},
        "val_auroc": inner_auroc(view, dm),  # this trait's, at the epoch chosen on the mean
        "best_epoch": int(checkpoint.best_epoch),
        "epochs_run": epochs_run,
        "classes": spec.class_names,
        "permuted_labels": spec.permute_labels,
        "null_permutation": None,
        "multitask": {
            "traits": mt.names,
            "val_auroc_mean": float(checkpoint.best_score),
            "n_train_all_traits": int(len(split.fit)),
        },
        "training_hash": training_hash(cfg),
        "elapsed_s": round(time.perf_counter() - start, 3),
        "environment": job_environment(),
        "config_hash": job_hash,
        "inputs": input_fingerprints(cfg),
    }
    if cfg.save_model:
        save_bundle(
            trait_dir / layout.MODEL_DIR,
            family="nn",
            model_name=metrics["model"],
            model=view,
            genes=tc.genes,
            fit_X=mt.X[split.fit],  # the network's standardizer: every fit patient of the fold
            training_patients=[mt.patient_ids[i] for i in split.train],
            trait=spec.to_config(),
            class_names=spec.class_names,
            model_config=OmegaConf.to_container(job_cfg.model, resolve=True),
            metrics=metrics,
            extra={
                "job": {k: metrics[k] for k in ("fold", "n_folds", "split_seed", "bootstrap")},
                "config_hash": job_hash,
                "data_digest": cohort.digest,
                "multitask": {"traits": mt.names, "trait": spec.name},
                "estimate": "one trait's view of one fold's multi-task network: its held-out "
                f"score is in metrics, the sweep's estimate in {layout.SUMMARY_DIR}/"
                f"{layout.CV_SUMMARY}",
            },
        )
    write_json(trait_dir / layout.METRICS, metrics)  # last: the trait's job is complete
    return metrics


def inner_auroc(view: torch.nn.Module, dm: TraitDataModule) -> float:
    """A trait view's AUROC on its inner-validation patients (0.5 if they hold one class)."""
    with torch.no_grad():
        probs = view.probabilities(view(dm.x["val"])).float().numpy()
    return float(np.nan_to_num(auroc(dm.y["val"].numpy(), probs), nan=0.5))


def write_hydra_record(out_dir: Path, trait_dir: Path, job_cfg: DictConfig) -> None:
    """The trait dir's ``.hydra/``: the job's overrides and the trait job's config."""
    target = trait_dir / layout.HYDRA_CONFIG
    target.parent.mkdir(parents=True, exist_ok=True)
    overrides = out_dir / layout.HYDRA_OVERRIDES
    if overrides.is_file():
        shutil.copyfile(overrides, trait_dir / layout.HYDRA_OVERRIDES)
    else:  # outside Hydra (a test calling the task): no overrides
        (trait_dir / layout.HYDRA_OVERRIDES).write_text("[]\n")
    container = OmegaConf.to_container(job_cfg, resolve=False)
    container.pop("hydra", None)
    OmegaConf.save(OmegaConf.create(container), target)


def held_out_datamodule(job_cfg: DictConfig, cohort: Cohort) -> TraitDataModule:
    """A trait job's held-out datamodule rebuilt from its config (``task=interpret``)."""
    tc, split, scaler = trait_fold(job_cfg, cohort)
    return TraitDataModule.of_trait(
        tc, split, job_cfg.model.batch_size, job_cfg.seed, scaler=scaler
    )
