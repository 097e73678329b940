"""Audit a finished sweep from its jobs' slot.json files: how many jobs shared a device."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any

from radiogenomics.results import layout


def read_slot_records(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """Every job's slot.json under ``sweep_dir``, with the job dir added as ``job``."""
    records = []
    for path in sorted(Path(sweep_dir).glob(f"**/{layout.SLOT_RECORD}")):
        record = json.loads(path.read_text())
        record["job"] = str(path.parent.relative_to(sweep_dir))
        records.append(record)
    return records


def peak_concurrency(
    records: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Hashable]
) -> dict[Hashable, int]:
    """Most jobs running at once per ``key(record)`` (e.g. the GPU), from start/end times.

    A job without an end time (its process died) counts as running until the last end seen.
    """
    records = list(records)
    horizon = max((r["end"] or r["start"] for r in records), default=0.0)
    events: dict[Hashable, list[tuple[float, int]]] = {}
    for r in records:
        end = r["end"] if r["end"] is not None else horizon
        events.setdefault(key(r), []).extend([(r["start"], 1), (end, -1)])
    peaks = {}
    for group, evs in events.items():
        running = peak = 0
        for _, step in sorted(evs):  # at equal times an end (-1) sorts before a start (+1)
            running += step
            peak = max(peak, running)
        peaks[group] = peak
    return peaks
