"""``hydra/launcher=local``: submitit's local launcher, tolerant like the serial and slurm ones.

Every job runs in its own local process, as with ``hydra_submitit_launcher``'s LocalLauncher, but
a job that fails (an exception, or a data or config error ending it with ``SystemExit(2)``) comes
back as a FAILED job (:func:`radiogenomics.launch.jobs.tolerant`) instead of aborting the sweep:
the others finish, the sweep summary lists it in ``summary/missing_jobs.json``, and the command
then exits with status 1. A worker process killed from outside (e.g. out of memory) still ends
the sweep, as in submitit.

Ctrl-C (SIGINT) or SIGTERM stops the sweep: the submitit jobs still running are interrupted
(SIGINT to each job's process: it abandons its job like a failed one, removing its partial files;
one that does not end in a minute is cancelled through submitit), the summary of the finished jobs
and ``summary/missing_jobs.json`` are written, and the command exits with status 130 (SIGINT) or
143 (SIGTERM). Rerunning the same command resumes: finished jobs are skipped.
"""

# no `from __future__ import annotations`: Hydra's plugin scan runs this module outside
# sys.modules, where string annotations of the parent's dataclasses cannot be resolved
import logging
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher import submitit_launcher as stock
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf

from radiogenomics.launch.jobs import JobDied, failure_reason, tolerant

log = logging.getLogger(__name__)

POLL_S = 0.2  # how often the launcher looks whether its jobs have finished
GRACE_S = 2.0  # Ctrl-C in a terminal reaches the jobs' processes too: they may end on their own
CANCEL_WAIT_S = 60.0  # how long a cancelled job may take to remove its partial files and end


class LocalLauncher(stock.LocalLauncher):
    """submitit local processes; failed jobs come back as FAILED jobs, the sweep goes on."""

    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
        """Run one job in its worker; an exit becomes a FAILED return instead of a dead worker."""
        try:
            ret = super().__call__(*args, **kwargs)
        except SystemExit as err:  # tasks.run: one error line, then exit status 2
            error = JobDied(f"the job exited with status {err.code} (see its log)")
            return JobReturn(overrides=list(args[0]), status=JobStatus.FAILED, _return_value=error)
        if ret.status == JobStatus.FAILED:  # the traceback does not survive the result pickle
            log.error("job failed", exc_info=ret._return_value)
        return ret

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        """Run every job; a failed one is recorded for the sweep's exit status, never raised; a
        stop signal cancels the jobs still running."""
        from radiogenomics.launch.sweep_status import (
            log_stop,
            no_interrupt,
            stop_on_signals,
            stop_signal,
        )

        if stop_signal() is not None:  # a signal stopped this sweep in an earlier batch
            return []
        executor = self.executor()
        job_params = []
        for i, overrides in enumerate(job_overrides):
            idx = initial_job_idx + i
            log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
            job_params.append(
                (
                    list(overrides),
                    "hydra.sweep.dir",
                    idx,
                    f"job_id_for_{idx}",
                    Singleton.get_state(),
                )
            )
        with stop_on_signals():
            jobs, abandoned = [], set()
            try:
                with no_interrupt():  # a signal now would lose the handles of submitted jobs
                    jobs = executor.map_array(self, *zip(*job_params, strict=True))
                while stop_signal() is None and not all(job.done() for job in jobs):
                    time.sleep(POLL_S)
            except KeyboardInterrupt:  # stop_on_signals recorded the signal
                pass
            if stop_signal() is not None:
                abandoned = cancel(jobs)
        returns = [
            abandoned_return(overrides) if job.job_id in abandoned else job.results()[0]
            for job, overrides in zip(jobs, job_overrides, strict=False)
        ]
        for ret in returns:
            if ret.status == JobStatus.FAILED:
                log.error("job %s failed: %s", " ".join(ret.overrides), failure_reason(ret))
        if stop_signal() is not None:
            log_stop(len(jobs), len(job_overrides))
        return [tolerant(r) for r in returns]

    def executor(self) -> Any:
        """submitit's local executor with this launcher's parameters (as the stock launcher)."""
        import submitit

        assert self.config is not None
        init_keys = {"submitit_folder", "max_num_timeout"}
        init_params = {"folder": self.params["submitit_folder"]}
        if "max_num_timeout" in self.params:
            init_params["local_max_num_timeout"] = self.params["max_num_timeout"]
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init_params)
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{
                k if k in base else f"{self._EXECUTOR}_{k}": v
                for k, v in self.params.items()
                if k not in init_keys
            }
        )
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        log.info("Submitit '%s' sweep output dir : %s", self._EXECUTOR, sweep_dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
        return executor


def abandoned_return(overrides: Sequence[str]) -> JobReturn:
    """The FAILED JobReturn of a job cancelled because a signal stopped the sweep."""
    error = JobDied("abandoned: the sweep was stopped by a signal")
    return JobReturn(overrides=list(overrides), status=JobStatus.FAILED, _return_value=error)


def cancel(jobs: Sequence[Any]) -> set[str]:
    """Cancel the jobs still running and wait (bounded) until they have ended; their ids."""
    running = [job for job in jobs if not job.done()]
    abandoned = {job.job_id for job in running}
    for job in running:
        log.error("job %s abandoned: the sweep was stopped by a signal", job.job_id)
    running = wait_until_done(running, GRACE_S)  # a second SIGINT would interrupt their cleanup
    for job in running:
        interrupt(job)
    for job in wait_until_done(running, CANCEL_WAIT_S):
        job.cancel(check=False)  # SIGINT to its submitit controller: it kills the job's process
    wait_until_done(running, GRACE_S)
    return abandoned


def interrupt(job: Any) -> None:
    """SIGINT to the job's own process (the child of its submitit controller): the job abandons
    its work like a failed one and removes its partial files; its controller then ends quietly
    (a SIGINT to the controller itself would print its traceback). Without /proc (not Linux):
    ``job.cancel()``."""
    controller = getattr(job, "_process", None)
    try:
        children = Path(f"/proc/{controller.pid}/task/{controller.pid}/children").read_text()
    except (AttributeError, OSError):
        children = ""
    if not children.split():
        job.cancel(check=False)
    for pid in children.split():
        try:
            os.kill(int(pid), signal.SIGINT)
        except ProcessLookupError:
            pass


def wait_until_done(jobs: Sequence[Any], timeout_s: float) -> list[Any]:
    """Wait until the jobs have ended or ``timeout_s`` passed; those still running."""
    end = time.monotonic() + timeout_s
    running = [job for job in jobs if not job.done()]
    while running and time.monotonic() < end:
        time.sleep(POLL_S)  # a further signal is only logged (stop_on_signals)
        running = [job for job in running if not job.done()]
    return running
