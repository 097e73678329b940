"""Autoencoder pretraining, cached on disk by (data, cohort, config) and built once under a lock.

``task=pretrain`` builds (or finds) the cache entry and reports where it is.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from pathlib import Path

import hydra
import numpy as np
import pytorch_lightning as pl
import torch
from filelock import FileLock
from omegaconf import DictConfig, OmegaConf, open_dict

from radiogenomics.config_schema import value_or_off
from radiogenomics.data.cohort import Cohort, load_cohort
from radiogenomics.data.datamodules import PretrainDataModule
from radiogenomics.errors import DataError
from radiogenomics.models.autoencoder import (
    PRETRAIN_PATIENTS,
    AutoencoderModule,
    NonFiniteLossError,
)
from radiogenomics.results import layout
from radiogenomics.utils import atomic_write, error_line, stable_hash, write_json

log = logging.getLogger(__name__)

MIN_PRETRAIN_PATIENTS = 2  # fewer expression-only patients: no autoencoder can be pretrained
TRANSFER_KEYS = ("model.transfer_layers", "model.freeze_layers")


def pretrain_mode(cfg: DictConfig) -> str:
    """``pretrain.patients`` (``unlabelled`` when the config predates the option)."""
    return str(value_or_off(cfg, "pretrain.patients"))


def pretraining_patients(
    cfg: DictConfig, cohort: Cohort, exclude: set[str], fit_patients: list[str] | None
) -> list[str]:
    """The autoencoder's patients for ``pretrain.patients``.

    ``exclude``: the trait cohort's patients. In-fold modes add ``fit_patients`` (the fold's fit
    patients, a subset of ``exclude``); every other trait patient (inner validation, held out)
    stays out: the inner validation scores the network as held-out patients will be scored, by a
    network whose autoencoder never saw them.
    """
    mode = pretrain_mode(cfg)
    if mode not in PRETRAIN_PATIENTS:
        raise ValueError(f"pretrain.patients={mode!r}: choose one of {list(PRETRAIN_PATIENTS)}")
    unlabelled = [] if mode == "fit" else list(cohort.pretrain_patients)
    overlap = exclude.intersection(unlabelled)
    if overlap:
        raise RuntimeError(f"autoencoder and trait cohorts overlap: {sorted(overlap)[:5]}")
    if mode == "unlabelled":
        return unlabelled
    if fit_patients is None:
        raise ValueError(f"pretrain.patients={mode} needs the fold's fit patients")
    fit = list(fit_patients)
    if not set(fit) <= exclude:
        raise RuntimeError("fit patients outside the trait cohort passed to in-fold pretraining")
    return fit + unlabelled


def command_line_keys() -> set[str]:
    """Keys set by this Hydra job's overrides (command line or sweep); empty outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return set()
    overrides = HydraConfig.get().overrides.task
    return {str(o).split("=", 1)[0].lstrip("+~") for o in overrides}


def job_override_keys(job_dir: str | Path) -> set[str]:
    """The keys a finished job set on its command line (``.hydra/overrides.yaml``)."""
    from radiogenomics.results.sweep import job_overrides

    return {o.split("=", 1)[0].lstrip("+~") for o in job_overrides(job_dir)}


def resolve_pretraining(cfg: DictConfig, cohort: Cohort, explicit: set[str]) -> DictConfig:
    """``cfg``, or a copy training without pretraining when the cohort has no expression-only
    patients and ``model.transfer_layers`` / ``model.freeze_layers`` are not in ``explicit``.

    Asking for transferred layers explicitly with no patients to pretrain on is a DataError.
    """
    model = cfg.get("model") or {}
    n_patients = len(cohort.pretrain_patients)
    if model.get("family") != "nn" or pretrain_mode(cfg) != "unlabelled":
        return cfg  # in-fold pretraining: the fold's fit patients are always there
    if n_patients >= MIN_PRETRAIN_PATIENTS:
        return cfg
    if not model.get("transfer_layers"):
        return labelled_cohort_recipe(cfg, explicit)
    asked = [k for k in TRANSFER_KEYS if k in explicit and (OmegaConf.select(cfg, k) or 0) > 0]
    if asked:
        raise DataError(
            f"{', '.join(f'{k}={OmegaConf.select(cfg, k)}' for k in asked)} asks for a "
            f"pretrained autoencoder, but {cohort.expression_file} has {n_patients} "
            "expression-only patient(s) (every other patient has a label) to pretrain it on: "
            "provide unlabelled profiles (data.pretrain_expression_file), or drop the option(s) "
            "to train without pretraining"
        )
    log.warning(
        "no expression-only patients in %s (%d; every patient has a label): training without "
        "autoencoder pretraining (model.transfer_layers=0, model.freeze_layers=0 instead of %s "
        "and %s); add unlabelled profiles with data.pretrain_expression_file to pretrain",
        cohort.expression_file,
        n_patients,
        model.get("transfer_layers"),
        model.get("freeze_layers"),
    )
    resolved = copy.deepcopy(cfg)
    with open_dict(resolved):
        resolved.model.transfer_layers = 0
        resolved.model.freeze_layers = 0
    return labelled_cohort_recipe(resolved, explicit)


