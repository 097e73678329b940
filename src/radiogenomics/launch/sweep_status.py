"""A sweep's exit status: every job runs, the summary is written, then a failure exits non-zero.

The tolerant launchers (``serial``, the default; ``gpus``; ``slurm``) hand Hydra's sweeper their
failed jobs through :func:`radiogenomics.launch.jobs.tolerant`, which records them here, so the
sweep goes on and the multirun-end callbacks (the sweep summary) run. :class:`SweepExitStatus`,
the last of those callbacks to run (first in ``hydra.callbacks``: Hydra calls them in reverse),
then ends the process with status 1 when any job of this sweep failed.

A finished job refused on resume because its data files changed (:func:`record_stale`, called in
the job's process, whichever launcher) is noted in ``<sweep dir>/.stale_inputs/``: the summary is
then left as it was and the sweep ends with one ``data error:`` line and status 2.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from radiogenomics.results import layout
from radiogenomics.sweep_state import (  # noqa: F401  (re-exported: launchers record here)
    STALE_DIR,
    _summary_errors,
    failed_jobs,
    record_failure,
    record_stale,
    record_stop,
    record_summary_failure,
    reset,
    stale_jobs,
    stop_signal,
    sweep_dir_of,
)

log = logging.getLogger(__name__)

FAILED_EXIT_STATUS = 1
SUMMARY_FAILED_EXIT_STATUS = 2  # the sweep summary could not be written (disk full, permission)
STALE_EXIT_STATUS = 2  # a finished job's input files changed: refused, the summary left as it was
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_deferred: list[bool] = []  # innermost True (no_interrupt): a stop is recorded, nothing raised


@contextmanager
def no_interrupt() -> Iterator[None]:
    """Inside :func:`stop_on_signals`: a stop signal only records the stop (no
    ``KeyboardInterrupt``), e.g. while jobs are submitted, so that no handle is lost."""
    _deferred.append(True)
    try:
        yield
    finally:
        _deferred.pop()


@contextmanager
def allow_interrupt() -> Iterator[None]:
    """Inside :func:`no_interrupt`: a stop signal interrupts again (``KeyboardInterrupt``), e.g.
    while one job runs; a stop already recorded interrupts at once."""
    if stop_signal() is not None:
        raise KeyboardInterrupt
    _deferred.append(False)
    try:
        yield
    finally:
        _deferred.pop()


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While the sweep runs: SIGINT/SIGTERM stop it (recorded for the exit status) instead of
    only ending the running job. The first one interrupts that job (``KeyboardInterrupt``: the
    job removes its partial files, Lightning stops its fit); later ones are only logged."""
    if threading.current_thread() is not threading.main_thread():  # signals are main-thread only
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if stop_signal() is not None:
            log.warning("%s again: the sweep is stopping already", signal.Signals(signum).name)
            return
        record_stop(signum)
        log.error(
            "%s: stopping the sweep (the running job is abandoned)", signal.Signals(signum).name
        )
        if not _deferred or not _deferred[-1]:  # else the launcher looks at stop_signal()
            raise KeyboardInterrupt

    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    for s in STOP_SIGNALS:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, old in previous.items():  # Lightning may have left SIGINT ignored: restore ours
            signal.signal(s, old if old is not None else signal.SIG_DFL)


def log_stop(n_started: int, n_jobs: int) -> None:
    """The one line on a sweep stopped by a signal (after its running job was abandoned)."""
    signum = stop_signal()
    assert signum is not None
    log.error(
        "sweep stopped by %s after %d of %d job(s) started; the summary covers the finished jobs "
        "and %s/%s lists the rest; rerun the same command to resume (finished jobs are skipped); "
        "exit status %d",
        signal.Signals(signum).name,
        n_started,
        n_jobs,
        layout.SUMMARY_DIR,
        layout.MISSING_JOBS,
        128 + signum,
    )


class SweepExitStatus(Callback):
    """Hydra callback: the sweep's exit status, once the summary is written (or failed to be).

    128 + the signal's number when SIGINT/SIGTERM stopped the sweep (130, 143); else 2 when a
    finished job was refused because its input files changed (one line; the summary is left as
    it was) or the summary could not be written; else 1 when a job failed; else the process goes
    on (status 0).
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """A new sweep: no failures yet."""
        reset(sweep_dir_of(config))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """After the summary: a sweep with failed jobs ends the process with status 1."""
        failed, signum = failed_jobs(), stop_signal()
        if signum is not None:
            raise SystemExit(128 + signum)  # the launcher logged the stop and what is left
        stale = stale_jobs(sweep_dir) if (sweep_dir := sweep_dir_of(config)) else []
        if stale:
            log.error("%s", stale_line(stale))
            raise SystemExit(STALE_EXIT_STATUS)
        if _summary_errors:
            raise SystemExit(SUMMARY_FAILED_EXIT_STATUS)  # its one line is logged already
        if not failed:
            return
        log.error(
            "%d job(s) of this sweep failed (%s); the summary covers the jobs that finished and "
            "%s/%s lists every job without results; exit status %d",
            len(failed),
            "; ".join(failed[:5]) + (" ..." if len(failed) > 5 else ""),
            layout.SUMMARY_DIR,
            layout.MISSING_JOBS,
            FAILED_EXIT_STATUS,
        )
        raise SystemExit(FAILED_EXIT_STATUS)


def stale_line(stale: Sequence[str]) -> str:
    """The sweep's one line when finished jobs were refused as stale (the first job's reason)."""
    more = f" (and {len(stale) - 1} other finished job(s) of this sweep)" if len(stale) > 1 else ""
    return (
        f"data error: {stale[0]}{more}; the sweep summary was left as it was; exit status "
        f"{STALE_EXIT_STATUS}"
    )
