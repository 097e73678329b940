"""Hydra callbacks: write the sweep summary when a multirun ends."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from radiogenomics.evaluation.multitest import FDR
from radiogenomics.interpret.associations import MIN_PATIENTS
from radiogenomics.results import layout

log = logging.getLogger(__name__)


class SweepSummary(Callback):
    """At the end of ``-m``, read every job's files in the sweep dir and write ``summary/``.

    ``fdr`` and ``min_patients`` (``hydra.callbacks.sweep_summary.*``) define the radiogenomic
    traits and associations of a gene-saliency sweep. configs/hydra/default.yaml sets them from the
    job config's ``thresholds`` block (``thresholds.fdr=0.01`` on the command line changes both);
    the defaults here serve a callback configured without them.
    """

    def __init__(self, fdr: float = FDR, min_patients: int = MIN_PATIENTS) -> None:
        self.fdr, self.min_patients = fdr, min_patients

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from radiogenomics.reporting.summary import summarize
        from radiogenomics.reporting.wandb_report import log_sweep

        if config.get("task") != "finetune":
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        summarize(sweep_dir, fdr=self.fdr, min_patients=self.min_patients)
        log.info("sweep summary written to %s", layout.summary_dir(sweep_dir))
        log_sweep(config, sweep_dir)  # no-op unless logger=wandb