def labelled_cohort_recipe(cfg: DictConfig, explicit: set[str]) -> DictConfig:
    """``cfg`` with ``model.without_pretraining`` applied, the network of a cohort with no
    expression-only patients (chosen on the real-data panel's development half).

    It replaces the default network only: a network option set on the command line (any
    ``model.<key>`` in ``explicit``) means the network is configured by hand, and a recipe that
    does not fit the configured network (e.g. an input kind ensembles do not take) is skipped with
    a warning naming why.
    """
    from radiogenomics.errors import ConfigError
    from radiogenomics.tasks.validation import check_network

    recipe = OmegaConf.select(cfg, "model.without_pretraining", default=None)
    if not recipe:
        return cfg
    own = sorted(k for k in explicit if k.startswith("model.") and k.split(".")[1] in cfg.model)
    own = [k for k in own if not k.startswith("model.without_pretraining")]
    if own:
        why = "model options set on the command line (%s): model.without_pretraining not applied"
        log.info(why, ", ".join(own))
        return cfg
    resolved = copy.deepcopy(cfg)
    with open_dict(resolved):
        for key, value in recipe.items():
            resolved.model[key] = copy.deepcopy(value)
    try:
        check_network(resolved)
    except ConfigError as err:
        why = "model.without_pretraining does not fit this network (%s): trained as configured"
        log.warning(why, err)
        return cfg
    plain = {
        k: OmegaConf.to_container(v) if OmegaConf.is_config(v) else v for k, v in recipe.items()
    }
    shown = [f"{k}={v}" for k, v in plain.items()]
    log.info("every patient is labelled: model.without_pretraining applies (%s)", ", ".join(shown))
    return resolved


def _pretrain_settings(cfg: DictConfig) -> dict:
    """The ``pretrain`` settings of the cache key; the in-fold and denoising options only when
    they are not their defaults, so the entries cached before the options stay valid."""
    settings = OmegaConf.to_container(cfg.pretrain, resolve=True)
    assert isinstance(settings, dict)
    if settings.get("patients", "unlabelled") == "unlabelled":
        settings.pop("patients", None)
    if (settings.get("corruption") or {}).get("kind", "none") == "none":
        settings.pop("corruption", None)
    return settings


def encoder_key(cfg: DictConfig, cohort: Cohort, patients: list[str]) -> str:
    """Cache key: expression data digest, autoencoder patients and autoencoder settings.

    The patient set is in it: in-fold pretraining gets one entry per fold (and per CV repeat or
    bootstrap replicate), never shared."""
    return stable_hash(
        {
            "data": cohort.digest,
            "patients": sorted(patients),
            "genes": stable_hash(cohort.genes),
            "pretrain": _pretrain_settings(cfg),
        }
    )


def fit_autoencoder(
    cfg: DictConfig, X: np.ndarray, work_dir: Path
) -> tuple[AutoencoderModule, dict]:
    """Train the autoencoder on ``X`` (patients x genes) with the ``pretrain`` settings."""
    p = cfg.pretrain
    pl.seed_everything(p.seed, workers=True, verbose=False)
    dm = PretrainDataModule(X, batch_size=p.batch_size, val_fraction=p.val_fraction, seed=p.seed)
    corruption = {}  # denoising (pretrain.corruption): only when on, so old hparams stay as they were
    if OmegaConf.select(p, "corruption.kind", default="none") != "none":
        corruption = {"corruption": p.corruption.kind, "corruption_rate": p.corruption.rate}
    module = AutoencoderModule(
        n_genes=X.shape[1],
        hidden_dims=list(p.hidden_dims),
        activation=p.activation,
        batchnorm=p.batchnorm,
        dropout=p.dropout,
        loss=p.loss,
        optimizer=OmegaConf.to_container(p.optimizer, resolve=True),
        **corruption,
    )
    trainer = hydra.utils.instantiate(
        cfg.trainer,
        max_epochs=p.max_epochs,
        min_epochs=1,
        logger=False,
        enable_checkpointing=False,
        callbacks=[],
        default_root_dir=str(work_dir),
    )
    start = time.perf_counter()
    trainer.fit(module, dm)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    report = {
        "n_patients": int(len(X)),
        "n_genes": int(X.shape[1]),
        "epochs": int(trainer.current_epoch),
        "elapsed_s": round(time.perf_counter() - start, 2),
        **metrics,
    }
    return module.eval(), report


