"""Sweep progress as one plain log line per finished job (readable in files and CI logs)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
SERIAL_LAUNCHER = "hydra_plugins.radiogenomics_launcher.serial_launcher.SerialLauncher"
IN_PROCESS_LAUNCHERS = (SERIAL_LAUNCHER, BASIC_LAUNCHER)  # jobs (and job callbacks) run here
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def format_elapsed(seconds: float) -> str:
    """``75.2`` -> ``1m15s``; hours appear once reached (``1h02m03s``)."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s"


@dataclass
class SweepProgress:
    """Counts finished jobs of a sweep of ``total`` jobs (None: unknown) and phrases the line."""

    total: int | None
    done: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)

    def record(self, ok: bool) -> str:
        """Count one finished job and return the progress line."""
        if ok:
            self.done += 1
        else:
            self.failed += 1
        return self.line()

    def line(self) -> str:
        """E.g. ``sweep: 7/20 done, 1 failed, 12 remaining (elapsed 1m03s)``."""
        elapsed = format_elapsed(time.monotonic() - self.started)
        if self.total is None:
            return f"sweep: {self.done} done, {self.failed} failed (elapsed {elapsed})"
        remaining = self.total - self.done - self.failed
        return (
            f"sweep: {self.done}/{self.total} done, {self.failed} failed, "
            f"{remaining} remaining (elapsed {elapsed})"
        )


def basic_sweep_size(config: DictConfig) -> int | None:
    """Number of jobs the basic sweeper will launch for ``config`` (None: another sweeper)."""
    from radiogenomics.results.sweep import planned_jobs

    if OmegaConf.select(config, "hydra.sweeper._target_") != BASIC_SWEEPER:
        return None
    return len(planned_jobs(config))


class SweepProgressLog(Callback):
    """Hydra callback: a progress line after each job of a sweep whose jobs run in this process
    (the default ``serial`` launcher, or Hydra's ``basic``).

    Parallel launchers run job callbacks inside their workers, where no count is shared; the
    ``gpus`` launcher logs the same line itself, so this callback stays silent for them.
    """

    def __init__(self) -> None:
        self.progress: SweepProgress | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Count the sweep's jobs when its launcher runs them in this process."""
        if OmegaConf.select(config, "hydra.launcher._target_") not in IN_PROCESS_LAUNCHERS:
            return
        try:
            total = basic_sweep_size(config)
        except Exception as err:  # the line still works without a total
            log.debug("sweep size unknown: %s", err)
            total = None
        self.progress = SweepProgress(total)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """Log the progress line for the job that just ended."""
        if self.progress is not None:
            log.info(self.progress.record(job_return.status == JobStatus.COMPLETED))
