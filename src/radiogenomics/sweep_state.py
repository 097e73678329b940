"""What happened to the sweep running in this process: failed jobs, summary errors, a stop signal.

Plain process state at the bottom of the package, so that the launchers (``launch/``) and the
sweep-summary callback (``pipelines/``) can both record here;
:mod:`radiogenomics.launch.sweep_status` turns it into the sweep's exit status.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

STALE_DIR = ".stale_inputs"  # in the sweep dir: one line per job refused as stale (any process)

_failed: list[str] = []  # the failed jobs of the sweep running in this process (their overrides)
_summary_errors: list[str] = []  # why the sweep summary could not be written (one line each)
_stop_signal: list[int] = []  # SIGINT/SIGTERM that stopped the sweep (the serial launcher)


def record_failure(overrides: Sequence[str] | None) -> None:
    """Count one failed job of the running sweep (called in the launching process)."""
    _failed.append(" ".join(str(o) for o in overrides or ()))


def failed_jobs() -> list[str]:
    """The failed jobs recorded since the sweep started, as override lines."""
    return list(_failed)


def record_summary_failure(line: str) -> None:
    """The sweep summary could not be written: the sweep then exits with status 2."""
    _summary_errors.append(line)


def record_stop(signum: int) -> None:
    """A signal stopped the sweep: it then exits with status 128 + signum (130 for SIGINT)."""
    if not _stop_signal:
        _stop_signal.append(int(signum))


def stop_signal() -> int | None:
    """The signal that stopped the running sweep, if any."""
    return _stop_signal[0] if _stop_signal else None


def reset(sweep_dir: Path | None = None) -> None:
    """Forget the recorded failures (a new sweep starts), also the stale jobs of ``sweep_dir``."""
    _failed.clear()
    _summary_errors.clear()
    _stop_signal.clear()
    if sweep_dir is not None:
        shutil.rmtree(sweep_dir / STALE_DIR, ignore_errors=True)


def record_stale(out_dir: Path, line: str) -> None:
    """A finished job was refused because its input files changed (called in the job, which may
    run in a worker process): noted in the sweep dir, so that the sweep exits with status 2 and
    leaves its summary as it was. Outside a sweep (``-m``) there is nothing to note."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return
    stale = Path(str(HydraConfig.get().sweep.dir)) / STALE_DIR
    try:
        stale.mkdir(parents=True, exist_ok=True)
        (stale / f"{out_dir.name}.txt").write_text(line + "\n")
    except OSError as err:  # the job still fails with its one line; only the sweep's status differs
        log.warning("could not note the stale job in %s: %s", stale, err)


def sweep_dir_of(config: DictConfig | None) -> Path | None:
    """The sweep dir of a multirun config (None without one)."""
    value = OmegaConf.select(config, "hydra.sweep.dir") if config is not None else None
    return Path(str(value)) if value is not None else None


def stale_jobs(sweep_dir: Path) -> list[str]:
    """The lines of the jobs of this sweep refused as stale (their inputs changed), sorted."""
    stale = sweep_dir / STALE_DIR
    if not stale.is_dir():
        return []
    return sorted(p.read_text().strip() for p in stale.glob("*.txt"))
