"""``hydra/launcher=local``: submitit's local launcher, tolerant like the serial and slurm ones.

Every job runs in its own local process, as with ``hydra_submitit_launcher``'s LocalLauncher, but
a job that fails (an exception, or a data or config error ending it with ``SystemExit(2)``) comes
back as a FAILED job (:func:`radiogenomics.launch.jobs.tolerant`) instead of aborting the sweep:
the others finish, the sweep summary lists it in ``summary/missing_jobs.json``, and the command
then exits with status 1. A worker process killed from outside (e.g. out of memory) still ends
the sweep, as in submitit.
"""

# no `from __future__ import annotations`: Hydra's plugin scan runs this module outside
# sys.modules, where string annotations of the parent's dataclasses cannot be resolved
import logging
from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_submitit_launcher import submitit_launcher as stock

log = logging.getLogger(__name__)


class JobExited(RuntimeError):
    """A job ended with ``SystemExit`` (its own log holds the one-line reason)."""


class LocalLauncher(stock.LocalLauncher):
    """submitit local processes; failed jobs come back as FAILED jobs, the sweep goes on."""

    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
        """Run one job in its worker; an exit becomes a FAILED return instead of a dead worker."""
        try:
            ret = super().__call__(*args, **kwargs)
        except SystemExit as err:  # tasks.run: one error line, then exit status 2
            error = JobExited(f"the job exited with status {err.code} (see its log)")
            return JobReturn(overrides=list(args[0]), status=JobStatus.FAILED, _return_value=error)
        if ret.status == JobStatus.FAILED:  # the traceback does not survive the result pickle
            log.error("job failed", exc_info=ret._return_value)
        return ret

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        """Run every job; a failed one is recorded for the sweep's exit status, never raised."""
        from radiogenomics.launch.jobs import tolerant

        returns = super().launch(job_overrides, initial_job_idx)
        for ret in returns:
            if ret.status == JobStatus.FAILED:
                log.error("job %s failed: %s", " ".join(ret.overrides), ret._return_value)
        return [tolerant(r) for r in returns]
