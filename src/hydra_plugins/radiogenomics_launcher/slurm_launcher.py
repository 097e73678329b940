"""``hydra/launcher=slurm``: hydra-submitit-launcher's SLURM launcher, tolerant and quiet.

    python train.py -m trait=enhancement hydra/launcher=slurm trainer=gpu \
        hydra.launcher.partition=gpu hydra.launcher.timeout_min=240

Differences from ``hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher``:

- a failed array task (an exception, a crash, ``scancel``, a time-out) does not abort the sweep:
  it comes back as a FAILED job (``launch.jobs.tolerant``), the others go on, the sweep summary
  lists it in ``summary/missing_jobs.json``, then the sweep exits with status 1
  (``launch.sweep_status``; ``raise_on_failure: true``: Hydra's behaviour, no summary);
- a rerun into the same sweep dir submits no task for a job already complete (its metrics.json
  written by the same config: the job's own ``resume`` test), ``skip_finished: false`` to resubmit
  them anyway (each then skips itself);
- job states come from ``sacct`` or, on a cluster without accounting storage, from ``squeue``
  (said once, instead of submitit's warning on every poll; a job that left the queue without a
  result counts as failed rather than being waited for forever);
- one progress line per finished job (``sweep: 2/3 done, 0 failed, 1 remaining``) and one
  when the queue changes (running/pending counts), logged by the submitting process;
- a failed job's traceback is logged in its own log, ``.submitit/<array id>_<task>/*_log.out``.
"""

# no `from __future__ import annotations`: Hydra's plugin scan runs this module outside
# sys.modules, where dataclasses cannot resolve string annotations
import copy
import logging
import re
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher import config as submitit_config
from hydra_plugins.hydra_submitit_launcher import submitit_launcher as stock
from omegaconf import OmegaConf, open_dict, read_write

from radiogenomics.launch.jobs import JobDied, failure_reason, job_output_dir, tolerant
from radiogenomics.results.layout import METRICS, MISSING_JOBS, SUMMARY_DIR

log = logging.getLogger(__name__)

# keys of hydra.launcher read by this launcher, not passed on to submitit
OWN_KEYS = ("raise_on_failure", "skip_finished", "poll_s", "status_interval_s")
NOT_IN_QUEUE = "NOT_IN_QUEUE"  # the job left squeue (finished long ago, or purged) unseen
CANCELLED_RESULT_WAIT_S = 2  # a cancelled job leaves no result: do not wait submitit's 15 s


@dataclass
class RadiogenomicsSlurmConf(submitit_config.SlurmQueueConf):
    """``hydra/launcher=radiogenomics_slurm``: submitit's SLURM options plus this launcher's."""

    _target_: str = "hydra_plugins.radiogenomics_launcher.slurm_launcher.SlurmLauncher"
    raise_on_failure: bool = False  # true: a failed job aborts the sweep (no summary)
    skip_finished: bool = True  # a rerun submits no task for a job whose metrics.json is done
    poll_s: float = 2.0  # seconds between checks for finished jobs (their result files)
    status_interval_s: float = 60.0  # at most this long between sacct/squeue calls


ConfigStore.instance().store(
    group="hydra/launcher",
    name="radiogenomics_slurm",
    node=RadiogenomicsSlurmConf,
    provider="radiogenomics",
)


def _first_line(text: bytes | str) -> str:
    text = text.decode(errors="replace") if isinstance(text, bytes) else text
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "no message"


