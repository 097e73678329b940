"""``task=finetune``: one job = (trait, model, fold[, bootstrap]) -> the job's files.

The network is trained on ``split.fit``, its epoch chosen on ``split.val`` (inner validation
carved from the training folds) and ``split.test`` scored once; comparators are tuned by inner
CV on the training folds. Both return a :class:`~radiogenomics.models.result.FoldResult`.
"""

from __future__ import annotations

import copy
import inspect
import logging
import shutil
import time
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.callbacks import EarlyStopping

from radiogenomics.callbacks.best_weights import BestWeights
from radiogenomics.callbacks.interpretation import InterpretationCallback
from radiogenomics.callbacks.weight_averaging import weight_averaging_callbacks
from radiogenomics.config_schema import OFF, NetworkOptions, schema_fields, typed, value_or_off
from radiogenomics.data.cohort import Cohort, TraitCohort, load_cohort, trait_cohort
from radiogenomics.data.datamodules import TraitDataModule
from radiogenomics.data.splits import (
    FoldSplit,
    make_fold_split,
    member_folds,
    null_labels,
    repeat_split_seed,
    stratification_labels,
)
from radiogenomics.data.traits import TraitSpec, class_counts
from radiogenomics.environment import job_environment
from radiogenomics.errors import DataError
from radiogenomics.evaluation.metrics import as_prob_matrix
from radiogenomics.evaluation.trait_metrics import trait_score
from radiogenomics.exports.wandb import log_job, start_job_run
from radiogenomics.interpreters import enabled, entries
from radiogenomics.models.bundle import save_bundle
from radiogenomics.models.classifier import ClassifierModule, gene_filter_mask
from radiogenomics.models.inputs import (
    InputOptions,
    fit_input_layer,
    input_arguments,
    pca_limit,
)
from radiogenomics.models.regression_head import fit_continuous_head, select_on
from radiogenomics.models.regularization import Regularization
from radiogenomics.models.result import FoldResult
from radiogenomics.results import layout
from radiogenomics.tasks.comparator_interpret import interpret_comparator_job
from radiogenomics.tasks.jobs import config_hash, input_fingerprints, resumable, training_hash
from radiogenomics.tasks.pretrain import command_line_keys, load_or_pretrain, resolve_pretraining
from radiogenomics.utils import write_csv, write_json

log = logging.getLogger(__name__)


def run_finetune(cfg: DictConfig) -> dict:
    """Train and score one outer fold; write the job's files (metrics.json last).

    A finished job of the same config is skipped (``resume``); a finished job of another config
    in the same dir is refused unless ``overwrite=true``. Files left by an earlier attempt that
    did not finish are removed first, and a job that fails removes what it wrote (keeping
    ``.hydra/`` and its log), so a job dir holds either a complete job or none.
    """
    out_dir = Path(cfg.paths.output_dir)
    check_output_dir(out_dir)
    metrics_path = out_dir / layout.METRICS
    job_hash = config_hash(cfg)
    done = resumable(cfg, out_dir, metrics_path, job_hash)
    if done is not None:
        return done
    outputs = job_outputs(cfg, out_dir)
    clear_outputs(outputs)  # metrics.json first: a half-replaced job never looks complete
    start = time.perf_counter()
    start_job_run(cfg)  # no-op unless logger=wandb
    try:
        metrics = train_and_write(cfg, out_dir, job_hash, start)
    except BaseException:
        if (out_dir / layout.METRICS).exists():  # written last: the job finished before a stop
            raise  # signal reached it (a finished job is kept, as resume expects)
        removed = clear_outputs(outputs)
        if removed:
            log.error(
                "job failed: removed its partial files (%s); kept .hydra/ and the log",
                ", ".join(p.name for p in removed),
            )
        raise
    log_job(cfg, out_dir, metrics)  # no-op unless logger=wandb
    return metrics


