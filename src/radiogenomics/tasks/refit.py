"""``task=refit``: one final model per configuration of a sweep, trained on all labelled patients.

The sweep's cross-validation chose everything (hyperparameters, the network's epoch count) and
measured the procedure; the refit model repeats that procedure once on every labelled patient of
the configuration's trait, for deployment (``task=predict``). It has no held-out patients, so its
performance estimate is the sweep's CV estimate, copied into ``refit.json`` and the bundle.

* network: trained for a fixed number of epochs, the median over the folds of
  (``best_epoch`` + 1) rounded up, with no validation split and no early stopping; same seed,
  same cached autoencoder (pretrained without the trait cohort), class weights and the
  standardizer from all patients.
* comparator: ``fit_comparator``'s inner-CV tuning on all patients, then its refit pipeline.

Bootstrap replicates are not refit (an info line says so): a replicate's models estimate the
spread of the CV estimate; the deployable model of that setting is the plain-CV configuration's.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.callbacks import EarlyStopping

from radiogenomics.callbacks.best_weights import BestWeights
from radiogenomics.callbacks.epoch_progress import ProgressLog
from radiogenomics.callbacks.weight_averaging import weight_averaging_callbacks
from radiogenomics.data.cohort import Cohort, TraitCohort, load_cohort, trait_cohort
from radiogenomics.data.datamodules import TraitDataModule
from radiogenomics.data.splits import FoldSplit
from radiogenomics.data.traits import TraitSpec
from radiogenomics.errors import DataError
from radiogenomics.models.baselines import fit_comparator
from radiogenomics.models.bundle import save_bundle
from radiogenomics.models.classifier import ClassifierModule
from radiogenomics.results import layout
from radiogenomics.results.sweep import GROUP_KEYS, SweepData, job_config, load_jobs
from radiogenomics.tasks.finetune import (
    build_classifier,
    fit_gene_mask,
    fold_input_config,
    network_options,
    set_input_layer,
    unlabelled_expression,
)
from radiogenomics.tasks.multitask import is_multitask
from radiogenomics.tasks.pretrain import job_override_keys, load_or_pretrain, resolve_pretraining
from radiogenomics.tasks.validation import refuse_overlap
from radiogenomics.utils import write_json

log = logging.getLogger(__name__)

CV_SOURCE = f"{layout.SUMMARY_DIR}/{layout.CV_SUMMARY}"
ESTIMATE = (
    "the refit model was trained on every labelled patient, so it has no held-out score of its "
    "own: its performance estimate IS the sweep's cross-validated estimate (pooled out-of-fold "
    f"AUROC with its 95% CI, {CV_SOURCE} of the sweep), which measures the procedure that "
    "produced this model"
)
EPOCH_RULE = "median over the folds of (best_epoch + 1), rounded up"


def run_refit(cfg: DictConfig) -> dict:
    """Refit every plain-CV configuration of ``cfg.refit.sweep``; write bundles and refit.json.

    Every configuration's config and data are checked before the first one is trained.
    """
    sweep_dir = sweep_path(cfg)
    out_dir = Path(cfg.paths.output_dir)
    refuse_overlap("refit", "refit.sweep", sweep_dir, out_dir)
    paths = OmegaConf.to_container(cfg.paths, resolve=True)
    plans = [
        prepare(sweep_dir, key, group, paths, out_dir) for key, group in configurations(sweep_dir)
    ]
    records = [refit_configuration(sweep_dir, plan, out_dir) for plan in plans]
    report = {"sweep": str(sweep_dir), "estimate": ESTIMATE, "configurations": records}
    write_json(out_dir / layout.REFIT_REPORT, report)
    log.info("refit %d configuration(s) of %s -> %s", len(records), sweep_dir, out_dir)
    return report


def sweep_path(cfg: DictConfig) -> Path:
    """The sweep dir named by ``refit.sweep``; a DataError when it is unset or missing."""
    sweep = (cfg.get("refit") or {}).get("sweep")
    if not sweep:
        raise DataError("refit.sweep is not set: pass refit.sweep=<sweep dir> (a finetune -m run)")
    path = Path(str(sweep)).expanduser().resolve()
    if not path.is_dir():
        raise DataError(f"refit.sweep={sweep}: no such sweep directory")
    return path


def configurations(sweep_dir: Path) -> list[tuple[dict, pd.DataFrame]]:
    """(configuration key, its completed jobs) of every plain-CV configuration of the sweep."""
    jobs = load_jobs(sweep_dir)
    if jobs.empty:
        raise DataError(
            f"{sweep_dir}: no completed finetune job (no {layout.METRICS}): nothing to refit"
        )
    found = []
    for values, group in jobs.groupby(GROUP_KEYS, sort=True):
        key = dict(zip(GROUP_KEYS, values, strict=True))
        if key["bootstrap"] != "none":
            log.info(
                "skipping bootstrap replicate %s of %s %s: only plain-CV configurations are refit",
                key["bootstrap"],
                key["trait"],
                key["model"],
            )
            continue
        n_folds = int(group["n_folds"].iloc[0])
        if len(group) < n_folds:
            log.warning(
                "%s: %d of %d folds complete; refitting from those",
                layout.config_stem(key),
                len(group),
                n_folds,
            )
        found.append((key, group.sort_values("fold")))
    if not found:
        raise DataError(
            f"{sweep_dir}: only bootstrap replicates, no plain-CV configuration to refit "
            "(run the sweep with bootstrap=null)"
        )
    return found


@dataclass
class Plan:
    """One configuration to refit: its key, completed jobs (by fold) and the config as trained."""

    key: dict
    group: pd.DataFrame
    job_dirs: list[Path]
    cfg: DictConfig

    @property
    def stem(self) -> str:
        """``<trait>_<model>_<config hash>``: the configuration's dir in the refit run."""
        return layout.config_stem(self.key)