def make_queue_watcher(delay_s: float) -> Any:
    """A submitit InfoWatcher that reads sacct, or squeue when the cluster has no accounting."""
    from submitit.slurm.slurm import SlurmInfoWatcher

    class QueueWatcher(SlurmInfoWatcher):
        """Job states from ``sacct`` while it answers, else from ``squeue`` (said once).

        submitit's watcher only asks sacct: without accounting storage every poll warns and a
        job that dies without writing its result (scancel, node failure) is waited for forever.
        """

        def __init__(self, delay_s: float) -> None:
            super().__init__(delay_s=int(delay_s))
            self.accounting: bool | None = None  # None: sacct not asked yet
            self.squeue_failing = False

        def update(self) -> None:
            pending = self._registered - self._finished
            array_ids = sorted({x.split("_")[0] for x in pending})
            if not array_ids:
                return
            self._num_calls += 1
            info = self._from_sacct(array_ids) if self.accounting is not False else None
            if info is None:
                info = self._from_squeue(array_ids, pending)
            if info is not None:
                self._info_dict.update(info)
            self._last_status_check = time.time()
            for job_id in pending:
                if self.is_done(job_id, mode="cache"):
                    self._finished.add(job_id)

        def _from_sacct(self, array_ids: list[str]) -> dict[str, dict[str, str]] | None:
            command = ["sacct", "-o", "JobID,State,NodeList", "--parsable2"]
            for jid in array_ids:
                command += ["-j", jid]
            try:
                proc = subprocess.run(command, capture_output=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired) as err:
                return self._sacct_failed(str(err))
            if proc.returncode != 0:
                return self._sacct_failed(_first_line(proc.stderr or proc.stdout))
            self.accounting = True
            self._output = proc.stdout
            return self.read_info(proc.stdout)

        def _sacct_failed(self, why: str) -> None:
            if self.accounting is None:
                log.info(
                    "SLURM accounting is off on this cluster (sacct: %s): job states come from "
                    "squeue",
                    why,
                )
            else:
                log.warning("sacct failed (%s): job states come from squeue from now on", why)
            self.accounting = False
            return None

        def _from_squeue(
            self, array_ids: list[str], pending: set[str]
        ) -> dict[str, dict[str, str]] | None:
            command = [
                "squeue",
                "--noheader",
                "--array",
                "--states=all",
                f"--jobs={','.join(array_ids)}",
                "--format=%i|%T|%N",
            ]
            try:
                proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired) as err:
                return self._squeue_failed(str(err))
            gone = proc.returncode != 0 and "invalid job id" in proc.stderr.lower()
            if proc.returncode != 0 and not gone:  # slurmctld unreachable: states unchanged
                return self._squeue_failed(_first_line(proc.stderr or proc.stdout))
            self.squeue_failing = False
            self._output = proc.stdout.encode()
            info = {} if gone else self.read_info("JobID|State|NodeList\n" + proc.stdout)
            for job_id in pending:  # registered jobs squeue no longer lists
                if job_id not in info:
                    info[job_id] = {"JobID": job_id, "State": NOT_IN_QUEUE, "NodeList": ""}
            return info

        def _squeue_failed(self, why: str) -> None:
            if not self.squeue_failing:
                log.warning("squeue failed (%s): job states may be stale", why)
            self.squeue_failing = True
            return None

    return QueueWatcher(delay_s)