def train_and_write(cfg: DictConfig, out_dir: Path, job_hash: str, start: float) -> dict:
    """The job itself: cohort, split, fit, predictions, bundle, and metrics.json last."""
    spec = TraitSpec.from_config(cfg.trait)
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    cfg = resolve_pretraining(cfg, cohort, command_line_keys())  # none without unlabelled patients
    tc = trait_cohort(cohort, spec, n_folds=cfg.n_folds)
    spec = tc.spec  # concrete classes (trait=column infers them from the label column)
    split_seed = repeat_split_seed(cfg.split_seed, cfg.get("repeat"))  # repeats=R: one per repeat
    split = make_fold_split(
        stratification_labels(tc.y, tc.spec),
        cfg.n_folds,
        cfg.fold,
        split_seed,
        cfg.val_fraction,
        cfg.get("bootstrap"),
    )
    if cfg.get("null_permutation") is not None:  # a permutation-null model
        tc.y = null_labels(tc.y, split, split_seed, int(cfg.null_permutation))
        cfg = null_job_config(cfg)
    write_json(out_dir / layout.COHORT, cohort_record(cohort, tc, split))

    result = fit_model(cfg, cohort, tc, split)
    y_test = tc.y[split.test]
    write_predictions(
        out_dir, [tc.patient_ids[i] for i in split.test], cfg.fold, y_test, result.test_probs, spec
    )
    if cfg.model.family == "baseline":  # no trainer, so no callbacks: interpret it here
        interpret_comparator_job(cfg, result.model, tc, split, out_dir)
    test = trait_score(y_test, result.test_probs, spec)
    fit = result.metrics()
    metrics = {
        "trait": spec.name,
        "model": cfg.model.name,
        "fold": int(cfg.fold),
        "n_folds": int(cfg.n_folds),
        "split_seed": split_seed,  # the repeat's (split_seed + repeat): tells repeats apart
        "bootstrap": cfg.get("bootstrap"),
        "n_train": fit.pop("n_train"),
        "n_val": fit.pop("n_val"),
        "n_test": int(len(split.test)),
        **{f"test_{k}": v for k, v in test.items()},
        **fit,
        "classes": spec.class_names,
        **({"trait_kind": spec.kind, "binary_cut": spec.binary_cut} if spec.is_ordinal else {}),
        "permuted_labels": spec.permute_labels,
        "null_permutation": cfg.get("null_permutation"),
        "training_hash": training_hash(cfg),
        "elapsed_s": round(time.perf_counter() - start, 3),
        "environment": job_environment(),  # CPU capability, threads, numeric package versions
        "config_hash": job_hash,
        "inputs": input_fingerprints(cfg),  # sha256 of each data file: resume notices a change
    }
    if cfg.save_model:
        write_model_bundle(out_dir / layout.MODEL_DIR, cfg, cohort, tc, split, result, metrics)
    write_json(out_dir / layout.METRICS, metrics)  # last: a job with metrics.json is complete
    log.info(
        "trait=%s model=%s fold=%d: %s (best epoch %s, inner-validation %s %.3f)",
        spec.name,
        cfg.model.name,
        cfg.fold,
        held_out_line(test),
        result.best_epoch,
        result.selection_metric,
        result.val_auroc,
    )
    return metrics


def held_out_line(test: dict[str, float]) -> str:
    """The log's held-out scores: AUROC and AP, or R², Spearman and MAE (continuous)."""
    names = ("r2", "spearman", "mae") if "r2" in test else ("auroc", "ap")
    return ", ".join(f"test {name} {test[name]:.3f}" for name in names)


def null_job_config(cfg: DictConfig) -> DictConfig:
    """A null job's config: no masking controls, no per-patient GSEA (the null summary needs
    neither: it compares the pooled masking AUROCs and computes the nulls' set-level GSEA)."""
    cfg = cfg.copy()
    with open_dict(cfg):
        for entry in entries():
            section = OmegaConf.select(cfg, f"interpret.{entry.name}")
            if isinstance(section, DictConfig):
                section.update(entry.null_job)
    return cfg