def prepare(sweep_dir: Path, key: dict, group: pd.DataFrame, paths: dict, out_dir: Path) -> Plan:
    """The configuration's plan, after checking its data against the data it was trained on."""
    job_dirs = [sweep_dir / job for job in group["job"]]
    cfg = configuration_config(job_dirs[0], paths, out_dir / layout.config_stem(key))
    if is_multitask(cfg):
        raise DataError(
            f"{layout.config_stem(key)}: one trait of a multi-task network (multitask=...): "
            "task=refit refits single-trait configurations only"
        )
    cohort, tc = load_data(cfg)
    check_unchanged(job_dirs, cohort, tc)
    return Plan(key=key, group=group, job_dirs=job_dirs, cfg=cfg)


def load_data(cfg: DictConfig) -> tuple[Cohort, TraitCohort]:
    """The cohort and the trait cohort (every labelled patient of the trait) of a job config."""
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    return cohort, trait_cohort(cohort, TraitSpec.from_config(cfg.trait))


def refit_configuration(sweep_dir: Path, plan: Plan, out_dir: Path) -> dict:
    """Refit one configuration on all its trait's labelled patients; its refit.json record."""
    start = time.perf_counter()
    cfg, group, stem = plan.cfg, plan.group, plan.stem
    cohort, tc = load_data(cfg)
    cfg = resolve_pretraining(cfg, cohort, job_override_keys(plan.job_dirs[0]))  # as the folds
    record = {
        **plan.key,
        "family": cfg.model.family,
        "model_dir": f"{stem}/{layout.MODEL_DIR}",
        "n_patients": len(tc.y),
        "class_counts": tc.report.get("class_counts"),
        "n_folds": int(group["n_folds"].iloc[0]),
        "folds_used": [int(f) for f in group["fold"]],
    }
    if cfg.model.family == "nn":
        best = [
            _best_epoch(e, job) for e, job in zip(group["best_epoch"], plan.job_dirs, strict=True)
        ]
        epochs = epoch_count(best)
        log.info("%s: training on %d patients for %d epochs (%s)", stem, len(tc.y), epochs, best)
        model, epochs_run = train_network(cfg, cohort, tc, epochs, out_dir / stem)
        record.update(
            fold_best_epochs=best, epochs=epochs, epochs_run=epochs_run, epoch_rule=EPOCH_RULE
        )
    elif cfg.model.family == "baseline":
        model, tuning = tune_comparator(cfg, tc)
        record.update(tuning)
    else:
        raise ValueError(f"unknown model family {cfg.model.family!r}; expected nn or baseline")
    record["cv_estimate"] = cv_estimate(sweep_dir, plan.key, group)
    record["elapsed_s"] = round(time.perf_counter() - start, 3)
    write_refit_bundle(out_dir / stem / layout.MODEL_DIR, cfg, cohort, tc, model, record)
    log.info(
        "%s: refit bundle written (%.1fs); %s", stem, record["elapsed_s"], _estimate_line(record)
    )
    return record


def configuration_config(job_dir: Path, paths: dict, out_dir: Path) -> DictConfig:
    """The first fold's composed config (data, trait, model, pretrain, trainer as trained).

    Its ``paths`` are this run's (the cache, and ``out_dir`` for the configuration's files).
    """
    try:
        cfg = job_config(job_dir)
    except FileNotFoundError as err:
        raise DataError(str(err)) from None
    with open_dict(cfg):
        cfg.paths = OmegaConf.create({**paths, "output_dir": str(out_dir)})
    return cfg


