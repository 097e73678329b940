"""Progress of long steps outside the epoch loop: a periodic log line, plus a bar on a terminal.

Every step that can take more than a few seconds (per-patient GSEA, masking many gene sets,
bootstrap resamples, survival fits, building the sweep report) counts its work here::

    with Progress("per-patient GSEA", total=len(ids), unit="patients") as progress:
        for chunk in chunks:
            ...
            progress.update(len(chunk))

The log line (logger ``radiogenomics.progress``, so it reaches the console and Hydra's job log)
comes at most every ``interval_s`` seconds and only once the step has run that long, e.g.
``per-patient GSEA: 40/175 patients (23%), elapsed 0m12s, about 0m41s left``; a step that took
that long ends with a ``done`` line. A fast step logs nothing. When stderr is a terminal a tqdm bar
is drawn too (after ``BAR_DELAY_S``), never in files or CI logs.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

log = logging.getLogger("radiogenomics.progress")

INTERVAL_S = 10.0  # seconds between two log lines of one step (and before the first)
BAR_DELAY_S = 2.0  # a terminal bar appears only for steps that last longer than this
SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 3600

T = TypeVar("T")


def format_seconds(seconds: float) -> str:
    """``75.2`` -> ``1m15s``; hours once reached (``1h02m03s``)."""
    hours, rest = divmod(int(seconds), SECONDS_PER_HOUR)
    minutes, secs = divmod(rest, SECONDS_PER_MINUTE)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _interactive() -> bool:
    """Whether stderr is a terminal (a bar would be seen, not written into a log file)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def _bar(what: str, total: int | None, unit: str) -> Any | None:
    """A tqdm bar on stderr when it is a terminal and tqdm is installed; else None."""
    if not _interactive():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=what, unit=f" {unit}", delay=BAR_DELAY_S, leave=False)


class Progress:
    """Counts the work of one step and reports it (see the module doc); a context manager."""

    def __init__(
        self,
        what: str,
        total: int | None = None,
        unit: str = "items",
        interval_s: float = INTERVAL_S,
        logger: logging.Logger = log,
        clock: Callable[[], float] = time.monotonic,
        bar: bool = True,
    ) -> None:
        self.what, self.total, self.unit = what, total, unit
        self.interval_s, self.logger, self.clock = interval_s, logger, clock
        self.done = 0
        self.start = clock()
        self.last_line = self.start
        self.lines = 0
        self._bar = _bar(what, total, unit) if bar else None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(finished=exc_type is None)

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units done; log a line when ``interval_s`` has passed since the last."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        now = self.clock()
        if now - self.last_line >= self.interval_s:
            self.last_line = now
            self.lines += 1
            self.logger.info(self.line(now))

    def line(self, now: float | None = None) -> str:
        """E.g. ``masking gene sets: 400/800 sets (50%), elapsed 0m12s, about 0m12s left``."""
        elapsed = (self.clock() if now is None else now) - self.start
        if not self.total:
            return f"{self.what}: {self.done} {self.unit}, elapsed {format_seconds(elapsed)}"
        text = (
            f"{self.what}: {self.done}/{self.total} {self.unit} "
            f"({100 * self.done / self.total:.0f}%), elapsed {format_seconds(elapsed)}"
        )
        if 0 < self.done < self.total:
            left = elapsed * (self.total - self.done) / self.done
            text += f", about {format_seconds(left)} left"
        return text

    def close(self, finished: bool = True) -> None:
        """Remove the bar; log a ``done`` line when the step was long enough to have logged."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elapsed = self.clock() - self.start
        if finished and (self.lines or elapsed >= self.interval_s):
            self.logger.info(
                "%s: %d %s done in %s", self.what, self.done, self.unit, format_seconds(elapsed)
            )


def progress(
    items: Iterable[T], what: str, total: int | None = None, unit: str = "items", **kwargs: Any
) -> Iterator[T]:
    """Yield ``items`` while counting them with a :class:`Progress` (``total`` from ``len``)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(what, total=total, unit=unit, **kwargs) as counter:
        for item in items:
            yield item
            counter.update()