def check_output_dir(out_dir: Path) -> None:
    """In a sweep (``-m``), a job's output dir must lie inside ``hydra.sweep.dir``."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return
    sweep = Path(str(HydraConfig.get().sweep.dir)).resolve()
    job = out_dir.resolve()
    if sweep not in job.parents:
        raise DataError(
            f"job output dir {job} is outside the sweep dir {sweep}: a sweep's jobs write only "
            "inside hydra.sweep.dir (check paths.output_dir and hydra.sweep.subdir)"
        )


def job_outputs(cfg: DictConfig, out_dir: Path) -> list[Path]:
    """What a finetune job writes into its dir, metrics.json first (not ``.hydra/``, the log,
    ``slot.json`` or W&B runs). Only paths strictly inside ``out_dir`` are listed."""
    names = (
        layout.METRICS,
        layout.PREDICTIONS,
        layout.COHORT,
        layout.MODEL_DIR,
        layout.MASKING_DIR,
        layout.SALIENCY_DIR,
        layout.ATTRIBUTION_DIR,
    )
    paths = [out_dir / name for name in names]
    checkpoints = OmegaConf.select(cfg, "callbacks.model_checkpoint.dirpath")
    if checkpoints:
        paths.append(Path(str(checkpoints)))
    for section in (cfg.get("logger") or {}).values():  # file loggers (csv/): not W&B runs
        target = str(section.get("_target_", "")) if isinstance(section, DictConfig) else ""
        if target.endswith(("CSVLogger", "TensorBoardLogger")) and section.get("name"):
            paths.append(Path(str(section.get("save_dir") or out_dir)) / str(section.name))
    root = out_dir.resolve()
    inside = []
    for path in paths:
        if root in path.resolve().parents and path not in inside:
            inside.append(path)
    return inside


def clear_outputs(paths: list[Path]) -> list[Path]:
    """Remove these files and folders (those present, in order); return the ones removed."""
    removed = []
    for path in paths:
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
            else:
                continue
        except OSError as err:
            log.warning("could not remove %s: %s", path, err)
            continue
        removed.append(path)
    return removed


def write_model_bundle(
    directory: Path,
    cfg: DictConfig,
    cohort: Cohort,
    tc: TraitCohort,
    split: FoldSplit,
    result: FoldResult,
    metrics: dict,
) -> Path:
    """The fold model's bundle: weights, fit-patient preprocessing, trait, config, metrics."""
    kfold = cfg.model.family == "nn" and member_split(cfg) == "kfold"  # standardised on train
    fitted_on = split.fit if cfg.model.family == "nn" and not kfold else split.train
    seen = np.unique(split.train)  # fit and inner-validation patients (tuning saw them too)
    return save_bundle(
        directory,
        family=cfg.model.family,
        model_name=cfg.model.name,
        model=result.model,
        genes=tc.genes,
        fit_X=tc.X[fitted_on],
        training_patients=[tc.patient_ids[i] for i in seen],
        trait=tc.spec.to_config(),
        class_names=tc.spec.class_names,
        model_config=OmegaConf.to_container(cfg.model, resolve=True),
        metrics=metrics,
        extra={
            "job": {k: metrics[k] for k in ("fold", "n_folds", "split_seed", "bootstrap")},
            "config_hash": metrics["config_hash"],
            "data_digest": cohort.digest,
            "estimate": "one fold's model: its held-out score is in metrics, the sweep's "
            f"cross-validated estimate in {layout.SUMMARY_DIR}/{layout.CV_SUMMARY}",
        },
    )


