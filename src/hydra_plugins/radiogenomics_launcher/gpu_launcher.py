"""``hydra/launcher=gpus``: parallel jobs on one node, each pinned to one GPU slot.

    python train.py -m trait=enhancement hydra/launcher=gpus \
        hydra.launcher.gpus=[0,1,2,3] hydra.launcher.jobs_per_gpu=2
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from radiogenomics.launch.jobs import (
    JobSpec,
    SlotPolicy,
    failed_return,
    failure_reason,
    tolerant,
)
from radiogenomics.launch.pool import Outcome, run_isolated
from radiogenomics.launch.slots import CUDA_ENV, Slot, cpu_slots, gpu_slots
from radiogenomics.launch.sweep_progress import SweepProgress
from radiogenomics.launch.sweep_status import (
    log_stop,
    stale_jobs,
    stop_on_signals,
    stop_signal,
)
from radiogenomics.results import layout

log = logging.getLogger(__name__)

DEFAULT_LOCK_DIR = ".slots"  # under the sweep dir, when the config names no lock_dir


def cuda_device_count() -> int:
    """CUDA devices this process can see (0 without CUDA or without a GPU build of torch)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def plan_slots(
    gpus: Sequence[int], jobs_per_gpu: int, n_jobs: int | None, simulate: bool
) -> list[Slot]:
    """GPU slots when GPUs are listed and present (or simulated), else CPU slots."""
    if not gpus:
        return cpu_slots(n_jobs)
    if simulate:
        return gpu_slots(gpus, jobs_per_gpu)
    n_devices = cuda_device_count()
    if n_devices == 0:
        log.warning("no CUDA device found: running CPU workers instead of GPUs %s", list(gpus))
        return cpu_slots(n_jobs)
    absent = [g for g in gpus if not 0 <= g < n_devices]
    if absent:
        raise ValueError(f"GPU ids {absent} not present: this node has {n_devices} device(s)")
    return gpu_slots(gpus, jobs_per_gpu)


class GpuSlotLauncher(Launcher):
    """Run a sweep's jobs in fresh worker processes, one GPU slot (or CPU slot) per job."""

    def __init__(
        self,
        gpus: Sequence[int] = (),
        jobs_per_gpu: int = 1,
        n_jobs: int | None = None,
        simulate: bool = False,
        lock_dir: str | None = None,
        poll_s: float = 1.0,
        pin_trainer: bool = True,
        raise_on_failure: bool = False,
        start_method: str = "spawn",
        preload: Sequence[str] = (),
    ) -> None:
        self.gpus = [int(g) for g in gpus]
        self.jobs_per_gpu = int(jobs_per_gpu)
        self.n_jobs = n_jobs
        self.simulate = bool(simulate)
        self.lock_dir = lock_dir
        self.poll_s = float(poll_s)
        self.pin_trainer = bool(pin_trainer)
        self.raise_on_failure = bool(raise_on_failure)
        self.start_method = str(start_method)
        self.preload = [str(m) for m in preload]
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        """Keep what the workers need to compose and run each job."""
        self.config = config
        self.task_function = task_function
        self.hydra_context = hydra_context

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        """Run one batch of jobs; failures come back as FAILED returns, never as an exception.

        SIGINT/SIGTERM stop the sweep: no job starts, running workers are terminated (their
        jobs count as failed), the summary is written and the command exits with 130/143.
        """
        assert self.config is not None and self.task_function is not None
        assert self.hydra_context is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        if stop_signal() is not None:  # a signal stopped this sweep in an earlier batch
            return []
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        policy = self.slot_policy(sweep_dir)
        log_plan(policy, job_overrides, initial_job_idx, sweep_dir)
        state = Singleton.get_state()
        specs = [
            JobSpec(
                initial_job_idx + i,
                tuple(o),
                self.hydra_context,
                self.config,
                self.task_function,
                state,
                policy,
            )
            for i, o in enumerate(job_overrides)
        ]
        progress = SweepProgress(total=len(specs))

        def report(outcome: Outcome) -> None:
            ret = job_return(outcome, job_overrides[outcome.index])
            ok = ret.status == JobStatus.COMPLETED
            if not ok:
                label = " ".join(filter_overrides(job_overrides[outcome.index]))
                why = failure_reason(ret)
                log.error("job #%d (%s) failed: %s", initial_job_idx + outcome.index, label, why)
            log.info(progress.record(ok))

        with stop_on_signals():
            outcomes = run_isolated(
                specs,
                len(policy.slots),
                report,
                start_method=self.start_method,
                preload=self.preload,
                stop=lambda: stop_signal() is not None,
            )
        if stop_signal() is not None:
            log_stop(len(outcomes), len(specs))
        returns = [job_return(o, job_overrides[o.index]) for o in outcomes]
        stale = stale_jobs(Path(str(self.config.hydra.sweep.dir)))  # one line at the end
        if progress.failed and not stale:
            log.warning(
                "%d of %d jobs failed; finished jobs are summarised, failed ones are listed in "
                "%s/%s",
                progress.failed,
                len(specs),
                layout.SUMMARY_DIR,
                layout.MISSING_JOBS,
            )
        return returns if self.raise_on_failure else [tolerant(r) for r in returns]

    def slot_policy(self, sweep_dir: Path) -> SlotPolicy:
        """The slots of this node and how workers take them."""
        slots = plan_slots(self.gpus, self.jobs_per_gpu, self.n_jobs, self.simulate)
        return SlotPolicy(
            slots=tuple(slots),
            lock_dir=str(self.lock_dir or sweep_dir / DEFAULT_LOCK_DIR),
            poll_s=self.poll_s,
            simulate=self.simulate,
            pin_trainer=self.pin_trainer,
            visible_devices=os.environ.get(CUDA_ENV),
        )


def log_plan(
    policy: SlotPolicy, job_overrides: Sequence[Sequence[str]], first_idx: int, sweep_dir: Path
) -> None:
    """Log the slots and the jobs about to run."""
    slots = policy.slots
    kind = "CPU" if slots[0].gpu is None else "simulated GPU" if policy.simulate else "GPU"
    names = ", ".join(s.name for s in slots)
    log.info(
        "launching %d jobs on %d %s slots (%s), sweep dir %s",
        len(job_overrides),
        len(slots),
        kind,
        names,
        sweep_dir,
    )
    for idx, overrides in enumerate(job_overrides):
        log.info("\t#%d : %s", first_idx + idx, " ".join(filter_overrides(overrides)))


def job_return(outcome: Outcome, overrides: Sequence[str]) -> JobReturn:
    """The job's JobReturn: the worker's, or a FAILED one when the worker died or raised."""
    return outcome.value if outcome.ok else failed_return(overrides, outcome.error or "")
