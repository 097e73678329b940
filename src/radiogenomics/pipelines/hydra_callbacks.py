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
from radiogenomics.sweep_state import record_summary_failure, stale_jobs
from radiogenomics.utils import error_line, os_error_line

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
        from radiogenomics.exports.wandb import log_sweep
        from radiogenomics.pipelines.sweep_summary import summarize

        if config.get("task") != "finetune":
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        if stale_jobs(sweep_dir):  # inputs changed: keep the old summary (SweepExitStatus: exit 2)
            return
        try:
            summarize(sweep_dir, fdr=self.fdr, min_patients=self.min_patients)
        except Exception as err:  # Hydra would only warn, and the sweep would exit 0
            line = summary_error_line(layout.summary_dir(sweep_dir), err)
            log.error("%s", line)
            record_summary_failure(line)  # SweepExitStatus: exit status 2
            return
        log.info("sweep summary written to %s", layout.summary_dir(sweep_dir))
        log_sweep(config, sweep_dir)  # no-op unless logger=wandb


def summary_error_line(summary_dir: Path, err: BaseException) -> str:
    """One line on why ``summary/`` could not be written (disk full, permission, a bug)."""
    reason = os_error_line(err) if isinstance(err, OSError) else None
    if reason is None:
        reason = f"{type(err).__name__}: {error_line(err)}"
    return (
        f"summary error: the sweep summary in {summary_dir} could not be written ({reason}); "
        "the jobs' results are kept: free space or fix the permission, then rerun the same "
        "command (finished jobs are skipped)"
    )