def cohort_record(cohort: Cohort, tc: TraitCohort, split: FoldSplit) -> dict:
    """cohort.json: the trait cohort's report, data files, and class counts per part of the fold."""
    return {
        **tc.report,
        "n_pretrain_patients": len(cohort.pretrain_patients),
        "expression_file": str(cohort.expression_file),
        "label_files": [str(p) for p in cohort.label_files],
        "clinical_file": str(cohort.clinical_file) if cohort.clinical_file else None,
        f"fold_{'targets' if tc.spec.is_continuous else 'class_counts'}": {
            part: fold_part_record(tc.y[idx], tc.spec)
            for part, idx in (("fit", split.fit), ("val", split.val), ("test", split.test))
        },
    }


def fold_part_record(y: np.ndarray, spec: TraitSpec) -> dict:
    """One part of the fold in cohort.json: class counts, or a continuous target's range."""
    if spec.is_continuous:
        return {
            k: float(f(y)) for k, f in (("min", np.min), ("median", np.median), ("max", np.max))
        }
    return class_counts(y, spec)


def fit_model(cfg: DictConfig, cohort: Cohort, tc: TraitCohort, split: FoldSplit) -> FoldResult:
    """Fit ``cfg.model.family`` (nn or baseline) on one split."""
    if cfg.model.family == "nn":
        return fit_network(cfg, cohort, tc, split)
    if cfg.model.family == "baseline":
        from radiogenomics.models.baselines import fit_comparator

        check_comparator_kind(cfg.model.name, tc.spec)
        model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
        return fit_comparator(
            model_cfg, tc.X, tc.y, split, tc.spec.n_classes, seed=cfg.seed, kind=tc.spec.kind
        )
    raise ValueError(f"unknown model family {cfg.model.family!r}; choose nn or baseline")


def check_comparator_kind(name: str, spec: TraitSpec) -> None:
    """A native ordinal comparator needs an ordinal trait of 3+ levels (ConfigError otherwise)."""
    from radiogenomics.errors import ConfigError
    from radiogenomics.models.baselines import ORDINAL_COMPARATORS

    if name in ORDINAL_COMPARATORS and not (spec.is_ordinal and spec.n_classes > 2):
        raise ConfigError(
            f"model={name} fits ordinal traits only: trait {spec.name!r} is {spec.kind} with "
            f"{spec.n_classes} classes; set trait.kind=ordinal (3+ levels) or pick another model"
        )


def write_predictions(
    out_dir: Path, patients: list[str], fold: int, y: np.ndarray, probs: np.ndarray, spec: TraitSpec
) -> Path:
    """predictions.csv: patient_id, fold, y_true, and y_prob (binary) or prob_<class>, or
    y_pred (continuous: the prediction in the target's units)."""
    frame = pd.DataFrame({"patient_id": patients, "fold": fold, "y_true": y})
    if spec.is_continuous:
        frame["y_pred"] = np.asarray(probs, dtype=float)
    elif spec.is_binary:
        frame["y_prob"] = np.asarray(probs, dtype=float)
    else:
        for k, name in enumerate(spec.class_names):
            frame[f"prob_{name}"] = as_prob_matrix(probs)[:, k]
    return write_csv(out_dir / layout.PREDICTIONS, frame)


def build_classifier(cfg: DictConfig, tc: TraitCohort, dm: TraitDataModule) -> ClassifierModule:
    """The classifier for this trait, with class weights (or a continuous target's mean and
    sd) from the fit patients: the typed network options (``network_options``) that the module
    takes by the same name, plus what the data decide."""
    m, continuous = network_options(cfg), tc.spec.is_continuous
    penalty = (
        {} if m.penalty is None else {"penalty": m.penalty.kind, "penalty_weight": m.penalty.weight}
    )
    module = ClassifierModule(
        n_genes=tc.X.shape[1],
        n_classes=tc.spec.n_classes,
        **{name: getattr(m, name) for name in LAYER_OPTIONS},
        optimizer=OmegaConf.to_container(cfg.model.optimizer, resolve=True),  # torch's arguments
        class_weights=None if continuous or not m.class_balanced else dm.class_weights().tolist(),
        input_mask=m.gene_filter is not None and m.gene_filter.method != "none",
        **penalty,  # absent: no penalty
        **input_kwargs(cfg, tc),  # none for the default genes input
        **ensemble_options(m),  # none for a single network
        **({"head": "ordinal"} if tc.spec.is_ordinal else {}),  # ordered levels: ordinal head
    )
    module.regularization = Regularization(
        mixup=m.mixup or 0.0, label_smoothing=m.label_smoothing or 0.0
    )
    if continuous:
        fit_continuous_head(module, dm)
    return module


