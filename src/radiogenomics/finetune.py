"""Fit the radiogenomic network on one outer fold: early stopping on inner validation only."""

from __future__ import annotations

from dataclasses import dataclass

import hydra
import numpy as np
import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from radiogenomics.data.cohort import Cohort, TraitCohort
from radiogenomics.data.datamodules import TraitDataModule
from radiogenomics.data.splits import FoldSplit
from radiogenomics.models.classifier import ClassifierModule
from radiogenomics.pretrain import load_or_pretrain


@dataclass
class FitResult:
    """What a fitted fold hands to the job writer and to interpretation callbacks."""

    test_probs: np.ndarray  # (n_test,) binary or (n_test, K)
    best_epoch: int
    best_val_auroc: float
    epochs_run: int
    module: ClassifierModule  # best-checkpoint weights, eval mode
    datamodule: TraitDataModule


def build_classifier(cfg: DictConfig, tc: TraitCohort, dm: TraitDataModule) -> ClassifierModule:
    """The classifier for this trait, with class weights from the fit patients."""
    m = cfg.model
    return ClassifierModule(
        n_genes=tc.X.shape[1],
        n_classes=tc.spec.n_classes,
        hidden_dims=list(m.hidden_dims),
        activation=m.activation,
        batchnorm=m.batchnorm,
        dropout=m.dropout,
        input_dropout=m.input_dropout,
        freeze_layers=m.freeze_layers,
        optimizer=OmegaConf.to_container(m.optimizer, resolve=True),
        class_weights=dm.class_weights().tolist() if m.class_balanced else None,
    )


def interpretation_callbacks(cfg: DictConfig) -> list[pl.Callback]:
    """Callbacks under ``cfg.interpret`` (mappings with ``_target_``, optional ``enabled``).

    They act in ``on_test_end``, when the best checkpoint is loaded and the model is in eval mode.
    """
    built = []
    for section in (cfg.get("interpret") or {}).values():
        if not isinstance(section, DictConfig) or "_target_" not in section:
            continue
        kwargs = OmegaConf.to_container(section, resolve=True)
        if kwargs.pop("enabled", True):
            built.append(hydra.utils.instantiate(kwargs))
    return built


def fit_network(
    cfg: DictConfig, cohort: Cohort, tc: TraitCohort, split: FoldSplit, callbacks: list
) -> FitResult:
    """Train on ``split.fit``, select the epoch on ``split.val``, score ``split.test`` once."""
    m = cfg.model
    if m.freeze_layers > m.transfer_layers:
        raise ValueError(
            f"model.freeze_layers={m.freeze_layers} exceeds model.transfer_layers="
            f"{m.transfer_layers}: only transferred layers can be frozen"
        )
    # obtain (maybe pretrain) the encoder before seeding, so results never depend on the cache
    encoder = load_or_pretrain(cfg, cohort, set(tc.patient_ids)) if m.transfer_layers > 0 else None
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = TraitDataModule(
        tc.X,
        tc.y,
        split,
        batch_size=m.batch_size,
        seed=cfg.seed,
        patient_ids=tc.patient_ids,
        genes=tc.genes,
        class_names=tc.spec.class_names,
    )
    module = build_classifier(cfg, tc, dm)
    if encoder is not None:
        module.load_encoder(encoder.encoder, m.transfer_layers)
    checkpoint = hydra.utils.instantiate(cfg.callbacks.model_checkpoint)
    stopping = hydra.utils.instantiate(cfg.callbacks.early_stopping)
    if cfg.callbacks.get("progress"):
        callbacks = [*callbacks, hydra.utils.instantiate(cfg.callbacks.progress)]
    loggers = [hydra.utils.instantiate(c) for c in (cfg.get("logger") or {}).values()]
    callbacks = [*callbacks, *interpretation_callbacks(cfg)]
    trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=[checkpoint, stopping, *callbacks], logger=loggers or False
    )
    trainer.fit(module, dm)  # the checkpoint callback loads the best weights at fit end
    trainer.test(module, datamodule=dm, verbose=False)
    if not cfg.callbacks.get("keep_checkpoint", True):
        checkpoint.path.unlink(missing_ok=True)
    return FitResult(
        test_probs=module.test_probs,
        best_epoch=int(checkpoint.best_epoch),
        best_val_auroc=float(checkpoint.best_score),
        epochs_run=int(trainer.current_epoch),
        module=module.eval(),
        datamodule=dm,
    )
