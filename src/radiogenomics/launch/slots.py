"""GPU slots: at most ``jobs_per_gpu`` jobs per device, handed out through one file lock each.

A slot is taken by a non-blocking try over every slot's lock file; when all are held the
caller polls. The lock is an OS file lock, so a crashed process releases its slot with it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

log = logging.getLogger(__name__)

CUDA_ENV = "CUDA_VISIBLE_DEVICES"


@dataclass(frozen=True)
class Slot:
    """One place for a job: GPU ``gpu`` (None: a CPU worker) and the slot index on it."""

    gpu: int | None
    index: int

    @property
    def name(self) -> str:
        """Lock-file stem and log label, e.g. ``gpu1-0`` or ``cpu-3``."""
        return f"cpu-{self.index}" if self.gpu is None else f"gpu{self.gpu}-{self.index}"


def gpu_slots(gpus: Sequence[int], jobs_per_gpu: int) -> list[Slot]:
    """Slots ordered slot-index first (gpu0-0, gpu1-0, ..., gpu0-1, ...) to spread jobs out."""
    if jobs_per_gpu < 1:
        raise ValueError(f"jobs_per_gpu must be >= 1, got {jobs_per_gpu}")
    if len(set(gpus)) != len(gpus):
        raise ValueError(f"GPU ids listed twice: {list(gpus)}")
    return [Slot(int(g), k) for k in range(jobs_per_gpu) for g in gpus]


def cpu_slots(n_jobs: int | None) -> list[Slot]:
    """``n_jobs`` CPU slots (None: one per core this process may use)."""
    n = n_jobs if n_jobs is not None else available_cores()
    if n < 1:
        raise ValueError(f"n_jobs must be >= 1, got {n}")
    return [Slot(None, k) for k in range(n)]


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS reports one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cuda_visible_devices(slot: Slot, simulate: bool, visible: str | None) -> str:
    """CUDA_VISIBLE_DEVICES for a job in ``slot``: its one device, or "" (no GPU) on CPU.

    ``visible`` is the launcher's own CUDA_VISIBLE_DEVICES: GPU ids index into it when set,
    so ``gpus=[0]`` under ``CUDA_VISIBLE_DEVICES=2,3`` pins device 2.
    """
    if slot.gpu is None or simulate:
        return ""
    devices = [d.strip() for d in visible.split(",") if d.strip()] if visible else []
    if not devices:
        return str(slot.gpu)
    if slot.gpu >= len(devices):
        raise ValueError(f"GPU {slot.gpu} is not among {CUDA_ENV}={visible}")
    return devices[slot.gpu]


def lock_path(lock_dir: Path, slot: Slot) -> Path:
    """The lock file guarding ``slot``."""
    return Path(lock_dir) / f"{slot.name}.lock"


def try_acquire(slots: Sequence[Slot], lock_dir: Path) -> tuple[Slot, FileLock] | None:
    """Take the first free slot without waiting: (slot, its held lock), or None if all are held."""
    Path(lock_dir).mkdir(parents=True, exist_ok=True)
    for slot in slots:
        lock = FileLock(lock_path(lock_dir, slot), thread_local=False)
        try:
            lock.acquire(blocking=False)
        except Timeout:
            continue
        return slot, lock
    return None


@contextmanager
def hold_slot(slots: Sequence[Slot], lock_dir: Path, poll_s: float) -> Iterator[Slot]:
    """Hold a free slot for the ``with`` body (polling every ``poll_s`` s); always release it."""
    waited = False
    while (taken := try_acquire(slots, lock_dir)) is None:
        if not waited:
            log.info("all %d slots in %s are busy: waiting for one", len(slots), lock_dir)
            waited = True
        time.sleep(poll_s)
    slot, lock = taken
    try:
        yield slot
    finally:
        lock.release()