# the network options ClassifierModule takes as they are, by the same name (the optimizer's torch
# arguments are open-ended; the ensemble's are passed only for an ensemble: ensemble_options)
LAYER_OPTIONS = tuple(
    name
    for name in inspect.signature(ClassifierModule).parameters
    if name in schema_fields(NetworkOptions)
    and name not in ("optimizer", "penalty", "ensemble", "ensemble_style", "member_split")
)


def network_options(cfg: DictConfig) -> NetworkOptions:
    """``cfg.model`` typed by its schema (:class:`~radiogenomics.config_schema.NetworkOptions`);
    the optimizer's further torch arguments stay in ``cfg`` (build_classifier reads them there)."""
    return typed(NetworkOptions, cfg.model)


def input_options(cfg: DictConfig) -> InputOptions:
    """``model.input`` (genes when the config predates the option)."""
    section = OmegaConf.select(cfg, "model.input", default=None)
    if section is None:
        return InputOptions(kind=OFF["model.input.kind"])  # the other fields are not read
    return typed(InputOptions, section)


def input_kwargs(cfg: DictConfig, tc: TraitCohort) -> dict:
    """ClassifierModule arguments of ``model.input`` (a collection without genes: ConfigError)."""
    from radiogenomics.errors import ConfigError

    try:
        return input_arguments(input_options(cfg), tc.genes)
    except ValueError as err:
        raise ConfigError(f"model.input: {str(err).splitlines()[0]}") from None


def unlabelled_expression(cfg: DictConfig, cohort: Cohort, tc: TraitCohort) -> np.ndarray | None:
    """The expression-only patients' raw expression (trait genes) for an in-fold PCA, else None."""
    options = input_options(cfg)
    if options.kind != "pca" or not options.pca_unlabelled or not cohort.pretrain_patients:
        return None
    overlap = set(cohort.pretrain_patients).intersection(tc.patient_ids)
    if overlap:
        raise RuntimeError(f"expression-only and trait patients overlap: {sorted(overlap)[:5]}")
    frame = cohort.expression.loc[cohort.pretrain_patients].reindex(columns=tc.genes)
    return frame.to_numpy(np.float32)


def fold_input_config(
    cfg: DictConfig, tc: TraitCohort, dm: TraitDataModule, unlabelled: np.ndarray | None = None
) -> tuple[DictConfig, list[str]]:
    """``cfg`` with ``model.input.pca_components`` clamped to what this fold's PCA patients allow
    (the fit patients, plus the expression-only ones when used: at most their number - 1 and the
    number of genes), and the note saying so (logged as a warning, kept in metrics.json); ``cfg``
    unchanged and no note otherwise. A fold that allows no component at all is left to
    :func:`set_input_layer`'s error."""
    options = input_options(cfg)
    if options.kind != "pca":
        return cfg, []
    n_unlabelled = 0 if unlabelled is None else len(unlabelled)
    n_rows = len(dm.x["fit"]) + n_unlabelled
    asked, most = int(options.pca_components), pca_limit(n_rows, len(tc.genes))
    if asked <= most or most < 1:
        return cfg, []
    extra = f" + {n_unlabelled} expression-only" if n_unlabelled else ""
    note = (
        f"model.input.pca_components={asked} clamped to {most}: this fold's PCA is fit on "
        f"{len(dm.x['fit'])} fit{extra} patients (at most {n_rows - 1} components) and "
        f"{len(tc.genes)} genes"
    )
    log.warning(note)
    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        cfg.model.input.pca_components = most
    return cfg, [note]


