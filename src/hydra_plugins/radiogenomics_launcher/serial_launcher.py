"""``hydra/launcher=serial``, the default: Hydra's basic launcher, but a failed job never stops
the sweep.

Jobs run one after another in this process, as with ``hydra/launcher=basic``. A job that raises,
exits (a data or config error ends a job with ``SystemExit(2)``) or cannot even start (its dir
cannot be made) is logged with its reason and comes back as a FAILED job
(:func:`radiogenomics.launch.jobs.tolerant`); the rest run, the sweep summary is written with the
failed job in ``summary/missing_jobs.json``, and the command then exits with status 1
(:class:`radiogenomics.launch.sweep_status.SweepExitStatus`). ``raise_on_failure: true`` restores
Hydra's behaviour (the first failure ends the sweep, no summary).

Ctrl-C (SIGINT) or SIGTERM stops the sweep, not just the running job: that job is abandoned as a
failed one (its partial files removed), no further job starts, the summary of the finished jobs
and ``summary/missing_jobs.json`` are written, and the command exits with status 130 (SIGINT)
or 143 (SIGTERM). Rerunning the same command resumes: finished jobs are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.utils import (
    JobReturn,
    JobStatus,
    configure_log,
    filter_overrides,
    run_job,
    setup_globals,
)
from omegaconf import DictConfig, open_dict

from radiogenomics.launch.jobs import failure_reason, tolerant
from radiogenomics.launch.sweep_status import (
    allow_interrupt,
    log_stop,
    no_interrupt,
    stale_jobs,
    stop_on_signals,
    stop_signal,
)
from radiogenomics.results import layout

log = logging.getLogger(__name__)


class SerialLauncher(BasicLauncher):
    """Run a sweep's jobs one by one in this process; failures come back as FAILED jobs."""

    def __init__(self, raise_on_failure: bool = False) -> None:
        super().__init__()
        self.raise_on_failure = bool(raise_on_failure)

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        """Run one batch of jobs; never raise on a failed job (unless ``raise_on_failure``)."""
        setup_globals()
        assert self.config is not None and self.hydra_context is not None
        assert self.task_function is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        if stop_signal() is not None:  # a signal stopped this sweep in an earlier batch
            return []
        log.info("Launching %d jobs locally", len(job_overrides))
        returns: list[JobReturn] = []
        started = 0
        # between jobs (config composition, logging set-up) a stop signal is only recorded:
        # interrupted there, Hydra's own code would end the sweep with a bare error
        with stop_on_signals(), no_interrupt():
            for i, overrides in enumerate(job_overrides):
                idx = initial_job_idx + i
                label = " ".join(filter_overrides(overrides))
                ret = None
                try:
                    if stop_signal() is None:
                        log.info("\t#%d : %s", idx, label)
                        started += 1
                        ret = self.run_one(list(overrides), idx)
                except KeyboardInterrupt:  # the signal came between jobs: nothing to abandon
                    pass
                configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
                if ret is not None:
                    if ret.status != JobStatus.COMPLETED:
                        log.error("job #%d (%s) failed: %s", idx, label, failure_reason(ret))
                    returns.append(ret)
                if stop_signal() is not None:
                    log_stop(started, len(job_overrides))
                    break
        failed = sum(r.status != JobStatus.COMPLETED for r in returns)
        stale = stale_jobs(Path(str(self.config.hydra.sweep.dir)))  # one line at the end
        if failed and not stale:
            log.warning(
                "%d of %d jobs failed; finished jobs are summarised, failed ones are listed in "
                "%s/%s",
                failed,
                len(returns),
                layout.SUMMARY_DIR,
                layout.MISSING_JOBS,
            )
        return returns if self.raise_on_failure else [tolerant(r) for r in returns]

    def run_one(self, overrides: list[str], idx: int) -> JobReturn:
        """One job through Hydra's ``run_job``; an exit or a failure to start becomes FAILED."""
        assert self.config is not None and self.hydra_context is not None
        assert self.task_function is not None
        with no_interrupt():  # a signal while Hydra composes the job's config would surface as a
            # bare composition error (exit 1): it is recorded here and acted on just after
            sweep_config = self.hydra_context.config_loader.load_sweep_config(
                self.config, overrides
            )
        if stop_signal() is not None:
            raise KeyboardInterrupt  # the launcher's loop: stopped between jobs, nothing to abandon
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = idx
            sweep_config.hydra.job.num = idx
        try:
            with allow_interrupt():  # only a running job is interrupted by a stop signal
                ret = run_job(
                    hydra_context=self.hydra_context,
                    task_function=self.task_function,
                    config=sweep_config,
                    job_dir_key="hydra.sweep.dir",
                    job_subdir_key="hydra.sweep.subdir",
                )
        except (SystemExit, KeyboardInterrupt, Exception) as err:  # sys.exit in the job, its
            return self.ended_outside_hydra(sweep_config, overrides, err)  # dir not made, a stop
        if ret.status == JobStatus.FAILED:  # the traceback, while the job's log file is open
            log.error("job failed", exc_info=ret._return_value)
        return ret

    def ended_outside_hydra(
        self, config: DictConfig, overrides: list[str], err: BaseException
    ) -> JobReturn:
        """The JobReturn of a job that left ``run_job`` by an exception (Hydra reports none)."""
        assert self.hydra_context is not None
        ok = isinstance(err, SystemExit) and err.code in (0, None) and stop_signal() is None
        if isinstance(err, KeyboardInterrupt) or stop_signal() is not None:
            log.error("job abandoned: the sweep was stopped by a signal")
        elif not isinstance(err, SystemExit):
            log.error("job failed", exc_info=err)
        ret = JobReturn(
            overrides=overrides,
            status=JobStatus.COMPLETED if ok else JobStatus.FAILED,
            _return_value=None if ok else err,
        )
        self.hydra_context.callbacks.on_job_end(config=config, job_return=ret)
        return ret