def check_unchanged(job_dirs: list[Path], cohort: Cohort, tc: TraitCohort) -> None:
    """DataError when the expression data or the trait's labels differ from those trained on."""
    digests = {}
    for job in job_dirs:
        manifest = job / layout.MODEL_DIR / layout.BUNDLE_MANIFEST
        if manifest.is_file():
            digests[job.name] = json.loads(manifest.read_text()).get("data_digest")
    if not digests:
        log.warning("%s: no fold bundle to compare the data digest with", job_dirs[0].parent)
    changed = {job: d for job, d in digests.items() if d != cohort.digest}
    if changed:
        job, digest = next(iter(changed.items()))
        raise DataError(
            f"{cohort.expression_file}: the expression data changed since the sweep was trained "
            f"(digest {cohort.digest}; job {job} was trained on {digest}): refit on the data the "
            "sweep was cross-validated on, or rerun the sweep"
        )
    record = job_dirs[0] / layout.COHORT
    if record.is_file():
        trained = json.loads(record.read_text())
        now = {"n_patients": len(tc.y), "class_counts": tc.report.get("class_counts")}
        was = {k: trained.get(k) for k in now}
        if was != now:
            raise DataError(
                f"{', '.join(str(p) for p in cohort.label_files)}: the {tc.spec.name!r} labels "
                f"changed since the sweep was trained (then {was}, now {now}): refit on the data "
                "the sweep was cross-validated on, or rerun the sweep"
            )


def _best_epoch(value, job_dir: Path) -> int:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise DataError(f"{job_dir / layout.METRICS}: a network job without best_epoch")
    return int(value)


def epoch_count(best_epochs: list[int]) -> int:
    """Epochs of the refit network: the folds' median epochs to their best (0-based best + 1)."""
    return max(1, math.ceil(statistics.median(e + 1 for e in best_epochs)))


def everyone(n: int) -> FoldSplit:
    """A split that fits on all ``n`` patients: no inner validation, nothing held out."""
    empty = np.array([], dtype=np.int64)
    return FoldSplit(fit=np.arange(n), val=empty, test=empty)


class TrainEpochProgress(pl.Callback):
    """Drive a :class:`ProgressLog` from training epochs: a refit has no validation epochs."""

    def __init__(self, progress: ProgressLog) -> None:
        self.progress = progress

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.progress.on_fit_start(trainer, pl_module)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.progress.on_validation_epoch_end(trainer, pl_module)


def refit_callbacks(cfg: DictConfig, label: str) -> list[pl.Callback]:
    """The job's ``callbacks`` minus those that watch validation (epoch choice, early stopping).

    Interpretation callbacks act after ``trainer.test``, which a refit never runs: left out.
    """
    built = []
    for section in (cfg.get("callbacks") or {}).values():
        if not isinstance(section, DictConfig) or "_target_" not in section:
            continue
        kwargs = OmegaConf.to_container(section, resolve=True)
        if not kwargs.pop("enabled", True):
            continue
        callback = hydra.utils.instantiate(kwargs)
        if isinstance(callback, BestWeights | EarlyStopping):
            continue
        if isinstance(callback, ProgressLog):
            callback.label = label
            callback = TrainEpochProgress(callback)
        built.append(callback)
    return built


def train_network(
    cfg: DictConfig, cohort: Cohort, tc: TraitCohort, epochs: int, work_dir: Path
) -> tuple[ClassifierModule, int]:
    """Train the network on every patient for ``epochs`` epochs: (model in eval mode, epochs run)."""
    m = cfg.model
    encoder = None
    if m.transfer_layers > 0:  # the fold jobs' cached autoencoder (same data, patients, settings)
        encoder, _ = load_or_pretrain(cfg, cohort, set(tc.patient_ids), list(tc.patient_ids))
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = TraitDataModule.of_trait(tc, everyone(len(tc.y)), m.batch_size, cfg.seed)
    unlabelled = unlabelled_expression(cfg, cohort, tc)
    cfg, _ = fold_input_config(cfg, tc, dm, unlabelled)  # a too-large PCA clamped, with a warning
    module = build_classifier(cfg, tc, dm)  # class weights from all patients
    set_input_layer(cfg, tc, dm, module, unlabelled)  # model.input
    if encoder is not None:
        module.load_encoder(encoder.encoder, m.transfer_layers)
    if module.input_mask:  # the in-fold gene filter, refit on every patient
        module.set_input_mask(fit_gene_mask(network_options(cfg), tc, dm.split, dm))
    trainer = hydra.utils.instantiate(
        cfg.trainer,
        max_epochs=epochs,
        min_epochs=epochs,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        enable_checkpointing=False,
        callbacks=[  # SWA: the folds' start epoch, the average of start..last loaded at the end
            *weight_averaging_callbacks(
                network_options(cfg).swa, cfg.trainer.max_epochs, load_at_end=True
            ),
            *refit_callbacks(cfg, f"{tc.spec.name} {m.name} refit"),
        ],
        logger=False,
        default_root_dir=str(work_dir),
    )
    trainer.fit(module, dm)
    return module.eval(), int(trainer.current_epoch)