def set_input_layer(cfg, tc: TraitCohort, dm: TraitDataModule, module, unlabelled=None) -> None:
    """model.input: the PCA fit on the fit patients (+ expression-only ones, scaled as the fit
    patients) or the gene-set connectivity; a bad size or collection is one ConfigError line."""
    from radiogenomics.errors import ConfigError

    options = input_options(cfg)
    if options.kind == "genes":
        return
    extra = None if unlabelled is None else dm.scaler.transform(unlabelled)
    try:
        fit_input_layer(module, options, tc.genes, dm.x["fit"].numpy(), extra)
    except ValueError as err:
        raise ConfigError(str(err).splitlines()[0]) from None


def ensemble_options(m: NetworkOptions) -> dict:
    """The classifier's ensemble arguments; none for a single network (its hparams unchanged)."""
    if (m.ensemble or OFF["model.ensemble"]) == 1:
        return {}
    return {
        "ensemble": m.ensemble,
        "ensemble_style": m.ensemble_style or OFF["model.ensemble_style"],
        "member_split": m.member_split or OFF["model.member_split"],
    }


def fit_gene_mask(m: NetworkOptions, tc: TraitCohort, split: FoldSplit, dm: TraitDataModule):
    """The input gene mask (``m.gene_filter``) from the fit patients only (variance: raw
    expression; anova: the standardised fit tensors and their labels, as the network is trained
    on them)."""
    method, top_k = m.gene_filter.method, m.gene_filter.top_k
    if method == "variance":
        return gene_filter_mask(method, top_k, tc.X[split.fit])
    return gene_filter_mask(method, top_k, dm.x["fit"].numpy(), dm.y["fit"].numpy())


def instantiate_callbacks(cfg: DictConfig) -> list[pl.Callback]:
    """Every Lightning callback of a job: ``cfg.callbacks``, then one per enabled interpreter.

    A ``callbacks`` entry is a mapping with ``_target_`` (an optional ``enabled: false`` switches
    it off). Each enabled interpreter of the registry with a network writer becomes an
    :class:`InterpretationCallback`; it acts in ``on_test_end``, when the best weights are loaded
    and the model is in eval mode.
    """
    built = []
    for section in (cfg.get("callbacks") or {}).values():
        if not isinstance(section, DictConfig) or "_target_" not in section:
            continue
        kwargs = OmegaConf.to_container(section, resolve=True)
        if kwargs.pop("enabled", True):
            built.append(hydra.utils.instantiate(kwargs))
    for entry, section in enabled(cfg.get("interpret")).items():
        if entry.network_writer is not None:
            settings = OmegaConf.to_container(section, resolve=True)
            out_dir = cfg.paths.output_dir
            built.append(InterpretationCallback.of(entry, settings, cfg.get("fold"), out_dir))
    return built


