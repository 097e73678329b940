"""One Hydra job inside a launcher worker process: take a slot, pin the device, run, record."""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from radiogenomics.launch.slots import CUDA_ENV, Slot, cuda_visible_devices, hold_slot
from radiogenomics.launch.sweep_status import record_failure
from radiogenomics.results import layout
from radiogenomics.utils import write_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlotPolicy:
    """How a worker picks and uses its slot (from the launcher's config)."""

    slots: tuple[Slot, ...]
    lock_dir: str
    poll_s: float
    simulate: bool
    pin_trainer: bool
    visible_devices: str | None  # the launcher's own CUDA_VISIBLE_DEVICES


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker needs to run one job of the sweep."""

    idx: int
    overrides: tuple[str, ...]
    hydra_context: HydraContext
    config: DictConfig
    task_function: TaskFunction
    singleton_state: dict[Any, Any]
    policy: SlotPolicy

    def __call__(self) -> JobReturn:
        """Run the job (this is what the worker process executes)."""
        return execute_job(self)


class TolerantJobReturn(JobReturn):
    """A failed job's return whose ``return_value`` is the error instead of raising it.

    Hydra's sweeper reads every ``return_value`` and stops at the first failure, before the
    multirun-end callbacks (the sweep summary) run. Status stays FAILED.
    """

    @property
    def return_value(self) -> Any:
        """The job's value, or its exception when it failed."""
        return self._return_value

    @return_value.setter
    def return_value(self, value: Any) -> None:
        self._return_value = value


def tolerant(ret: JobReturn) -> TolerantJobReturn:
    """Copy a JobReturn into one whose failure does not abort the sweep.

    A failed job is recorded for the sweep's exit status (``launch.sweep_status``): the sweep
    runs on, writes its summary, then exits with status 1.
    """
    if ret.status == JobStatus.FAILED:
        record_failure(ret.overrides)
    return TolerantJobReturn(**{f: getattr(ret, f) for f in JobReturn.__dataclass_fields__})


def job_output_dir(config: DictConfig) -> Path:
    """The job's output dir, as Hydra's ``run_job`` computes it (sweep dir / subdir)."""
    sweep_dir = str(OmegaConf.select(config, "hydra.sweep.dir"))
    return Path(os.path.abspath(os.path.join(sweep_dir, str(config.hydra.sweep.subdir))))


def require_fresh_cuda() -> None:
    """Fail clearly if CUDA started before the job could choose its device."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise RuntimeError(
            "CUDA was initialised before the job chose its GPU (a preloaded module touched "
            "CUDA): set hydra.launcher.start_method=spawn or drop it from hydra.launcher.preload"
        )


def pin_trainer(config: DictConfig, on_gpu: bool) -> None:
    """Point the job's Lightning trainer at its one device (GPU slot) or the CPU."""
    if "trainer" not in config:
        return
    with read_write(config), open_dict(config):
        config.trainer.accelerator = "gpu" if on_gpu else "cpu"
        config.trainer.devices = 1


def slot_record(slot: Slot, policy: SlotPolicy, visible: str, start: float) -> dict[str, Any]:
    """The fields of slot.json (end time and status are added when the job ends)."""
    return {
        **asdict(slot),
        "slot": slot.name,
        "simulated": bool(policy.simulate and slot.gpu is not None),
        CUDA_ENV: visible,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "start": start,
        "end": None,
        "status": "RUNNING",
    }


def execute_job(spec: JobSpec) -> JobReturn:
    """Hold a slot, set CUDA_VISIBLE_DEVICES, run the Hydra job and write its slot.json."""
    setup_globals()
    Singleton.set_state(spec.singleton_state)
    config = spec.hydra_context.config_loader.load_sweep_config(spec.config, list(spec.overrides))
    with open_dict(config):
        config.hydra.job.id = f"{config.hydra.job.name}_{spec.idx}"
        config.hydra.job.num = spec.idx
    HydraConfig.instance().set_config(config)
    policy = spec.policy
    with hold_slot(policy.slots, Path(policy.lock_dir), policy.poll_s) as slot:
        require_fresh_cuda()
        visible = cuda_visible_devices(slot, policy.simulate, policy.visible_devices)
        os.environ[CUDA_ENV] = visible  # CUDA has not started in this fresh process
        if policy.pin_trainer:
            pin_trainer(config, on_gpu=visible != "")
        record_path = job_output_dir(config) / layout.SLOT_RECORD
        record = slot_record(slot, policy, visible, time.time())
        write_json(record_path, record)
        status = "CRASHED"
        try:
            ret = run_job(
                hydra_context=spec.hydra_context,
                config=config,
                task_function=spec.task_function,
                job_dir_key="hydra.sweep.dir",
                job_subdir_key="hydra.sweep.subdir",
            )
            status = ret.status.name
            if ret.status == JobStatus.FAILED:  # the traceback only exists in this process
                log.error("job failed", exc_info=ret._return_value)
        finally:
            write_json(record_path, {**record, "end": time.time(), "status": status})
    return ret


class JobDied(RuntimeError):
    """A job that ended without a result of its own (its worker or array task died, it exited, a
    stop signal abandoned it): the message says how, its last line being the reason."""


def failed_return(overrides: Sequence[str], error: str) -> JobReturn:
    """A FAILED JobReturn for a job whose worker died before returning one (``error``: how, or
    the worker's traceback)."""
    return JobReturn(
        overrides=list(overrides), status=JobStatus.FAILED, _return_value=JobDied(error)
    )


def failure_reason(ret: JobReturn) -> str:
    """One line on why a job failed, as every launcher logs it: how it died, the status it
    exited with, or its exception."""
    err = ret._return_value
    if isinstance(err, JobDied):
        lines = str(err).strip().splitlines()
        return lines[-1] if lines else "unknown error"
    if isinstance(err, SystemExit):
        return f"exit status {err.code}"
    if isinstance(err, BaseException):
        return f"{type(err).__name__}: {err}"
    return repr(err)
