"""Tasks: one Hydra job each (``cfg.task``): fine-tune one fold, pretrain the autoencoder, or
use a sweep's saved models (predict on new patients, interpret without retraining, refit).
"""

from __future__ import annotations

import logging
import warnings

import torch
from omegaconf import DictConfig

from radiogenomics.config_schema import TASKS
from radiogenomics.errors import ConfigError, DataError
from radiogenomics.exports.wandb import finish_run
from radiogenomics.models.bundle import BundleError
from radiogenomics.tasks.validation import check_gene_sets_on_data, validate_config
from radiogenomics.utils import os_error_line

log = logging.getLogger(__name__)

__all__ = ["TASKS", "ConfigError", "quiet_lightning", "run"]


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

    A config mistake or a bad input file ends the job with one line and exit status 2 (no
    traceback, no metrics.json): the config is checked first (``tasks.validation``), every data
    check runs before training starts.
    """
    try:
        validate_config(cfg)
        quiet_lightning()
        if cfg.get("torch_threads"):
            torch.set_num_threads(int(cfg.torch_threads))
        check_gene_sets_on_data(cfg)
        if cfg.task == "pretrain":
            from radiogenomics.tasks.pretrain import run_pretrain

            return run_pretrain(cfg)
        if cfg.task == "predict":
            from radiogenomics.tasks.predict import run_predict

            return run_predict(cfg)
        if cfg.task == "interpret":
            from radiogenomics.tasks.interpret import run_interpret

            return run_interpret(cfg)
        if cfg.task == "refit":
            from radiogenomics.tasks.refit import run_refit

            return run_refit(cfg)
        from radiogenomics.tasks.multitask import is_multitask, run_multitask

        if is_multitask(cfg):  # multitask=...: one network, a job dir per trait
            return run_multitask(cfg)
        from radiogenomics.tasks.finetune import run_finetune

        return run_finetune(cfg)
    except DataError as err:
        kind = (
            "config error"
            if isinstance(err, ConfigError)
            else "bundle error"
            if isinstance(err, BundleError)
            else "data error"
        )
        log.error("%s: %s", kind, " ".join(str(err).split("\n")))
        raise SystemExit(2) from None
    except OSError as err:  # disk full, permissions, a file in the way (utils.OutputError)
        line = os_error_line(err)
        if line is None:
            raise
        log.error("%s", line)
        raise SystemExit(2) from None
    finally:
        finish_run()  # logger=wandb: every job ends its run, also a failed one
