"""Hydra callbacks: write the sweep summary when a multirun ends."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class SweepSummary(Callback):
    """At the end of ``-m``, read every job's files in the sweep dir and write ``summary/``.

    ``fdr`` and ``min_patients`` (``hydra.callbacks.sweep_summary.*``) define the radiogenomic
    traits and associations of a gene-saliency sweep.
    """

    def __init__(self, fdr: float = 0.05, min_patients: int = 5) -> None:
        self.fdr, self.min_patients = fdr, min_patients

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from radiogenomics.reporting.summary import summarize
        from radiogenomics.reporting.wandb_report import log_sweep

        if config.get("task") != "finetune":
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        summarize(sweep_dir, fdr=self.fdr, min_patients=self.min_patients)
        log.info("sweep summary written to %s", sweep_dir / "summary")
        log_sweep(config, sweep_dir)  # no-op unless logger=wandb
