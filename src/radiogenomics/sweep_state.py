"""What happened to the sweep running in this process: failed jobs, summary errors, a stop signal.

Plain process state at the bottom of the package, so that the launchers (``launch/``) and the
sweep-summary callback (``reporting/``) can both record here; :mod:`radiogenomics.launch.sweep_status`
turns it into the sweep's exit status.
"""

from __future__ import annotations

from collections.abc import Sequence

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


def reset() -> None:
    """Forget the recorded failures (a new sweep starts)."""
    _failed.clear()
    _summary_errors.clear()
    _stop_signal.clear()
