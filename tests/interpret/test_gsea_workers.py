"""Per-patient GSEA leaves no worker processes behind (a launcher's job must exit when done)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from radiogenomics.interpret.gsea import prerank_patients

PROC = Path("/proc")


def _workers() -> set[int]:
    """Process ids of this process's joblib (loky) workers (Linux /proc); the resource trackers,
    which end with this process, are not counted."""
    found = set()
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and "popen_loky" in command:
            found.add(int(entry.name))
    return found


@pytest.mark.skipif(not (PROC / "self" / "stat").exists(), reason="needs Linux /proc")
def test_parallel_gsea_stops_its_workers():
    rng = np.random.default_rng(0)
    genes = [f"G{i}" for i in range(200)]
    sets = {"A": genes[:20], "B": genes[20:50]}
    before = _workers()
    table = prerank_patients(
        rng.normal(size=(4, 200)),
        genes,
        [f"p{i}" for i in range(4)],
        sets,
        n_jobs=2,
        permutation_num=100,
    )
    assert set(table["patient_id"]) == {"p0", "p1", "p2", "p3"}
    assert _workers() <= before  # joblib's idle workers would otherwise live 300 s more