class SlurmLauncher(stock.SlurmLauncher):
    """Submit a sweep as one SLURM job array; failed tasks come back as FAILED jobs."""

    def __init__(self, **params: Any) -> None:
        own = {k: params.pop(k) for k in OWN_KEYS if k in params}
        super().__init__(**params)
        self.raise_on_failure = bool(own.get("raise_on_failure", False))
        self.skip_finished = bool(own.get("skip_finished", True))
        self.poll_s = float(own.get("poll_s", 2.0))
        self.status_interval_s = float(own.get("status_interval_s", 60.0))

    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
        """Run one job inside its array task; log a failure's traceback in the task's log."""
        ret = super().__call__(*args, **kwargs)
        if ret.status == JobStatus.FAILED:  # the traceback does not survive the result pickle
            log.error("job failed", exc_info=ret._return_value)
        return ret

    def make_executor(self) -> Any:
        """submitit's SLURM executor with this sweep's parameters (as the stock launcher does)."""
        import submitit

        params = dict(self.params)
        executor = submitit.AutoExecutor(
            cluster=self._EXECUTOR,
            folder=params.pop("submitit_folder"),
            slurm_max_num_timeout=params.pop("max_num_timeout", 0),
        )
        base_keys = set(OmegaConf.structured(submitit_config.BaseQueueConf).keys())
        executor.update_parameters(
            **{k if k in base_keys else f"{self._EXECUTOR}_{k}": v for k, v in params.items()}
        )
        return executor

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        """Submit the unfinished jobs as one array, wait, log progress; never raise on a failure."""
        from radiogenomics.launch.sweep_progress import SweepProgress

        assert self.config is not None
        assert len(job_overrides) > 0
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            sweep_dir.chmod(int(str(self.config.hydra.sweep.mode), 8))
        log.info(f"Submitit '{self._EXECUTOR}' sweep output dir : {sweep_dir}")
        returns: dict[int, JobReturn] = {}
        if self.skip_finished and any(sweep_dir.glob(f"*/{METRICS}")):  # a rerun: resume
            for i, overrides in enumerate(job_overrides):
                done = self.finished_return(overrides)
                if done is not None:
                    returns[i] = done
        for i, overrides in enumerate(job_overrides):
            label = " ".join(filter_overrides(overrides))
            log.info(f"\t#{initial_job_idx + i} : {label}{' (complete)' if i in returns else ''}")
        if returns:
            log.info(
                "%d of %d jobs already complete (%s): not submitted",
                len(returns),
                len(job_overrides),
                METRICS,
            )
        todo = [i for i in range(len(job_overrides)) if i not in returns]
        if todo:
            returns.update(self.run_array(job_overrides, initial_job_idx, todo, SweepProgress))
        ordered = [returns[i] for i in range(len(job_overrides))]
        return ordered if self.raise_on_failure else [tolerant(r) for r in ordered]

    def run_array(
        self,
        job_overrides: Sequence[Sequence[str]],
        initial_job_idx: int,
        todo: list[int],
        progress_class: Any,
    ) -> dict[int, JobReturn]:
        """Submit jobs ``todo`` as one SLURM array and wait for all of them."""
        executor = self.make_executor()
        state = Singleton.get_state()
        job_params = [
            (
                list(job_overrides[i]),
                "hydra.sweep.dir",
                initial_job_idx + i,
                f"job_id_for_{initial_job_idx + i}",
                state,
            )
            for i in todo
        ]
        jobs = executor.map_array(self, *zip(*job_params, strict=True))
        array_id = jobs[0].job_id.split("_")[0]
        log.info(
            "submitted SLURM array job %s (%d tasks, at most %d at once); logs in %s; "
            "cancel with `scancel %s`, resume by rerunning this command",
            array_id,
            len(jobs),
            min(len(jobs), int(self.params.get("array_parallelism", 256))),
            jobs[0].paths.folder.parent,
            array_id,
        )
        watcher = make_queue_watcher(self.status_interval_s)
        for job in jobs:
            job.watcher = watcher  # instance attribute: submitit's shared watcher stays unused
            watcher.register_job(job.job_id)
        overrides = [job_overrides[i] for i in todo]
        numbers = [initial_job_idx + i for i in todo]
        returns = self.wait(jobs, overrides, numbers, progress_class(len(jobs)))
        failed = sum(r.status != JobStatus.COMPLETED for r in returns)
        if failed:
            log.warning(
                "%d of %d jobs failed; finished jobs are summarised, failed ones are listed in "
                "%s/%s (job logs: %s)",
                failed,
                len(jobs),
                SUMMARY_DIR,
                MISSING_JOBS,
                jobs[0].paths.folder.parent,
            )
        return dict(zip(todo, returns, strict=True))

    def finished_return(self, overrides: Sequence[str]) -> JobReturn | None:
        """A COMPLETED return for a fine-tuning job whose metrics.json its config wrote, else None.

        The job's own ``resume`` test (``tasks.jobs.job_complete``), made before submitting: a
        finished job costs no array task on a rerun.
        """
        from radiogenomics.tasks.jobs import job_complete

        assert self.hydra_context is not None and self.config is not None
        try:
            config = self.hydra_context.config_loader.load_sweep_config(
                self.config, list(overrides)
            )
            if config.get("task") != "finetune":
                return None
            path = job_output_dir(config) / METRICS
            task_config = copy.deepcopy(config)
            with read_write(task_config), open_dict(task_config):
                del task_config["hydra"]  # what the job's task function sees (Hydra's run_job)
            done = job_complete(task_config, path)
            if done is None:
                return None
        except Exception as err:  # cannot tell: submit the job, which checks again
            log.debug("could not check whether %s is complete: %s", list(overrides), err)
            return None
        return JobReturn(
            overrides=list(overrides),
            status=JobStatus.COMPLETED,
            _return_value=done,
            working_dir=str(path.parent),
            task_name=str(config.hydra.job.name),
        )

    def wait(
        self,
        jobs: list[Any],
        job_overrides: Sequence[Sequence[str]],
        numbers: Sequence[int],
        progress: Any,
    ) -> list[JobReturn]:
        """Collect each job as it finishes; log the progress line and queue changes."""
        returns: dict[int, JobReturn] = {}
        queue_line = ""
        while len(returns) < len(jobs):
            for i, job in enumerate(jobs):
                if i in returns or not job.done():
                    continue
                returns[i] = ret = collect(job, job_overrides[i])
                ok = ret.status == JobStatus.COMPLETED
                label = " ".join(filter_overrides(job_overrides[i]))
                if not ok:
                    log.error(
                        "job #%d (%s, SLURM %s) failed: %s",
                        numbers[i],
                        label,
                        job.job_id,
                        failure_reason(ret),
                    )
                log.info(progress.record(ok))
            line = queue_summary(jobs, returns)
            if line and line != queue_line:
                log.info("queue: %s", line)
                queue_line = line
            if len(returns) < len(jobs):
                time.sleep(self.poll_s)
        return [returns[i] for i in range(len(jobs))]