def fit_network(cfg: DictConfig, cohort: Cohort, tc: TraitCohort, split: FoldSplit) -> FoldResult:
    """Train on ``split.fit``, select the epoch on ``split.val``, score ``split.test`` once.

    ``model.ensemble=k``: one batched model of k members (:mod:`radiogenomics.models.ensemble`),
    selected on the members' mean probability. ``model.member_split=kfold``: the members are
    cross-fitted on k stratified folds of the training patients (fit + val), each selected on its
    own fold; the standardizer and class weights then come from all training patients (the
    held-out fold never enters).
    """
    m = cfg.model
    if m.freeze_layers > m.transfer_layers:
        raise ValueError(
            f"model.freeze_layers={m.freeze_layers} exceeds model.transfer_layers="
            f"{m.transfer_layers}: only transferred layers can be frozen"
        )
    # obtain (maybe pretrain) the encoder before seeding, so results never depend on the cache
    encoder = None
    if m.transfer_layers > 0:  # pretrain.patients=fit...: on this fold's fit patients
        fit_ids = [tc.patient_ids[i] for i in split.fit]
        encoder, _ = load_or_pretrain(cfg, cohort, set(tc.patient_ids), fit_ids)
    unlabelled = unlabelled_expression(cfg, cohort, tc)  # model.input.kind=pca only
    options = network_options(cfg)
    seed, kfold = cfg.seed, options.member_split == "kfold"
    pl.seed_everything(seed, workers=True, verbose=False)
    inner = None
    if kfold:  # cross-fitted members: every training patient is one member's inner validation
        inner = member_folds(
            tc.y,
            split.train,
            options.ensemble,
            int(cfg.split_seed),
            int(cfg.fold),
            cfg.get("bootstrap"),
        )
        split = kfold_split(split)  # fit == val == training patients (standardizer: all of them)
    dm = TraitDataModule.of_trait(tc, split, m.batch_size, seed, inner_fold=inner)
    cfg, notes = fold_input_config(cfg, tc, dm, unlabelled)  # PCA size: what the fold allows
    module = build_classifier(cfg, tc, dm)
    set_input_layer(cfg, tc, dm, module, unlabelled)  # model.input: PCA / gene-set layer
    if encoder is not None:
        module.load_encoder(encoder.encoder, m.transfer_layers)
    if module.input_mask:  # model.gene_filter, after the encoder: masked genes' columns zeroed
        module.set_input_mask(fit_gene_mask(options, tc, split, dm))
    callbacks = instantiate_callbacks(cfg)
    # SWA first: inner validation (and so BestWeights) scores the averaged weights
    callbacks = [*weight_averaging_callbacks(options.swa, cfg.trainer.max_epochs), *callbacks]
    select_on(callbacks, module.selection_metric)
    selection = [c for c in callbacks if isinstance(c, BestWeights)]
    if len(selection) != 1:
        raise ValueError(
            "callbacks: expected exactly one BestWeights (callbacks.model_checkpoint) to choose "
            f"the epoch on inner validation, found {len(selection)}"
        )
    if kfold:  # per-member selection and stopping: BestWeights takes over early stopping
        stoppers = [c for c in callbacks if isinstance(c, EarlyStopping)]
        if stoppers:
            selection[0].patience = int(stoppers[0].patience)
            selection[0].min_delta = abs(float(stoppers[0].min_delta))
        callbacks = [c for c in callbacks if not isinstance(c, EarlyStopping)]
    loggers = [hydra.utils.instantiate(c) for c in (cfg.get("logger") or {}).values()]
    trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    trainer.fit(module, dm)  # the checkpoint callback loads the best weights at fit end
    trainer.test(module, datamodule=dm, verbose=False)
    checkpoint = selection[0]
    module.eval()
    return FoldResult(
        test_probs=module.test_probs,
        n_train=len(split.fit),
        # cross-fitted: every training patient is fit and (for one member) validation, as a
        # comparator's inner CV: n_val 0, so n_train + n_val counts each patient once
        n_val=0 if kfold else len(split.val),
        val_auroc=float(checkpoint.best_score),
        selection_metric=module.selection_metric,
        best_epoch=int(checkpoint.best_epoch),
        epochs_run=int(trainer.current_epoch),
        model=module,
        notes=notes,
    )


def member_split(cfg: DictConfig) -> str:
    """``model.member_split``: shared (one inner-validation split) or kfold (cross-fitted)."""
    return str(value_or_off(cfg, "model.member_split"))


def kfold_split(split: FoldSplit) -> FoldSplit:
    """A cross-fitted ensemble's split: fit and val both hold every training patient (each
    member masks its own inner fold out of its loss); the held-out fold is untouched."""
    train = split.train
    return FoldSplit(fit=train, val=train, test=split.test)