def load_or_pretrain(
    cfg: DictConfig, cohort: Cohort, exclude: set[str], fit_patients: list[str] | None = None
) -> tuple[AutoencoderModule, Path]:
    """(the cached autoencoder for this cohort and config, its file); pretrain it first if missing.

    ``exclude`` holds the patients of the trait cohort: they must not be in the pretraining cohort,
    except ``fit_patients`` (the fold's fit patients) with ``pretrain.patients=fit...``.
    """
    patients = pretraining_patients(cfg, cohort, exclude, fit_patients)
    if len(patients) < 2:
        raise DataError(
            f"{cohort.expression_file}: only {len(patients)} expression-only patient(s) to "
            "pretrain the autoencoder on; set model.transfer_layers=0 model.freeze_layers=0, or "
            "provide unlabelled profiles (data.pretrain_expression_file)"
        )
    key = encoder_key(cfg, cohort, patients)
    directory = Path(cfg.paths.cache_dir) / "autoencoders"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"ae-{key}.pt"
    with FileLock(str(path) + ".lock"):
        if path.exists():
            try:
                module = load_autoencoder(path)
            except DataError as err:  # damaged entry: rebuild it (we hold the lock)
                log.warning("%s; pretraining it again", err)
                path.unlink(missing_ok=True)
            else:
                log.info("reusing pretrained autoencoder %s", path)
                return module, path
        log.info(
            "pretraining autoencoder on %d patients (pretrain.patients=%s) -> %s",
            len(patients),
            pretrain_mode(cfg),
            path,
        )
        X = cohort.expression.loc[patients].to_numpy(np.float32)
        module, report = fit_autoencoder(cfg, X, directory)
        check_finite_autoencoder(module, report, cohort)
        payload = {"hparams": _plain(dict(module.hparams)), "state_dict": module.state_dict()}
        atomic_write(path, lambda p: torch.save(payload, p))
        write_json(path.with_suffix(".json"), {"key": key, "patients": patients, **report})
    return load_autoencoder(path), path


def check_finite_autoencoder(module: AutoencoderModule, report: dict, cohort: Cohort) -> None:
    """A DataError (and no cache entry) when the trained weights or losses are not finite."""
    bad = module.non_finite_parameters()
    losses = {k: v for k, v in report.items() if k.endswith("loss") and not math.isfinite(v)}
    if bad or losses:
        what = f"weights {bad[:3]}" if bad else f"losses {losses}"
        lr = module.optimizer_cfg.get("lr")
        raise NonFiniteLossError(
            f"autoencoder pretraining on {cohort.expression_file} ended with non-finite {what}; "
            "nothing was cached. Check the expression values (log2 scale expected: see the "
            f"warnings of the expression report in the log) or lower pretrain.optimizer.lr (now "
            f"{lr})"
        )


def _plain(value):
    """Containers of plain Python types (what ``torch.load(weights_only=True)`` accepts)."""
    return OmegaConf.to_container(OmegaConf.create(value), resolve=True)


def load_autoencoder(path: Path) -> AutoencoderModule:
    """Load a cached autoencoder safely (tensors and plain types only; nothing is unpickled).

    A damaged entry (unreadable, or holding non-finite weights) is a DataError;
    :func:`load_or_pretrain` then pretrains it again.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        module = AutoencoderModule(**payload["hparams"])
        module.load_state_dict(payload["state_dict"])
    except Exception as err:  # damaged, truncated, tampered or foreign file
        raise DataError(
            f"{path}: cannot load the cached autoencoder ({type(err).__name__}: "
            f"{error_line(err) if str(err).strip() else ''})"
        ) from None
    bad = module.non_finite_parameters()
    if bad:
        raise DataError(f"{path}: the cached autoencoder holds non-finite weights ({bad[:3]})")
    return module.eval()


def run_pretrain(cfg: DictConfig) -> dict:
    """``task=pretrain``: pretrain (or reuse) the autoencoder for the configured data."""
    cohort = load_cohort(cfg.data, cfg.paths.cache_dir)
    _, path = load_or_pretrain(cfg, cohort, exclude=set())
    out = {
        "checkpoint": str(path),
        "n_patients": len(cohort.pretrain_patients),
        "n_genes": len(cohort.genes),
    }
    write_json(Path(cfg.paths.output_dir) / layout.PRETRAIN_REPORT, out)
    log.info("autoencoder ready: %s", path)
    return out