def queue_summary(jobs: list[Any], collected: dict[int, Any]) -> str:
    """``2 running, 1 pending`` for the jobs not collected yet (states as last polled)."""
    states = Counter(
        job.watcher.get_state(job.job_id, mode="cache").split()[0].lower()
        for i, job in enumerate(jobs)
        if i not in collected
    )
    order = {"running": 0, "completing": 1, "pending": 2}
    ranked = sorted(states.items(), key=lambda item: (order.get(item[0], 3), item[0]))
    return ", ".join(f"{n} {state}" for state, n in ranked)


def collect(job: Any, overrides: Sequence[str]) -> JobReturn:
    """The job's JobReturn, or a FAILED one when the task died without returning one."""
    state = job.watcher.get_state(job.job_id, mode="cache")
    if state.startswith("CANCELLED"):
        job._results_timeout_s = CANCELLED_RESULT_WAIT_S
    try:
        return job.results()[0]
    except Exception as err:  # cancelled, timed out, killed, exited, or failed outside Hydra
        from submitit.core.utils import UncompletedJobError

        why = "no result" if isinstance(err, UncompletedJobError) else _first_line(str(err))
        said = last_error_line([job.paths.stdout, job.paths.stderr])
        reason = f"SLURM state {state}, {why}{f': {said}' if said else ''}"
        error = JobDied(f"{reason} (logs: {job.paths.stdout.parent})")
        return JobReturn(overrides=list(overrides), status=JobStatus.FAILED, _return_value=error)


def last_error_line(logs: Sequence[Path], tail: int = 300) -> str | None:
    """The most telling error line of a task's logs: a logged ERROR (``tasks.run``'s one line
    for a config or data error), else a traceback's last line, else an srun/slurmstepd error.
    """
    lines: list[str] = []
    for path in logs:
        try:
            lines += path.read_text(errors="replace").splitlines()[-tail:]
        except OSError:
            continue
    patterns = (
        re.compile(r"\]\[ERROR\] - (?P<msg>.+)"),  # Hydra's job log format
        re.compile(r"^(?P<msg>(\w+\.)*\w*(Error|Exception|Exit)\b.*)"),  # a traceback's end
        re.compile(r"^(?P<msg>(srun|slurmstepd): error: .+)"),
    )
    for pattern in patterns:
        for line in reversed(lines):
            match = pattern.search(line.strip())
            if match and match.group("msg").strip() != "job failed":
                return match.group("msg").strip()
    return None
