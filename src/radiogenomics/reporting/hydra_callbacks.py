"""Hydra callbacks: write the sweep summary when a multirun ends."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class SweepSummary(Callback):
    """At the end of ``-m``, read every job's files in the sweep dir and write ``summary/``."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from radiogenomics.reporting.summary import summarize

        if config.get("task") != "finetune":
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        summarize(sweep_dir)
        log.info("sweep summary written to %s", sweep_dir / "summary")
