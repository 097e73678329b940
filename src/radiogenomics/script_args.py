"""Argument checks shared by ``scripts/``: a bad argument ends in one line and exit status 2.

The scripts take sweep dirs and numbers; like ``train.py`` (``tasks.run``) they refuse a mistake
before anything is read or written, with one line naming the argument and no usage block or
traceback. Use :class:`ScriptParser` and the ``type=`` checks below::

    parser = ScriptParser(description=...)
    parser.add_argument("sweep", type=sweep_dir)
    parser.add_argument("--n-boot", type=int_at_least(1), default=2000)
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from radiogenomics.results import layout


class ScriptParser(argparse.ArgumentParser):
    """argparse, with a mistake reported as one line (``<script>: error: ...``), exit status 2."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def is_sweep(path: Path) -> bool:
    """A sweep dir: Hydra's ``multirun.yaml``, or a job dir with ``metrics.json`` right in it.

    Only the dir's own entries are looked at: a dir that merely holds sweeps somewhere below it
    (``/tmp``, ``outputs/``) is not a sweep, and nothing is written into it.
    """
    if (path / layout.MULTIRUN).is_file():
        return True
    return any((d / layout.METRICS).is_file() for d in path.iterdir() if d.is_dir())


def existing_dir(value: str) -> Path:
    """A directory that exists."""
    path = Path(value).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{value}: no such directory")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value}: not a directory (a file)")
    return path


def sweep_dir(value: str) -> Path:
    """An existing sweep dir (see :func:`is_sweep`)."""
    path = existing_dir(value)
    if not is_sweep(path):
        raise argparse.ArgumentTypeError(
            f"{value}: not a sweep directory (no {layout.MULTIRUN} and no job with "
            f"{layout.METRICS}): expected the dir of a train.py -m run"
        )
    return path


def summarized_dir(value: str) -> Path:
    """An existing sweep dir, or a dir with the ``summary/`` a sweep's summary wrote."""
    path = existing_dir(value)
    if not (path / layout.SUMMARY_DIR).is_dir() and not is_sweep(path):
        raise argparse.ArgumentTypeError(
            f"{value}: not a sweep directory (no {layout.MULTIRUN}, no job with "
            f"{layout.METRICS} and no {layout.SUMMARY_DIR}/): expected the dir of a train.py -m run"
        )
    return path


def int_at_least(low: int) -> Callable[[str], int]:
    """An integer >= ``low``."""

    def check(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r}: expected an integer >= {low}") from None
        if number < low:
            raise argparse.ArgumentTypeError(f"{number}: expected an integer >= {low}")
        return number

    check.__name__ = f"integer >= {low}"
    return check


def number_in(
    low: float, high: float | None = None, *, low_open: bool = False, high_open: bool = False
) -> Callable[[str], float]:
    """A finite number in ``low..high`` (open or closed at either end; ``high=None``: no limit)."""
    left = "(" if low_open else "["
    right = ")" if high_open or high is None else "]"
    bounds = f"in {left}{low}, {'inf' if high is None else high}{right}"

    def check(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r}: expected a number {bounds}") from None
        ok = math.isfinite(number) and (number > low if low_open else number >= low)
        if high is not None:
            ok = ok and (number < high if high_open else number <= high)
        if not ok:
            raise argparse.ArgumentTypeError(f"{value}: expected a number {bounds}")
        return number

    check.__name__ = f"number {bounds}"
    return check


probability = number_in(0, 1, low_open=True, high_open=True)  # an FDR, a q-value, an alpha
