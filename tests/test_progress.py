"""Progress of long steps: periodic log lines with counts and elapsed time, silence for fast ones."""

from __future__ import annotations

import io
import logging

import numpy as np

from radiogenomics.evaluation.metrics import bootstrap_auroc_ci, stratified_counts
from radiogenomics.progress import Progress, format_seconds, progress


class Clock:
    """A hand-driven clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_long_step_logs_counts_elapsed_and_time_left(caplog):
    clock = Clock()
    caplog.set_level(logging.INFO, logger="radiogenomics.progress")
    with Progress("per-patient GSEA", total=100, unit="patients", clock=clock, bar=False) as p:
        for _ in range(4):
            clock.now += 6.0
            p.update(25)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "per-patient GSEA: 50/100 patients (50%), elapsed 0m12s, about 0m12s left",
        "per-patient GSEA: 100/100 patients (100%), elapsed 0m24s",
        "per-patient GSEA: 100 patients done in 0m24s",
    ]


def test_a_fast_step_logs_nothing(caplog):
    caplog.set_level(logging.INFO, logger="radiogenomics.progress")
    assert list(progress(range(50), "masking gene sets", unit="sets", bar=False)) == list(range(50))
    assert caplog.records == []


def test_unknown_total_and_hours():
    clock = Clock()
    counter = Progress("survival", clock=clock, unit="associations", bar=False)
    counter.done, clock.now = 7, 3725.0
    assert counter.line() == "survival: 7 associations, elapsed 1h02m05s"
    assert format_seconds(75.2) == "1m15s"


def test_no_bar_unless_stderr_is_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert Progress("x", total=3)._bar is None


def _one_product_ci(y: np.ndarray, probs: np.ndarray, n_boot: int) -> tuple[float, float]:
    """The binary bootstrap CI as one matrix product over all resamples (no chunks)."""
    counts = stratified_counts(y, n_boot, np.random.default_rng(0))
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    diff = probs[pos][:, None] - probs[neg][None, :]
    M = (diff > 0) + 0.5 * (diff == 0)
    stats = ((counts[:, pos] @ M) * counts[:, neg]).sum(axis=1) / (len(pos) * len(neg))
    return tuple(np.percentile(stats, [2.5, 97.5]))


def test_the_bootstrap_is_one_product_at_cohort_size_and_chunked_beyond(monkeypatch):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 175)
    probs = np.clip(0.3 * y + rng.random(175) * 0.7, 0, 1)
    assert bootstrap_auroc_ci(y, probs, n_boot=2000) == _one_product_ci(y, probs, 2000)
    monkeypatch.setattr("radiogenomics.evaluation.metrics.BOOT_CHUNK_CELLS", 175 * 300)
    chunked = bootstrap_auroc_ci(y, probs, n_boot=2000)  # 7 chunks, the last one partial
    np.testing.assert_allclose(chunked, _one_product_ci(y, probs, 2000), rtol=1e-12)