def tune_comparator(cfg: DictConfig, tc: TraitCohort) -> tuple[object, dict]:
    """Inner-CV tuning on every patient, then the refit pipeline: (pipeline, tuning record)."""
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    result = fit_comparator(
        model_cfg,
        tc.X,
        tc.y,
        everyone(len(tc.y)),
        tc.spec.n_classes,
        seed=cfg.seed,
        kind=tc.spec.kind,
    )
    tuning = {
        "best_params": result.best_params,
        "inner_cv_auroc": result.val_auroc,
        "inner_cv_note": "the tuning score of the chosen hyperparameters (optimistic): not a "
        "performance estimate",
    }
    return result.model, tuning


def cv_estimate(sweep_dir: Path, key: dict, group: pd.DataFrame) -> dict:
    """The sweep's CV estimate of this configuration (its row of the sweep's cv_summary.csv).

    Without that file: the folds' mean AUROC from their metrics.json, and a note.
    """
    table_path = layout.summary_dir(sweep_dir) / layout.CV_SUMMARY
    table = SweepData(sweep_dir).summary_table(layout.CV_SUMMARY)
    if table is not None:
        match = np.logical_and.reduce([table[k].astype(str) == str(v) for k, v in key.items()])
        if match.any():
            row = table[match].iloc[0].drop(labels=GROUP_KEYS)
            return {"source": str(table_path), **{k: _plain(v) for k, v in row.items()}}
    if "test_auroc" not in group:  # a continuous trait: the folds' R²
        r2 = group["test_r2"].astype(float)
        return {
            "source": f"{sweep_dir} {layout.METRICS} files ({CV_SOURCE} not found)",
            "n_jobs": len(group),
            "mean_r2": float(r2.mean()),
        }
    aurocs = group["test_auroc"].astype(float)
    return {
        "source": f"{sweep_dir} {layout.METRICS} files ({CV_SOURCE} not found or without this "
        "configuration: rewrite it with scripts/summarize.py for the pooled AUROC and its CI)",
        "n_jobs": len(group),
        "mean_auroc": float(aurocs.mean()),
        "sd_auroc": float(aurocs.std(ddof=1)) if len(aurocs) > 1 else None,
    }


def _estimate_line(record: dict) -> str:
    cv = record["cv_estimate"]
    if "pooled_r2" in cv or "mean_r2" in cv:  # a continuous trait
        if cv.get("pooled_r2") is None:
            return f"its estimate: mean fold R² {cv['mean_r2']:.3f} (no {CV_SOURCE})"
        return (
            f"its estimate: the sweep's pooled CV R² {cv['pooled_r2']:.3f} "
            f"[{cv['pooled_r2_ci_low']:.3f}, {cv['pooled_r2_ci_high']:.3f}]"
        )
    if cv.get("pooled_auroc") is None:
        return f"its estimate: mean fold AUROC {cv['mean_auroc']:.3f} (no {CV_SOURCE})"
    low, high = cv.get("pooled_auroc_ci_low"), cv.get("pooled_auroc_ci_high")
    ci = f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else ""
    return f"its estimate: the sweep's pooled CV AUROC {cv['pooled_auroc']:.3f}{ci}"


def _plain(value):
    """numpy scalars -> Python scalars, NaN -> None (JSON)."""
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and math.isnan(value) else value


def write_refit_bundle(
    directory: Path, cfg: DictConfig, cohort: Cohort, tc: TraitCohort, model, record: dict
) -> Path:
    """The refit model's bundle: every patient's standardizer, the CV estimate as its metrics."""
    details = {k: v for k, v in record.items() if k not in ("cv_estimate", "elapsed_s")}
    return save_bundle(
        directory,
        family=cfg.model.family,
        model_name=cfg.model.name,
        model=model,
        genes=tc.genes,
        fit_X=tc.X,
        training_patients=tc.patient_ids,
        trait=tc.spec.to_config(),
        class_names=tc.spec.class_names,
        model_config=OmegaConf.to_container(cfg.model, resolve=True),
        metrics={"refit": True, **record["cv_estimate"]},
        extra={
            "refit": details,
            "job": {
                "fold": None,
                "n_folds": record["n_folds"],
                "split_seed": cfg.split_seed,
                "bootstrap": None,
            },
            "config_hash": record["config_hash"],
            "data_digest": cohort.digest,
            "estimate": ESTIMATE,
        },
    )
