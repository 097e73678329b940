"""A sweep's exit status: every job runs, the summary is written, then a failure exits non-zero.

The tolerant launchers (``serial``, the default; ``gpus``; ``slurm``) hand Hydra's sweeper their
failed jobs through :func:`radiogenomics.launch.jobs.tolerant`, which records them here, so the
sweep goes on and the multirun-end callbacks (the sweep summary) run. :class:`SweepExitStatus`,
the last of those callbacks to run (first in ``hydra.callbacks``: Hydra calls them in reverse),
then ends the process with status 1 when any job of this sweep failed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from radiogenomics.results import layout

log = logging.getLogger(__name__)

FAILED_EXIT_STATUS = 1
_failed: list[str] = []  # the failed jobs of the sweep running in this process (their overrides)


def record_failure(overrides: Sequence[str] | None) -> None:
    """Count one failed job of the running sweep (called in the launching process)."""
    _failed.append(" ".join(str(o) for o in overrides or ()))


def failed_jobs() -> list[str]:
    """The failed jobs recorded since the sweep started, as override lines."""
    return list(_failed)


def reset() -> None:
    """Forget the recorded failures (a new sweep starts)."""
    _failed.clear()


class SweepExitStatus(Callback):
    """Hydra callback: exit with status 1 at the end of a sweep in which a job failed."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """A new sweep: no failures yet."""
        reset()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """After the summary: a sweep with failed jobs ends the process with status 1."""
        failed = failed_jobs()
        if not failed:
            return
        log.error(
            "%d job(s) of this sweep failed (%s); the summary covers the jobs that finished and "
            "%s/%s lists every job without results; exit status %d",
            len(failed), "; ".join(failed[:5]) + (" ..." if len(failed) > 5 else ""),
            layout.SUMMARY_DIR, layout.MISSING_JOBS, FAILED_EXIT_STATUS,
        )  # fmt: skip
        raise SystemExit(FAILED_EXIT_STATUS)
